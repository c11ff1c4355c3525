package controller_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
)

// The kill-point tests of cutover_test.go end one reconcile where a crash
// would; the reconciler that carries on keeps what it held in memory. These
// stop the whole manager at the same points and start a new one: a new
// reconciler, cache, SQL sessions and pollers, with only the API server and
// AWS (the fakes) remembering what happened.

// crashPoint stops its manager before or after the at-th cutover action
// (counted from 0), once.
type crashPoint struct {
	at    int
	after bool

	mu      sync.Mutex
	seen    int
	hit     string
	crashed chan struct{}
	// gone ends when the manager that hit the point has stopped.
	gone <-chan struct{}
}

func newCrashPoint(at int, after bool) *crashPoint {
	return &crashPoint{at: at, after: after, crashed: make(chan struct{})}
}

func (c *crashPoint) hooks() *controllers.CutoverHooks {
	check := func(after bool) func(context.Context, *paymentsv1alpha1.PaymentMigration, cutover.Action) error {
		return func(_ context.Context, _ *paymentsv1alpha1.PaymentMigration, a cutover.Action) error {
			c.mu.Lock()
			if c.hit != "" || c.after != after {
				c.mu.Unlock()
				return nil
			}
			if c.seen++; c.seen-1 != c.at {
				c.mu.Unlock()
				return nil
			}
			c.hit = a.ID + " " + a.String()
			gone := c.gone
			close(c.crashed)
			c.mu.Unlock()
			// The process is gone: nothing of this reconcile runs after this
			// point, not even its status write. The manager's end, not the
			// reconcile's timeout, is what lets it return.
			<-gone
			return controllers.ErrStopped
		}
	}
	return &controllers.CutoverHooks{BeforeAction: check(false), AfterAction: check(true)}
}

// isolatedLabel marks a migration that a manager of its own reconciles (the
// label's value is the migration's name), and the suite's manager does not.
const isolatedLabel = "test.tapstack.io/isolated-manager"

// isolatedManager is a manager of its own, reconciling one migration only.
type isolatedManager struct {
	cancel context.CancelFunc
	done   chan error
}

// startManagerFor starts a manager for the migration labelled name with a
// new reconciler; with a crash point, its hooks stop it there.
func startManagerFor(t *testing.T, name string, cp *crashPoint) *isolatedManager {
	t.Helper()
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:  k8s.Scheme(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&paymentsv1alpha1.PaymentMigration{}: {Label: labels.SelectorFromSet(labels.Set{isolatedLabel: name})},
		}},
		// Every manager of the process registers the same controller.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var hooks *controllers.CutoverHooks
	ctx, cancel := context.WithCancel(context.Background())
	if cp != nil {
		cp.mu.Lock()
		cp.gone = ctx.Done()
		cp.mu.Unlock()
		hooks = cp.hooks()
	}
	r := newReconciler(hooks)
	r.Client, r.APIReader = mgr.GetClient(), mgr.GetAPIReader()
	r.Recorder = mgr.GetEventRecorder("payment-migration-operator")
	if err := r.SetupWithManager(mgr); err != nil {
		cancel()
		t.Fatal(err)
	}
	m := &isolatedManager{cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	t.Cleanup(m.stop)
	return m
}

// stop ends the manager and waits for it (idempotent).
func (m *isolatedManager) stop() {
	m.cancel()
	if m.done == nil {
		return
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		panic("a manager did not stop within 30s")
	}
	m.done = nil
}

// crashAndRestart runs the manager of the migration name until cp is hit,
// checks the world as the dead manager left it, and starts a new manager.
func crashAndRestart(t *testing.T, name, stack string, cp *crashPoint, start func()) {
	t.Helper()
	m := startManagerFor(t, name, cp)
	start()
	select {
	case <-cp.crashed:
	case <-time.After(90 * time.Second):
		t.Fatalf("the crash point %d (after=%t) was never reached", cp.at, cp.after)
	}
	m.stop()
	checkWorldInvariants(t, stack)
	startManagerFor(t, name, nil)
}

// checkWorldInvariants checks what must hold at every moment, whatever the
// moment: the service tier has a side, and the source's fence is on while the
// writer record points at the target.
func checkWorldInvariants(t *testing.T, stack string) {
	t.Helper()
	s, tg, w := cloud.route53.routes(stack)
	if s == 0 && tg == 0 {
		t.Errorf("%s: 0%% on both sides", stack)
	}
	out := outputsOf(stack)
	if strings.HasPrefix(w, "rds-target-") && !cloud.sql.state(out["SourceDbSecretArn"]).fenced {
		t.Errorf("%s: the writer record points at the target and the source is not fenced", stack)
	}
}

func isolatedMigration(name string) *paymentsv1alpha1.PaymentMigration {
	pm := cutoverMigration(name)
	pm.Labels = map[string]string{isolatedLabel: name}
	pm.Spec.Cutover.ReversePath = ptr.To(true)
	return pm
}

// TestTheCutoverConvergesAfterTheManagerIsKilledAroundEveryAction stops
// the manager before and after each of the 12 actions of a cutover (see
// TestCutoverConvergesFromEveryKillPoint) and starts a new one.
func TestTheCutoverConvergesAfterTheManagerIsKilledAroundEveryAction(t *testing.T) {
	const actions = 12
	for at := 0; at < actions; at++ {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("mkill%d%s", at, map[bool]string{false: "b", true: "a"}[after])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cp := newCrashPoint(at, after)
				pm := isolatedMigration(name)
				pm.Spec.Cutover.Approved = true
				key := client.ObjectKeyFromObject(pm)
				crashAndRestart(t, name, "TapStack"+name, cp, func() { create(t, pm) })
				pm = waitLong(t, key, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "Completed" })
				t.Logf("manager killed %s %s; a new one converged to %s", map[bool]string{false: "before", true: "after"}[after], cp.hit, pm.Status.Cutover.State)
				checkCutoverConverged(t, name, pm)
			})
		}
	}
}

// TestTheAbortAfterTheFlipConvergesAfterTheManagerIsKilledAroundEveryAction
// does the same with each of the 10 actions of a rollback after the flip
// (see TestAbortAfterTheFlipConvergesFromEveryKillPoint).
func TestTheAbortAfterTheFlipConvergesAfterTheManagerIsKilledAroundEveryAction(t *testing.T) {
	const actions = 10
	for at := 0; at < actions; at++ {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("mrkill%d%s", at, map[bool]string{false: "b", true: "a"}[after])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				pm := isolatedMigration(name)
				pm.Spec.Cutover.Approved = true
				key := client.ObjectKeyFromObject(pm)
				first := startManagerFor(t, name, nil)
				create(t, pm)
				waitLong(t, key, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "Completed" })
				first.stop()
				cp := newCrashPoint(at, after)
				crashAndRestart(t, name, "TapStack"+name, cp, func() {
					mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Abort = true })
				})
				pm = waitLong(t, key, "RolledBack", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "RolledBack" })
				t.Logf("manager killed %s %s; a new one converged to %s", map[bool]string{false: "before", true: "after"}[after], cp.hit, pm.Status.Cutover.State)
				checkRollbackAfterFlipConverged(t, name)
			})
		}
	}
}
