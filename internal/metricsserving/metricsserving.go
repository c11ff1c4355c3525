// Package metricsserving configures the manager's metrics endpoint as
// kubebuilder v4 scaffolds it: HTTPS, and every scrape authenticated
// (TokenReview) and authorized (SubjectAccessReview: get on the non-resource
// URL /metrics) by the API server, so only a client whose identity is bound
// to the metrics-reader ClusterRole (config/rbac) reads the operator's
// figures. The manager itself needs the metrics-auth-role to ask.
package metricsserving

import (
	"crypto/tls"
	"flag"
	"fmt"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// DefaultBindAddress is the HTTPS port the Service of config/default exposes.
const DefaultBindAddress = ":8443"

// Options are the manager's metrics flags.
type Options struct {
	// BindAddress is where the endpoint listens; "0" disables it.
	BindAddress string
	// Secure serves HTTPS with authentication and authorization; false serves
	// plain, open HTTP (for a local run only).
	Secure bool
	// CertPath is the directory of the serving certificate (CertName, CertKey),
	// reloaded when it changes; empty: a self-signed certificate.
	CertPath, CertName, CertKey string
	// EnableHTTP2 is off by default: HTTP/2's stream handling has been the
	// way in for denial-of-service attacks (CVE-2023-44487, CVE-2023-39325).
	EnableHTTP2 bool
}

// BindFlags registers the flags kubebuilder scaffolds.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.BindAddress, "metrics-bind-address", DefaultBindAddress, "Address the metrics endpoint binds to (HTTPS with --metrics-secure); 0 disables it.")
	fs.BoolVar(&o.Secure, "metrics-secure", true, "Serve metrics over HTTPS, only to clients the API server authenticates and authorizes for get on /metrics (the metrics-reader ClusterRole). --metrics-secure=false serves plain, open HTTP.")
	fs.StringVar(&o.CertPath, "metrics-cert-path", "", "Directory holding the metrics server's certificate and key; empty: a self-signed certificate.")
	fs.StringVar(&o.CertName, "metrics-cert-name", "tls.crt", "File name of the metrics server's certificate in --metrics-cert-path.")
	fs.StringVar(&o.CertKey, "metrics-cert-key", "tls.key", "File name of the metrics server's key in --metrics-cert-path.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "Serve metrics over HTTP/2 as well as HTTP/1.1.")
}

// Server is the controller-runtime metrics server configuration of o, and the
// certificate watcher to run with the manager when CertPath is set (nil
// otherwise).
func (o Options) Server() (metricsserver.Options, *certwatcher.CertWatcher, error) {
	opts := metricsserver.Options{BindAddress: o.BindAddress, SecureServing: o.Secure}
	if !o.EnableHTTP2 {
		opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if !o.Secure {
		return opts, nil, nil
	}
	opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	if o.CertPath == "" {
		return opts, nil, nil
	}
	watcher, err := certwatcher.New(filepath.Join(o.CertPath, o.CertName), filepath.Join(o.CertPath, o.CertKey))
	if err != nil {
		return metricsserver.Options{}, nil, fmt.Errorf("loading the metrics certificate from %s: %w", o.CertPath, err)
	}
	opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.GetCertificate = watcher.GetCertificate })
	return opts, watcher, nil
}
