// Package controller_test runs the manager's reconciler against a real
// kube-apiserver and etcd (envtest), with AWS scripted by a fake.
package controller_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/test/testenv"
)

const defaultRegion = "eu-central-1"

// reconcileTimeout is the suite's deadline of one reconcile.
const reconcileTimeout = 2 * time.Second

var (
	k8s client.Client
	// restConfig is the suite's administrator, for clients acting as other
	// users (impersonation).
	restConfig *rest.Config
	cloud      = newFakeCloud()
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	// With the admission webhooks, as installed: approvals are stamped with
	// the approving user, and every write goes through them.
	// restart_test.go runs managers of its own for the migrations it labels
	// isolatedLabel; the suite's manager leaves those alone.
	env, err := testenv.StartManagerWith(newReconciler(kills.hooks()), testenv.Options{Webhooks: true, MigrationSelector: "!" + isolatedLabel})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	// The tests read the API server itself, in every namespace, not the
	// manager's cache.
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Manager.GetScheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	restConfig = env.Config
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "manager log:", env.LogPath)
	}
	return code
}

// newReconciler is the reconciler every manager of the suite runs: the
// scripted AWS, timings in milliseconds, and the given cutover hooks.
func newReconciler(hooks *controllers.CutoverHooks) *controllers.PaymentMigrationReconciler {
	return &controllers.PaymentMigrationReconciler{
		AWS:        cloud.factory(),
		Synthesize: controllers.SynthesizeTapStack,
		Timing: controllers.Timing{Fast: 50 * time.Millisecond, Slow: time.Hour, FullLoad: 50 * time.Millisecond,
			Replicating: 50 * time.Millisecond, Validation: 0, MaxCreateAttempts: 3},
		DefaultRegion:    defaultRegion,
		Workers:          4,
		ReconcileTimeout: reconcileTimeout,
		CutoverHooks:     hooks,
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, 100*time.Millisecond, what, cond)
}
