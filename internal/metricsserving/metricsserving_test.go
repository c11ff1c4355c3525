package metricsserving

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
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

func isAuthFilter(t *testing.T, f any) bool {
	t.Helper()
	return f != nil && !reflect.ValueOf(f).IsNil() &&
		reflect.ValueOf(f).Pointer() == reflect.ValueOf(filters.WithAuthenticationAndAuthorization).Pointer()
}

// By default the endpoint is HTTPS on 8443, behind the API server's
// authentication and authorization, on HTTP/1.1 only.
func TestDefaultsServeSecurelyWithAuthenticationAndAuthorization(t *testing.T) {
	o := parse(t)
	opts, watcher, err := o.Server()
	if err != nil {
		t.Fatal(err)
	}
	if opts.BindAddress != ":8443" || !opts.SecureServing || watcher != nil {
		t.Errorf("bind %q secure %v watcher %v, want :8443, secure, a self-signed certificate", opts.BindAddress, opts.SecureServing, watcher)
	}
	if !isAuthFilter(t, opts.FilterProvider) {
		t.Error("FilterProvider is not filters.WithAuthenticationAndAuthorization: scrapes would be served to anyone")
	}
	cfg := &tls.Config{}
	for _, f := range opts.TLSOpts {
		f(cfg)
	}
	if !reflect.DeepEqual(cfg.NextProtos, []string{"http/1.1"}) {
		t.Errorf("NextProtos = %v, want HTTP/1.1 only", cfg.NextProtos)
	}
}

func TestInsecureIsPlainHTTPWithoutFilterAndZeroDisables(t *testing.T) {
	opts, _, err := parse(t, "--metrics-secure=false", "--metrics-bind-address=:8080").Server()
	if err != nil {
		t.Fatal(err)
	}
	if opts.SecureServing || opts.FilterProvider != nil || opts.BindAddress != ":8080" {
		t.Errorf("insecure: secure %v filter set %v bind %q", opts.SecureServing, opts.FilterProvider != nil, opts.BindAddress)
	}
	// The demo's --metrics-bind-address=0 still disables the endpoint.
	if opts, _, err := parse(t, "--metrics-bind-address=0").Server(); err != nil || opts.BindAddress != "0" {
		t.Errorf("disabled: bind %q err %v", opts.BindAddress, err)
	}
}

func TestCertPathServesThatCertificateAndReloadsIt(t *testing.T) {
	dir := t.TempDir()
	writeCertificate(t, dir)
	opts, watcher, err := parse(t, "--metrics-cert-path="+dir, "--enable-http2").Server()
	if err != nil {
		t.Fatal(err)
	}
	if watcher == nil || !isAuthFilter(t, opts.FilterProvider) {
		t.Fatalf("watcher %v, auth filter %v", watcher, isAuthFilter(t, opts.FilterProvider))
	}
	cfg := &tls.Config{}
	for _, f := range opts.TLSOpts {
		f(cfg)
	}
	if cfg.GetCertificate == nil || cfg.NextProtos != nil {
		t.Errorf("GetCertificate set %v, NextProtos %v (want the watcher's certificate, HTTP/2 allowed)", cfg.GetCertificate != nil, cfg.NextProtos)
	}
	if _, _, err := parse(t, "--metrics-cert-path="+filepath.Join(dir, "missing")).Server(); err == nil {
		t.Error("a missing certificate directory was accepted")
	}
}

// writeCertificate writes a self-signed tls.crt and tls.key into dir.
func writeCertificate(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "metrics"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"tls.crt": {Type: "CERTIFICATE", Bytes: der}, "tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
