package webhookserving

import (
	"crypto/tls"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

func parse(t *testing.T, args ...string) Options {
	t.Helper()
	var o Options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

// The defaults are what config/default deploys: port 9443, the certificate
// where the patch mounts cert-manager's Secret.
func TestDefaultsMatchTheManifests(t *testing.T) {
	o := parse(t)
	if !o.Enabled() || o.Port != 9443 || o.CertDir != "/tmp/k8s-webhook-server/serving-certs" || o.CertName != "tls.crt" || o.KeyName != "tls.key" {
		t.Errorf("defaults %+v", o)
	}
	patch, err := os.ReadFile(filepath.Join("..", "..", "config", "default", "manager_webhook_patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mountPath: " + DefaultCertDir, "containerPort: 9443"} {
		if !strings.Contains(string(patch), want) {
			t.Errorf("config/default/manager_webhook_patch.yaml does not have %q", want)
		}
	}
}

func TestZeroDisablesTheWebhooks(t *testing.T) {
	o := parse(t, "--webhook-port=0", "--webhook-cert-dir=/nonexistent")
	srv, err := o.Server()
	if o.Enabled() || srv != nil || err != nil {
		t.Errorf("--webhook-port=0: enabled %v server %v err %v", o.Enabled(), srv, err)
	}
}

func TestAMissingCertificateIsAnErrorNamingTheWayOut(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := parse(t, "--webhook-cert-dir="+dir).Server()
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "tls.key")) || !strings.Contains(err.Error(), "--webhook-port=0") {
		t.Errorf("err = %v, want the missing key named and --webhook-port=0 offered", err)
	}
	if _, err := parse(t, "--webhook-port=70000", "--webhook-cert-dir="+dir).Server(); err == nil {
		t.Error("port 70000 accepted")
	}
}

func TestServerServesTheCertificateDirOnHTTP1(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := parse(t, "--webhook-port=10250", "--webhook-host=127.0.0.1", "--webhook-cert-dir="+dir,
		"--webhook-cert-name=cert.pem", "--webhook-cert-key=key.pem").Server()
	if err != nil {
		t.Fatal(err)
	}
	opts := srv.(*webhook.DefaultServer).Options
	if opts.Port != 10250 || opts.Host != "127.0.0.1" || opts.CertDir != dir || opts.CertName != "cert.pem" || opts.KeyName != "key.pem" {
		t.Errorf("server options %+v", opts)
	}
	cfg := &tls.Config{}
	for _, f := range opts.TLSOpts {
		f(cfg)
	}
	if !reflect.DeepEqual(cfg.NextProtos, []string{"http/1.1"}) {
		t.Errorf("NextProtos = %v, want HTTP/1.1 only", cfg.NextProtos)
	}
}
