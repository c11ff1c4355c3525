// Package testenv starts what the suites under test/ share: a Kubernetes
// control plane built from source (envtest) with the project's CRDs, an admin
// kubectl, and a manager running the PaymentMigration reconciler with its log
// in a file.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/controllers"
	webhookv1alpha1 "github.com/tapstack/payment-migration-operator/internal/webhook/v1alpha1"
)

// ControlPlane is a running kube-apiserver and etcd with the CRDs installed.
type ControlPlane struct {
	Config *rest.Config
	Scheme *k8sruntime.Scheme
	// Kubectl runs the kubectl built with the control plane as an administrator.
	Kubectl func(args ...string) (stdout, stderr io.Reader, err error)
	env     *envtest.Environment
}

// Options choose what a control plane runs besides the CRDs.
type Options struct {
	// Webhooks installs the admission webhooks of config/webhook, pointed at
	// a local port with a generated serving certificate (WebhookServer). Their
	// failurePolicy is Fail: until something serves them, the API server
	// refuses every create and update of a PaymentMigration.
	Webhooks bool
	// MigrationSelector limits the PaymentMigrations the manager's cache
	// holds, and so reconciles, to those its label selector matches; every
	// one when empty.
	MigrationSelector string
}

// StartControlPlane starts kube-apiserver and etcd from KUBEBUILDER_ASSETS
// (`make integration` sets it) and installs the project's CRDs.
func StartControlPlane() (*ControlPlane, error) {
	return StartControlPlaneWith(Options{})
}

// StartControlPlaneWith is StartControlPlane with the given options.
func StartControlPlaneWith(o Options) (*ControlPlane, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run these suites with `make integration` (it builds kube-apiserver and etcd once per machine)")
	}
	env := &envtest.Environment{
		// The ACK controllers' CRDs, as an existing source names its objects.
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "config", "crd", "bases"), filepath.Join(repoRoot(), "test", "testdata", "ack-crds")},
		ErrorIfCRDPathMissing: true,
	}
	if o.Webhooks {
		env.WebhookInstallOptions.Paths = []string{filepath.Join(repoRoot(), "config", "webhook", "manifests.yaml")}
	}
	cfg, err := env.Start()
	if err != nil {
		// Start can fail after launching etcd and kube-apiserver (a CRD the
		// API server refuses): stop them, or they outlive the test binary.
		_ = env.Stop()
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	cp := &ControlPlane{Config: cfg, env: env, Scheme: k8sruntime.NewScheme()}
	if err := errors.Join(clientgoscheme.AddToScheme(cp.Scheme), paymentsv1alpha1.AddToScheme(cp.Scheme)); err != nil {
		cp.Stop()
		return nil, err
	}
	admin, err := env.AddUser(envtest.User{Name: "test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		cp.Stop()
		return nil, fmt.Errorf("creating an admin user: %w", err)
	}
	kc, err := admin.Kubectl()
	if err != nil {
		cp.Stop()
		return nil, fmt.Errorf("configuring kubectl: %w", err)
	}
	cp.Kubectl = kc.Run
	return cp, nil
}

// WebhookServer is where the API server calls the webhooks installed with
// Options.Webhooks: the host, port and certificate directory to serve them.
func (cp *ControlPlane) WebhookServer() webhook.Options {
	w := cp.env.WebhookInstallOptions
	return webhook.Options{Host: w.LocalServingHost, Port: w.LocalServingPort, CertDir: w.LocalServingCertDir}
}

// Stop stops the control plane.
func (cp *ControlPlane) Stop() {
	if err := cp.env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
}

// Manager is a control plane plus a manager running the reconciler.
type Manager struct {
	*ControlPlane
	Manager ctrl.Manager
	// LogPath holds the manager's log: long, and only worth reading when a
	// test failed.
	LogPath string
	cancel  context.CancelFunc
	done    chan error
	logFile *os.File
}

// StartManager starts a control plane and a manager running r; it fills in
// r's Client and Recorder.
func StartManager(r *controllers.PaymentMigrationReconciler) (*Manager, error) {
	return StartManagerWith(r, Options{})
}

// StartManagerWith is StartManager with the given options; with Webhooks the
// manager serves them, as cmd/manager does, and is ready once it does.
func StartManagerWith(r *controllers.PaymentMigrationReconciler, o Options) (*Manager, error) {
	cp, err := StartControlPlaneWith(o)
	if err != nil {
		return nil, err
	}
	logFile, err := os.CreateTemp("", "manager-*.log")
	if err != nil {
		cp.Stop()
		return nil, err
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logFile)))
	opts := ctrl.Options{Scheme: cp.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}}
	if o.Webhooks {
		opts.WebhookServer = webhook.NewServer(cp.WebhookServer())
	}
	if o.MigrationSelector != "" {
		sel, err := labels.Parse(o.MigrationSelector)
		if err != nil {
			cp.Stop()
			return nil, fmt.Errorf("the migration selector: %w", err)
		}
		opts.Cache.ByObject = map[client.Object]cache.ByObject{&paymentsv1alpha1.PaymentMigration{}: {Label: sel}}
	}
	mgr, err := ctrl.NewManager(cp.Config, opts)
	if err != nil {
		cp.Stop()
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if o.Webhooks {
		if err := webhookv1alpha1.SetupPaymentMigrationWebhookWithManager(mgr); err != nil {
			cp.Stop()
			return nil, fmt.Errorf("registering the webhooks: %w", err)
		}
	}
	r.Client = mgr.GetClient()
	r.Recorder = mgr.GetEventRecorder("payment-migration-operator")
	r.APIReader = mgr.GetAPIReader()
	if err := r.SetupWithManager(mgr); err != nil {
		cp.Stop()
		return nil, fmt.Errorf("registering the controller: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{ControlPlane: cp, Manager: mgr, LogPath: logFile.Name(), cancel: cancel, done: make(chan error, 1), logFile: logFile}
	go func() { m.done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		m.Stop()
		return nil, errors.New("the manager's cache did not sync")
	}
	if o.Webhooks {
		if err := WaitServing(mgr.GetWebhookServer(), 30*time.Second); err != nil {
			m.Stop()
			return nil, err
		}
	}
	return m, nil
}

// WaitServing waits until srv accepts TLS connections: before that, the
// API server refuses every write its webhooks intercept.
func WaitServing(srv webhook.Server, timeout time.Duration) error {
	check := srv.StartedChecker()
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = check(nil); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the webhook server did not start within %s: %w", timeout, err)
}

// Stop stops the manager, then the control plane.
func (m *Manager) Stop() {
	m.cancel()
	<-m.done
	_ = m.logFile.Close()
	m.ControlPlane.Stop()
}

// repoRoot is the module root, found from this file's location so that every
// suite, whatever its directory, loads the same CRDs.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Eventually polls cond every interval until it holds, and fails the test when
// timeout passes first, with the last error cond returned.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(interval)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}
