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

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/controllers"
)

// ControlPlane is a running kube-apiserver and etcd with the CRDs installed.
type ControlPlane struct {
	Config *rest.Config
	Scheme *k8sruntime.Scheme
	// Kubectl runs the kubectl built with the control plane as an administrator.
	Kubectl func(args ...string) (stdout, stderr io.Reader, err error)
	env     *envtest.Environment
}

// StartControlPlane starts kube-apiserver and etcd from KUBEBUILDER_ASSETS
// (`make integration` sets it) and installs the project's CRDs.
func StartControlPlane() (*ControlPlane, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run these suites with `make integration` (it builds kube-apiserver and etcd once per machine)")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
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
	cp, err := StartControlPlane()
	if err != nil {
		return nil, err
	}
	logFile, err := os.CreateTemp("", "manager-*.log")
	if err != nil {
		cp.Stop()
		return nil, err
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logFile)))
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{Scheme: cp.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		cp.Stop()
		return nil, fmt.Errorf("creating the manager: %w", err)
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
	return m, nil
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
