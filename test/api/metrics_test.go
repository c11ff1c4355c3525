package api_test

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/tapstack/payment-migration-operator/internal/metricsserving"
	"github.com/tapstack/payment-migration-operator/test/testenv"
)

// The manager's metrics endpoint, configured as cmd/manager configures it
// (metricsserving, defaults), against the real API server: the server runs
// with the token of a service account holding only config/rbac's
// metrics-auth-role, as the manager's does. A scrape without a token is
// refused (401), one by a service account without metrics-reader is
// forbidden (403), one by a service account bound to metrics-reader is served.
func TestMetricsAreServedOnlyToAuthorizedScrapers(t *testing.T) {
	ctx := ctx(t)
	cs, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "metrics-auth"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The ClusterRoles exactly as config/rbac ships them (under test names).
	authRole := clusterRoleFromFile(t, ctx, cs, "metrics_auth_role.yaml")
	readerRole := clusterRoleFromFile(t, ctx, cs, "metrics_reader_role.yaml")
	managerToken := serviceAccountToken(t, ctx, cs, ns, "manager", authRole)
	scraperToken := serviceAccountToken(t, ctx, cs, ns, "scraper", readerRole)
	strangerToken := serviceAccountToken(t, ctx, cs, ns, "stranger", "")

	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: "payment_migration_metrics_auth_probe", Help: "test probe"})
	probe.Set(1)
	if err := metrics.Registry.Register(probe); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { metrics.Registry.Unregister(probe) })

	// The flags as the manager parses them, on a free port of this host.
	var o metricsserving.Options
	o.BindFlags(flag.NewFlagSet("manager", flag.ContinueOnError))
	o.BindAddress = freeAddress(t)
	opts, _, err := o.Server()
	if err != nil {
		t.Fatal(err)
	}
	managerCfg := rest.AnonymousClientConfig(cp.Config)
	managerCfg.BearerToken = managerToken
	httpClient, err := rest.HTTPClientFor(managerCfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metricsserver.NewServer(opts, managerCfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(serveCtx) }()
	t.Cleanup(func() { stop(); <-done })

	scrape := func(token string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+o.BindAddress+"/metrics", nil)
		if err != nil {
			return 0, "", err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// The certificate is self-signed (no --metrics-cert-path).
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, "the metrics server to listen", func() (bool, error) {
		_, _, err := scrape("")
		return err == nil, nil
	})
	// Plain HTTP is not served at all.
	if resp, err := http.Get("http://" + o.BindAddress + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP scrape served")
		}
	}
	for _, c := range []struct {
		who, token string
		want       []int
	}{
		{"no token", "", []int{http.StatusUnauthorized}},
		// The API server's TokenReview reports a malformed token as an
		// error, which controller-runtime's filter answers with 500: refused
		// all the same.
		{"an invalid token", "not-a-token", []int{http.StatusUnauthorized, http.StatusInternalServerError}},
		{"a service account without metrics-reader", strangerToken, []int{http.StatusForbidden}},
		{"a service account bound to metrics-reader", scraperToken, []int{http.StatusOK}},
	} {
		code, body, err := scrape(c.token)
		if err != nil {
			t.Errorf("%s: %v", c.who, err)
			continue
		}
		if !slices.Contains(c.want, code) {
			t.Errorf("%s: status %d, want %v: %s", c.who, code, c.want, body)
		}
		served := strings.Contains(body, "payment_migration_metrics_auth_probe 1")
		if served != (code == http.StatusOK) || (code == http.StatusOK) != (c.want[0] == http.StatusOK) {
			t.Errorf("%s: status %d, metrics in the answer %v", c.who, code, served)
		}
	}
}

// clusterRoleFromFile creates config/rbac/<file>'s ClusterRole under a test name.
func clusterRoleFromFile(t *testing.T, ctx context.Context, cs kubernetes.Interface, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", file))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatal(err)
	}
	role.Name = "test-" + role.Name
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return role.Name
}

// serviceAccountToken creates a service account, binds it to clusterRole
// (none when empty) and returns a token of it.
func serviceAccountToken(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name, clusterRole string) string {
	t.Helper()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if clusterRole != "" {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("test-%s-%s", ns, name)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status.Token == "" {
		t.Fatal(errors.New("empty token"))
	}
	return tr.Status.Token
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
