package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"github.com/tapstack/payment-migration-operator/test/testenv"
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
	// every counts the actions of every stage, not the cutover's only.
	every bool
	// key, when set, is the action (see actionKey) whose first occurrence
	// is the point, in place of at.
	key string
	// actions are the actions seen, in order (a point at -1 is never hit
	// and only records them).
	actions []string

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

// reach counts an action and stops the manager at the crash point.
func (c *crashPoint) reach(after bool, action string) error {
	c.mu.Lock()
	if !after {
		c.actions = append(c.actions, action)
	}
	if c.hit != "" || c.after != after {
		c.mu.Unlock()
		return nil
	}
	if c.key != "" {
		if actionKey(action) != c.key {
			c.mu.Unlock()
			return nil
		}
	} else if c.seen++; c.seen-1 != c.at {
		c.mu.Unlock()
		return nil
	}
	c.hit = action
	gone := c.gone
	close(c.crashed)
	c.mu.Unlock()
	// The process is gone: nothing of this reconcile runs after this
	// point, not even its status write. The manager's end, not the
	// reconcile's timeout, is what lets it return.
	<-gone
	return controllers.ErrStopped
}

// hooks count the cutover's actions only.
func (c *crashPoint) hooks() *controllers.CutoverHooks {
	check := func(after bool) func(context.Context, *paymentsv1alpha1.PaymentMigration, cutover.Action) error {
		return func(_ context.Context, _ *paymentsv1alpha1.PaymentMigration, a cutover.Action) error {
			return c.reach(after, a.ID+" "+a.String())
		}
	}
	return &controllers.CutoverHooks{BeforeAction: check(false), AfterAction: check(true)}
}

// actionHooks count every action of every stage.
func (c *crashPoint) actionHooks() *controllers.ActionHooks {
	check := func(after bool) func(context.Context, *paymentsv1alpha1.PaymentMigration, string) error {
		return func(_ context.Context, _ *paymentsv1alpha1.PaymentMigration, action string) error {
			return c.reach(after, action)
		}
	}
	return &controllers.ActionHooks{Before: check(false), After: check(true)}
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
	var every *controllers.ActionHooks
	ctx, cancel := context.WithCancel(context.Background())
	if cp != nil {
		cp.mu.Lock()
		cp.gone = ctx.Done()
		cp.mu.Unlock()
		if cp.every {
			every = cp.actionHooks()
		} else {
			hooks = cp.hooks()
		}
	}
	r := newReconciler(hooks)
	r.Hooks = every
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

// actionKey names an action the same way in every run: for the cutover its
// intent id (a watermark's value differs from run to run), for the other
// stages the whole action.
func actionKey(action string) string {
	if f := strings.Fields(action); len(f) >= 2 && f[0] == "cutover" {
		return f[0] + " " + f[1]
	}
	return action
}

// settled: the cutover completed and the stack was updated to render it
// (the completed routes are its resting state), the last action of a
// migration.
func settled(pm *paymentsv1alpha1.PaymentMigration) bool {
	c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionStackReady)
	return cutoverState(pm) == "Completed" && pm.Status.Stack != nil && pm.Status.Stack.Status == "UPDATE_COMPLETE" &&
		c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == pm.Generation
}

// TestAMigrationConvergesAfterTheManagerIsKilledAroundEveryAction stops
// the manager before and after each kind of action of a whole migration,
// whatever its stage: the stack's creation, the preflight's, the DMS task's
// first start, each of the cutover's, and the stack's update once the
// cutover completed. The actions are those an uninterrupted migration
// takes, recorded first. After each restart the migration settles with the
// stack created once and the task started (start-replication, which
// reloads the target) once.
func TestAMigrationConvergesAfterTheManagerIsKilledAroundEveryAction(t *testing.T) {
	ref := newCrashPoint(-1, false)
	ref.every = true
	m := startManagerFor(t, "mallref", ref)
	pm := isolatedMigration("mallref")
	pm.Spec.Cutover.Approved = true
	create(t, pm)
	waitLong(t, client.ObjectKeyFromObject(pm), "settled", settled)
	m.stop()
	ref.mu.Lock()
	actions := append([]string(nil), ref.actions...)
	ref.mu.Unlock()
	t.Logf("an uninterrupted migration takes %d actions: %s", len(actions), strings.Join(actions, "; "))
	var keys []string
	stages := map[string]bool{}
	for _, a := range actions {
		if k := actionKey(a); !slices.Contains(keys, k) {
			keys = append(keys, k)
			stages[strings.Fields(a)[0]] = true
		}
	}
	for _, stage := range []string{"stack", "preflight", "task", "cutover"} {
		if !stages[stage] {
			t.Fatalf("no %s action among %v", stage, actions)
		}
	}
	t.Logf("%d kill points: before and after %s", 2*len(keys), strings.Join(keys, ", "))
	for i, key := range keys {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("makill%d%s", i, map[bool]string{false: "b", true: "a"}[after])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cp := newCrashPoint(-1, after)
				cp.every, cp.key = true, key
				pm := isolatedMigration(name)
				pm.Spec.Cutover.Approved = true
				key := client.ObjectKeyFromObject(pm)
				crashAndRestart(t, name, "TapStack"+name, cp, func() { create(t, pm) })
				pm = waitLong(t, key, "settled", settled)
				t.Logf("manager killed %s %s; a new one converged to %s", map[bool]string{false: "before", true: "after"}[after], cp.hit, pm.Status.Cutover.State)
				checkCutoverConverged(t, name, pm)
				if n := cloud.creations(string(pm.UID)); n != 1 {
					t.Errorf("the stack was created %d times", n)
				}
				if n := cloud.dms.snapshot(outputsOf("TapStack" + name)["DMSTaskArn"]).starts; n != 1 {
					t.Errorf("start-replication was called %d times", n)
				}
			})
		}
	}
}

// TestADeletionConvergesAfterTheManagerIsKilledAroundEveryAction stops the
// manager before and after each action of a deletion (the running task
// stopped, each bucket emptied, the stack deleted) and starts a new one:
// the stack and the object go, both buckets emptied, the source first.
func TestADeletionConvergesAfterTheManagerIsKilledAroundEveryAction(t *testing.T) {
	keys := []string{"deletion StopTask", "deletion EmptyBucket SourceBucketName", "deletion EmptyBucket TargetBucketName", "deletion DeleteStack"}
	for i, action := range keys {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("mdkill%d%s", i, map[bool]string{false: "b", true: "a"}[after])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cp := newCrashPoint(-1, after)
				cp.every, cp.key = true, action
				pm := isolatedMigration(name)
				pm.Spec.DeletionPolicy = paymentsv1alpha1.DeletionPolicyDelete
				key := client.ObjectKeyFromObject(pm)
				m := startManagerFor(t, name, cp)
				create(t, pm)
				pm = waitLong(t, key, "StackReady", stackReady)
				taskArn := pm.Status.Stack.Outputs["DMSTaskArn"]
				cloud.mu.Lock()
				cloud.tasks[taskArn] = "running"
				cloud.mu.Unlock()
				if err := k8s.Delete(t.Context(), pm); err != nil {
					t.Fatal(err)
				}
				select {
				case <-cp.crashed:
				case <-time.After(90 * time.Second):
					t.Fatalf("the manager never reached %s (after=%t)", action, after)
				}
				m.stop()
				startManagerFor(t, name, nil)
				testenv.Eventually(t, 90*time.Second, 100*time.Millisecond, "the migration gone", func() (bool, error) {
					err := k8s.Get(t.Context(), key, &paymentsv1alpha1.PaymentMigration{})
					return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
				})
				t.Logf("manager killed %s %s; a new one finished the deletion", map[bool]string{false: "before", true: "after"}[after], cp.hit)
				if _, exists := cloud.stack("TapStack" + name); exists {
					t.Error("the stack still exists after the migration is gone")
				}
				emptied := cloud.emptiedBuckets()
				src := slices.Index(emptied, "payments-source-TapStack"+name)
				tgt := slices.Index(emptied, "payments-target-TapStack"+name)
				if src < 0 || tgt < 0 || src > tgt {
					t.Errorf("buckets emptied %v: want source then target", emptied)
				}
			})
		}
	}
}
