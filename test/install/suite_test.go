// Package install_test installs config/default, as `kubectl apply -k
// config/default` does, into a real kube-apiserver and etcd (envtest) and
// checks what it creates: the Deployment as a cluster would run it, and RBAC
// that lets the manager's service account do exactly what the manager does,
// recorded while the real reconciler runs a migration through its phases as
// that service account.
package install_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

var (
	install *rendered
	// adminConfig and admin are the cluster's administrator, who installs.
	adminConfig *rest.Config
	admin       client.Client
	scheme      = runtime.NewScheme()
	// skipped are the objects the test API server cannot take, by reason.
	skipped = map[string]string{}
	// warned are the warnings the API server answered applying each object
	// with: Pod Security (the namespace enforces restricted and warns of a
	// template that breaks it) and deprecated APIs.
	warned = map[string][]string{}
	// logPath holds the manager's log, worth reading when a test failed.
	logPath string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), apiextensionsv1.AddToScheme(scheme), paymentsv1alpha1.AddToScheme(scheme)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var err error
	if install, err = render(installDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run this suite with `make integration` (it builds kube-apiserver and etcd once per machine)")
		return 1
	}
	logFile, err := os.CreateTemp("", "install-manager-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = logFile.Close() }()
	logPath = logFile.Name()
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logFile)))

	// None of the project's CRDs preinstalled: the install brings its own.
	// The ACK controllers' are, as in a cluster where an existing source is
	// managed by ACK.
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "testdata", "ack-crds")}, ErrorIfCRDPathMissing: true}
	if adminConfig, err = env.Start(); err != nil {
		_ = env.Stop()
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if admin, err = client.New(adminConfig, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := apply(ctx, install); err != nil {
		fmt.Fprintln(os.Stderr, "installing config/default:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "manager log:", logPath)
	}
	return code
}

// apply installs every object as `kubectl apply --server-side` would, in
// kustomize's order (namespace and CRD first). Two kinds of object cannot be
// kept here, and are still sent to the API server:
//   - cert-manager's Issuer and Certificate: cert-manager (a prerequisite,
//     README) is not installed in the test API server, so their kinds are
//     not served; they are skipped only when that is the reason.
//   - the MutatingWebhookConfiguration is applied with dryRun=All: the API
//     server validates and admits it, but stored it would send every write of
//     a PaymentMigration to a Service that has no endpoints here
//     (failurePolicy Fail). test/webhook serves the webhook itself.
func apply(ctx context.Context, r *rendered) error {
	w := &warnings{}
	cfg := rest.CopyConfig(adminConfig)
	cfg.WarningHandlerWithContext = w
	installer, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	for _, obj := range r.objects {
		opts := []client.ApplyOption{client.FieldOwner("kubectl"), client.ForceOwnership}
		if obj.GetKind() == "MutatingWebhookConfiguration" {
			opts = append(opts, client.DryRunAll)
		}
		err := installer.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), opts...)
		if got := w.take(); len(got) > 0 {
			warned[describe(obj)] = got
		}
		if meta.IsNoMatchError(err) && obj.GroupVersionKind().Group == "cert-manager.io" {
			skipped[describe(obj)] = "cert-manager is not installed in the test API server"
			continue
		}
		if err != nil {
			return fmt.Errorf("applying %s: %w", describe(obj), err)
		}
		if obj.GetKind() == "CustomResourceDefinition" {
			if err := waitEstablished(ctx, obj.GetName()); err != nil {
				return err
			}
		}
	}
	return nil
}

func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return obj.GetKind() + " " + obj.GetName()
}

func waitEstablished(ctx context.Context, name string) error {
	for {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := admin.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return fmt.Errorf("reading CRD %s: %w", name, err)
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// warnings collects the API server's warnings (rest.WarningHandlerWithContext).
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
	out := w.list
	w.list = nil
	return out
}
