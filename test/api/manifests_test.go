package api_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The install manifests (kubectl apply -k config/default) must be accepted by a
// real API server: a typo in RBAC or the Deployment would otherwise surface only
// on a user's cluster.
func TestInstallManifestsAreAccepted(t *testing.T) {
	rendered, stderr, err := cp.Kubectl("kustomize", filepath.Join("..", "..", "config", "default"))
	if err != nil {
		t.Fatalf("kustomize config/default: %v\n%s", err, readAll(stderr))
	}
	manifests := filepath.Join(t.TempDir(), "install.yaml")
	if err := os.WriteFile(manifests, []byte(readAll(rendered)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The webhook's certificate is cert-manager's kind: the cluster has it
	// before the install, as the README says.
	certManagerKinds := filepath.Join("testdata", "cert-manager-kinds.yaml")
	if _, stderr, err := cp.Kubectl("apply", "-f", certManagerKinds); err != nil {
		t.Fatalf("installing cert-manager's kinds: %v\n%s", err, readAll(stderr))
	}
	if _, stderr, err := cp.Kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", certManagerKinds); err != nil {
		t.Fatalf("waiting for cert-manager's kinds: %v\n%s", err, readAll(stderr))
	}
	// The namespace must exist for a server-side dry run of namespaced objects.
	if _, stderr, err := cp.Kubectl("create", "namespace", "payment-migration-system"); err != nil {
		t.Fatalf("creating namespace: %v\n%s", err, readAll(stderr))
	}
	out, stderr, err := cp.Kubectl("apply", "--dry-run=server", "-f", manifests)
	if err != nil {
		t.Fatalf("install manifests rejected: %v\n%s", err, readAll(stderr))
	}
	got := readAll(out)
	for _, want := range []string{
		"customresourcedefinition.apiextensions.k8s.io/paymentmigrations.payments.tapstack.io",
		"clusterrole.rbac.authorization.k8s.io/payment-migration-manager-role",
		"deployment.apps/payment-migration-controller-manager",
		"role.rbac.authorization.k8s.io/payment-migration-leader-election",
		// The authenticated metrics endpoint: the manager may ask who a
		// scraper is and whether it may read, a scraper needs metrics-reader,
		// and a Service exposes the HTTPS port.
		"clusterrole.rbac.authorization.k8s.io/payment-migration-metrics-auth-role",
		"clusterrolebinding.rbac.authorization.k8s.io/payment-migration-metrics-auth-rolebinding",
		"clusterrole.rbac.authorization.k8s.io/payment-migration-metrics-reader",
		"service/payment-migration-controller-manager-metrics-service",
		// The approval webhook, its Service and its serving certificate.
		"mutatingwebhookconfiguration.admissionregistration.k8s.io/payment-migration-mutating-webhook-configuration",
		"service/payment-migration-webhook-service",
		"issuer.cert-manager.io/payment-migration-selfsigned-issuer",
		"certificate.cert-manager.io/payment-migration-serving-cert",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run did not apply %s:\n%s", want, got)
		}
	}
}

func readAll(r io.Reader) string {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Sprintf("<unreadable: %v>", err)
	}
	return string(b)
}
