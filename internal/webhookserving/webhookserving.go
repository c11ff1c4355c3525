// Package webhookserving configures the manager's admission webhook server:
// HTTPS on a port the Service of config/webhook reaches, with the serving
// certificate cert-manager writes into a Secret that the Deployment mounts
// (config/certmanager, config/default/manager_webhook_patch.yaml).
package webhookserving

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

const (
	// DefaultPort is the container port the webhook Service targets.
	DefaultPort = 9443
	// DefaultCertDir is where config/default mounts the certificate's
	// Secret (and controller-runtime's own default on Linux).
	DefaultCertDir = "/tmp/k8s-webhook-server/serving-certs"
)

// Options are the manager's webhook flags.
type Options struct {
	// Port is where the server listens; 0 disables the webhooks.
	Port int
	// Host is the address to bind; empty binds every address.
	Host string
	// CertDir holds CertName and KeyName, reloaded when they change (a
	// certificate renewed by cert-manager is served without a restart).
	CertDir, CertName, KeyName string
}

// BindFlags registers the webhook flags.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.Port, "webhook-port", DefaultPort, "Port of the admission webhook that records who approves a cutover (config/webhook); 0 disables it, and approvals are then recorded with an unknown approver.")
	fs.StringVar(&o.Host, "webhook-host", "", "Address the admission webhook binds to; empty: every address.")
	fs.StringVar(&o.CertDir, "webhook-cert-dir", DefaultCertDir, "Directory holding the webhook's serving certificate and key (the cert-manager Secret config/default mounts).")
	fs.StringVar(&o.CertName, "webhook-cert-name", "tls.crt", "File name of the webhook's certificate in --webhook-cert-dir.")
	fs.StringVar(&o.KeyName, "webhook-cert-key", "tls.key", "File name of the webhook's key in --webhook-cert-dir.")
}

// Enabled: the manager serves its webhooks.
func (o Options) Enabled() bool { return o.Port != 0 }

// Server is the webhook server of o; nil when disabled. A missing
// certificate is an error here, naming the way out, rather than a failed
// start of the manager.
func (o Options) Server() (webhook.Server, error) {
	if !o.Enabled() {
		return nil, nil
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("--webhook-port %d: want 1-65535, or 0 to disable the webhooks", o.Port)
	}
	for _, f := range []string{o.CertName, o.KeyName} {
		if _, err := os.Stat(filepath.Join(o.CertDir, f)); err != nil {
			return nil, fmt.Errorf("the webhook's serving certificate: %w (mount it in --webhook-cert-dir, as config/default does from cert-manager, or run with --webhook-port=0 without the approval webhook)", err)
		}
	}
	return webhook.NewServer(webhook.Options{
		Host: o.Host, Port: o.Port, CertDir: o.CertDir, CertName: o.CertName, KeyName: o.KeyName,
		// HTTP/1.1 only, as for the metrics endpoint: HTTP/2's stream
		// handling has been the way in for denial-of-service attacks
		// (CVE-2023-44487, CVE-2023-39325), and the API server needs none of it.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}), nil
}
