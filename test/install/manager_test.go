package install_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/metricsserving"
)

// leaderElectionID is cmd/manager's. RBAC does not depend on it (a Role
// cannot limit create to a resource name); it names the test's Lease.
const leaderElectionID = "payment-migration-operator.payments.tapstack.io"

// runningManager is a manager wired as cmd/manager wires it (leader
// election, the authenticated metrics endpoint, the reconciler with its
// event recorder and API reader), authenticated as a service account. The
// approval webhook, which makes no API request, is test/webhook's subject.
type runningManager struct {
	metricsAddr string
	cancel      context.CancelFunc
	done        chan error
}

// tokenFor is a bound token of a service account, as the kubelet mounts one
// into the manager's pods.
func tokenFor(ctx context.Context, sa *corev1.ServiceAccount) (string, error) {
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	if err := admin.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", fmt.Errorf("requesting a token of %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return tr.Status.Token, nil
}

// configAs is a client configuration that authenticates with token only.
func configAs(token string, wrap func(http.RoundTripper) http.RoundTripper) *rest.Config {
	cfg := rest.AnonymousClientConfig(adminConfig)
	cfg.BearerToken = token
	cfg.WrapTransport = wrap
	return cfg
}

// startManager runs the manager as sa until stop; requests go through rec.
func startManager(ctx context.Context, sa *corev1.ServiceAccount, rec *recorder, cloud *fakeCloud) (*runningManager, error) {
	token, err := tokenFor(ctx, sa)
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metricsServer, _, err := metricsserving.Options{BindAddress: metricsAddr, Secure: true}.Server()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(configAs(token, rec.wrap), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsServer,
		HealthProbeBindAddress: "0",
		LeaderElection:         true,
		LeaderElectionID:       leaderElectionID,
		// In a pod, the namespace of the mounted service account token.
		LeaderElectionNamespace: sa.Namespace,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	r := &controllers.PaymentMigrationReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder("payment-migration-operator"),
		AWS:        cloud.factory(),
		Synthesize: controllers.SynthesizeTapStack,
		Timing: controllers.Timing{Fast: 50 * time.Millisecond, Slow: time.Hour, FullLoad: 50 * time.Millisecond,
			Replicating: 50 * time.Millisecond, Validation: 0, MaxCreateAttempts: 3},
		DefaultRegion:    "us-east-1",
		Metrics:          controllers.NewMigrationMetrics(metrics.Registry),
		Workers:          2,
		ReconcileTimeout: 5 * time.Second,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("registering the controller: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	m := &runningManager{metricsAddr: metricsAddr, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(runCtx) }()
	select {
	case <-mgr.Elected():
		return m, nil
	case err := <-m.done:
		cancel()
		return nil, fmt.Errorf("the manager stopped before it was elected: %w", err)
	case <-time.After(30 * time.Second):
		m.stop()
		return nil, errors.New("the manager was not elected leader within 30s")
	}
}

// stop stops the manager and waits for it, so every request it made
// (Events are sent asynchronously) has been recorded.
func (m *runningManager) stop() {
	m.cancel()
	<-m.done
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	var lastErr error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}
