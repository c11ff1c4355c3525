// Package webhook_test runs the approval webhook against a real kube-apiserver
// and etcd (envtest): the API server calls it over TLS, as config/webhook
// configures it, for every create and update of a PaymentMigration, and the
// requests are made as users the API server authenticates (impersonated), so
// what is stamped is what the API server says about the requester.
package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	webhookv1alpha1 "github.com/tapstack/payment-migration-operator/internal/webhook/v1alpha1"
	"github.com/tapstack/payment-migration-operator/test/testenv"
)

// editors is the group the suite's users are in; it may edit
// PaymentMigrations and their status, and nothing else.
const editors = "payments-team"

var (
	cp    *testenv.ControlPlane
	admin client.Client
	// running is the webhook server now serving, restartable by a test.
	running *server
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	logFile, err := os.CreateTemp("", "webhook-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = logFile.Close() }()
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logFile)))
	cp, err = testenv.StartControlPlaneWith(testenv.Options{Webhooks: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()
	if admin, err = client.New(cp.Config, client.Options{Scheme: cp.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "creating the admin client:", err)
		return 1
	}
	if err := grantEditors(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if running, err = serve(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if running != nil { // a test that stopped it restarts it
			_ = running.stop()
		}
	}()
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "webhook log:", logFile.Name())
	}
	return code
}

// grantEditors lets the editors group do what a migration's owners do:
// edit migrations, and (to show that it changes nothing) their status.
func grantEditors(ctx context.Context) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "paymentmigration-editor"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{paymentsv1alpha1.GroupVersion.Group}, Resources: []string{"paymentmigrations"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{paymentsv1alpha1.GroupVersion.Group}, Resources: []string{"paymentmigrations/status"}, Verbs: []string{"get", "update", "patch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "paymentmigration-editors"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: editors}},
	}
	if err := errors.Join(admin.Create(ctx, role), admin.Create(ctx, binding)); err != nil {
		return fmt.Errorf("granting the editors group: %w", err)
	}
	return nil
}

// server is one run of the webhook server, on the port and with the
// certificate the API server was configured with.
type server struct {
	cancel context.CancelFunc
	done   chan error
}

// serve starts the webhook as cmd/manager registers it.
func serve() (*server, error) {
	srv := webhook.NewServer(cp.WebhookServer())
	webhookv1alpha1.Register(srv, &webhookv1alpha1.ApprovalStamper{})
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Start(ctx) }()
	if err := testenv.WaitServing(srv, 30*time.Second); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) stop() error {
	s.cancel()
	return <-s.done
}

// warnings collects the warnings the API server sent one client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// user is a client that the API server authenticates as name (UID uid), in
// the editors group, through the admin's impersonation.
type user struct {
	client.Client
	name, uid string
	warnings  *warnings
}

func as(t *testing.T, name, uid string) *user {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name, UID: uid, Groups: []string{editors}}
	w := &warnings{}
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: cp.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &user{Client: c, name: name, uid: uid, warnings: w}
}

// calls is how many admission requests the webhook has answered, from
// controller-runtime's own request counter of the served path.
func calls(t *testing.T) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" && l.GetValue() == webhookv1alpha1.MutatePath {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}
