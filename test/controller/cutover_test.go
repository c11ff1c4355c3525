package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/approval"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/test/testenv"
)

// killPlan stops one migration's reconcile at its n-th cutover action,
// before or after the action, once: what a manager killed there leaves
// behind is what the next reconcile finds in status and in the fakes.
type killPlan struct {
	at     int
	after  bool
	seen   int
	killed string
}

type killSwitch struct {
	mu    sync.Mutex
	plans map[string]*killPlan // migration name -> plan
}

var kills = &killSwitch{plans: map[string]*killPlan{}}

func (k *killSwitch) arm(name string, at int, after bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.plans[name] = &killPlan{at: at, after: after}
}

func (k *killSwitch) killedAt(name string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p := k.plans[name]; p != nil {
		return p.killed
	}
	return ""
}

func (k *killSwitch) hooks() *controllers.CutoverHooks {
	check := func(after bool) func(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, a cutover.Action) error {
		return func(_ context.Context, pm *paymentsv1alpha1.PaymentMigration, a cutover.Action) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			p := k.plans[pm.Name]
			if p == nil || p.killed != "" || p.after != after {
				return nil
			}
			if p.seen++; p.seen-1 == p.at {
				p.killed = a.ID + " " + a.String()
				return controllers.ErrStopped
			}
			return nil
		}
	}
	return &controllers.CutoverHooks{BeforeAction: check(false), AfterAction: check(true)}
}

// cutoverMigration is a migration whose cutover takes seconds: one service
// tier step, then the freeze.
func cutoverMigration(name string) *paymentsv1alpha1.PaymentMigration {
	pm := newMigration(name, name, "us-east-1")
	pm.Spec.Traffic.RecordTTLSeconds = 1
	pm.Spec.Cutover.StepIntervalSeconds = 1
	pm.Spec.Cutover.Steps = []int32{50, 100}
	pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	return pm
}

func waitLong(t *testing.T, key client.ObjectKey, what string, cond func(*paymentsv1alpha1.PaymentMigration) bool) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	testenv.Eventually(t, 90*time.Second, 100*time.Millisecond, what, func() (bool, error) {
		err := k8s.Get(t.Context(), key, &pm)
		return err == nil && cond(&pm), err
	})
	return &pm
}

func cutoverState(pm *paymentsv1alpha1.PaymentMigration) paymentsv1alpha1.CutoverState {
	if pm.Status.Cutover == nil {
		return ""
	}
	return pm.Status.Cutover.State
}

// checkJournal checks the order of the effects a cutover of stack made.
func checkJournal(t *testing.T, stack string, wantCompleted bool) {
	t.Helper()
	lines := journal.of(stack)
	index := func(prefix string) int {
		return slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
	}
	flip := index("routes source=0 target=100 writer=rds-target-")
	if !wantCompleted {
		if flip >= 0 {
			t.Errorf("%s: flipped although the cutover should not have: %v", stack, lines)
		}
		return
	}
	if flip < 0 {
		t.Fatalf("%s: no flip in %v", stack, lines)
	}
	for _, before := range []string{"source fence=true", "source drain", "source watermark", "target sequences from source", "target slot", "target flip point"} {
		if i := index(before); i < 0 || i > flip {
			t.Errorf("%s: %q is not before the flip: %v", stack, before, lines)
		}
	}
	starts := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "source fence=false") && i > flip {
			t.Errorf("%s: the source fence was lifted after the flip: %v", stack, lines)
		}
		if strings.Contains(l, "source=0 target=0") {
			t.Errorf("%s: 0%% on both sides: %s", stack, l)
		}
		if strings.HasPrefix(l, "reverse start") {
			starts++
			if i < flip {
				t.Errorf("%s: the reverse task started before the flip", stack)
			}
		}
	}
	if starts != 1 {
		t.Errorf("%s: the reverse task was started %d times: %v", stack, starts, lines)
	}
}

// A whole cutover against the fakes: approval, one step, the freeze, the
// flip, the reverse task, Completed; then an abort rolls it back through the
// reverse path.
func TestCutoverCompletesThenAbortRollsBackThroughTheReversePath(t *testing.T) {
	key := createForTest(t, cutoverMigration("cutover"))
	waitLong(t, key, "Replicating with the gates passing", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condition(pm, paymentsv1alpha1.ConditionCutoverReady).Status == metav1.ConditionTrue
	})
	pm := get(t, key)
	if cutoverState(pm) != "Idle" || condition(pm, paymentsv1alpha1.ConditionCutoverComplete).Reason != "NotStarted" {
		t.Errorf("before approval: %+v", pm.Status.Cutover)
	}
	ready := condition(pm, paymentsv1alpha1.ConditionCutoverReady)
	for _, line := range []string{"PASS lag", "PASS validation", "PASS target health: 16 of 16", "PASS alarms", "PASS source transactions", "PASS replication running", "PASS replication slot: 1 active logical slot(s)"} {
		if !strings.Contains(ready.Message, line) {
			t.Errorf("CutoverReady does not say %q:\n%s", line, ready.Message)
		}
	}

	// Approved by a user the API server authenticates: the admission webhook
	// stamps them, and status, history and the Event name them.
	mutateAs(t, "alice", key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	pm = waitLong(t, key, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "Completed" })
	c := pm.Status.Cutover
	if pm.Status.Phase != paymentsv1alpha1.PhaseCompleted || c.Writer != "target" || c.ReverseSlotLSN == "" || c.FreezeMillis == nil || c.ApprovedAt == nil {
		t.Errorf("completed status: phase %s %+v", pm.Status.Phase, c)
	}
	if c.ApprovedBy != "alice" {
		t.Errorf("approvedBy %q, want alice, whom the admission webhook stamped", c.ApprovedBy)
	}
	if stamp, ok := approval.Read(pm.Annotations); !ok || c.ApprovedAt == nil || !c.ApprovedAt.Time.Equal(stamp.At) {
		t.Errorf("approvedAt %v, want the admission stamp's time (%v, stamped: %v)", c.ApprovedAt, stamp.At, ok)
	}
	if h, ok := historyEntry(pm, "approved by alice"); !ok || h.Actor != "alice" {
		t.Errorf("history %+v: want the approval, by alice, with alice as its actor", pm.Status.History)
	}
	if ev := waitForEvent(t, "cutover", "CutoverStarted"); !strings.Contains(ev.Note, "approved by alice") {
		t.Errorf("CutoverStarted Event %q does not name alice", ev.Note)
	}
	if condition(pm, paymentsv1alpha1.ConditionCutoverComplete).Status != metav1.ConditionTrue {
		t.Errorf("CutoverComplete = %+v", condition(pm, paymentsv1alpha1.ConditionCutoverComplete))
	}
	waitLong(t, key, "Ready after the cutover", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReady).Status == metav1.ConditionTrue
	})
	source, target, writer := cloud.route53.routes("TapStackcutover")
	if source != 0 || target != 100 || !strings.HasPrefix(writer, "rds-target-") {
		t.Errorf("Route 53 after the cutover: %d/%d writer %s", source, target, writer)
	}
	out := outputsOf("TapStackcutover")
	if !cloud.sql.state(out["SourceDbSecretArn"]).fenced {
		t.Error("the source is not fenced after the flip")
	}
	fwd, rev := cloud.dms.snapshot(out["DMSTaskArn"]), cloud.dms.snapshot(out["ReverseDMSTaskArn"])
	if fwd.stops != 1 || rev.starts != 1 || rev.startPosition != c.ReverseSlotLSN {
		t.Errorf("forward stops %d, reverse starts %d at %q (slot %q)", fwd.stops, rev.starts, rev.startPosition, c.ReverseSlotLSN)
	}
	// The forward task stays stopped: the replication step must not resume it.
	time.Sleep(500 * time.Millisecond)
	if fwd := cloud.dms.snapshot(out["DMSTaskArn"]); fwd.resumes != 0 {
		t.Errorf("the forward task was resumed %d times after the flip", fwd.resumes)
	}
	checkJournal(t, "TapStackcutover", true)
	for _, reason := range []string{"CutoverStarted", "FreezeStarted", "Flipped", "CutoverComplete"} {
		waitForEvent(t, "cutover", reason)
	}

	// Abort after the flip: fence the target, drain by watermark, flip back,
	// lift the source's fence.
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Abort = true })
	pm = waitLong(t, key, "RolledBack", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "RolledBack" && pm.Status.Phase == paymentsv1alpha1.PhaseRolledBack
	})
	source, target, writer = cloud.route53.routes("TapStackcutover")
	if source != 100 || target != 0 || !strings.HasPrefix(writer, "rds-source-") {
		t.Errorf("Route 53 after the rollback: %d/%d writer %s", source, target, writer)
	}
	if cloud.sql.state(out["SourceDbSecretArn"]).fenced || !cloud.sql.state(out["TargetDbSecretArn"]).fenced {
		t.Error("after the rollback the source must take writes and the target must stay fenced")
	}
	if rev := cloud.dms.snapshot(out["ReverseDMSTaskArn"]); rev.stops != 1 {
		t.Errorf("reverse task stopped %d times", rev.stops)
	}
	if pm.Status.Phase != paymentsv1alpha1.PhaseRolledBack || pm.Status.Cutover.Reason != "Aborted" {
		t.Errorf("phase %s reason %s", pm.Status.Phase, pm.Status.Cutover.Reason)
	}
	// A new approval does not start again from a target the forward task
	// no longer follows.
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
		pm.Spec.Cutover.Abort, pm.Spec.Cutover.Approved = false, false
	})
	waitLong(t, key, "the approval withdrawal seen", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.ObservedGeneration == pm.Generation
	})
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	waitLong(t, key, "held for a reload", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Cutover.Reason == "TargetNeedsReload"
	})
}

// Bad input: approving while a gate is red holds and names the gate; an
// abort with nothing to abort changes nothing; the steps cannot change while
// a cutover runs.
func TestCutoverBadInput(t *testing.T) {
	key := createForTest(t, cutoverMigration("badinput"))
	waitLong(t, key, "Replicating", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && cutoverState(pm) == "Idle"
	})
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Abort = true })
	pm := waitLong(t, key, "abort refused", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Cutover.Reason == "NothingToAbort"
	})
	if !strings.Contains(pm.Status.Cutover.Message, "nothing changed") {
		t.Errorf("message %q", pm.Status.Cutover.Message)
	}
	cloud.route53.setHealth("hc-TapStackbadinput", 16, 5)
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
		pm.Spec.Cutover.Abort, pm.Spec.Cutover.Approved = false, true
	})
	pm = waitLong(t, key, "held on the red gate", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "Held" && pm.Status.Cutover.Reason == "GatesNotPassing"
	})
	if !strings.Contains(pm.Status.Cutover.Message, "target health") || condition(pm, paymentsv1alpha1.ConditionTargetHealthy).Status != metav1.ConditionFalse {
		t.Errorf("held message %q, TargetHealthy %+v", pm.Status.Cutover.Message, condition(pm, paymentsv1alpha1.ConditionTargetHealthy))
	}
	if s, tg, _ := cloud.route53.routes("TapStackbadinput"); s != 100 || tg != 0 {
		t.Errorf("traffic moved while held: %d/%d", s, tg)
	}
	// Green again, in a later second than the approval (status keeps
	// seconds): the cutover starts; once it runs, the steps are fixed.
	time.Sleep(1100 * time.Millisecond)
	cloud.route53.setHealth("hc-TapStackbadinput", 16, 16)
	pm = waitLong(t, key, "cutting over", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		s := cutoverState(pm)
		return s == "Stepping" || s == "Freezing" || s == "Flipped" || s == "Completed"
	})
	// The attempt records when it was approved, not when the gates let it start.
	stamp, stamped := approval.Read(pm.Annotations)
	started, ok := historyEntry(pm, "cutover attempt 1 approved")
	if !stamped || !ok || pm.Status.Cutover.ApprovedAt == nil || !pm.Status.Cutover.ApprovedAt.Time.Equal(stamp.At) || !started.Time.After(stamp.At) {
		t.Errorf("approvedAt %v, stamp %v (%v), started %v: want approvedAt the stamp's time, before the start", pm.Status.Cutover.ApprovedAt, stamp.At, stamped, started.Time)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var fresh paymentsv1alpha1.PaymentMigration
		if err := k8s.Get(t.Context(), key, &fresh); err != nil {
			return err
		}
		fresh.Spec.Cutover.Steps = []int32{10, 100}
		return k8s.Update(t.Context(), &fresh)
	})
	if err == nil || !strings.Contains(err.Error(), "spec.cutover.steps") {
		t.Errorf("changing the steps during the cutover: %v, want a refusal naming spec.cutover.steps", err)
	}
}

// A source slot that lost WAL its reader needed means DMS cannot deliver
// every change: the approval is held on the slot gate, and nothing moves.
func TestApprovalIsHeldWhileTheSourceSlotHasLostWAL(t *testing.T) {
	key := createForTest(t, cutoverMigration("lostslot"))
	waitLong(t, key, "Replicating", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condition(pm, paymentsv1alpha1.ConditionCutoverReady).Status == metav1.ConditionTrue
	})
	source := outputsOf("TapStacklostslot")["SourceDbSecretArn"]
	cloud.sql.mu.Lock()
	cloud.sql.slots[source] = []sqlrunner.Slot{{Name: "dms_slot", Active: true, WALStatus: "lost"}}
	cloud.sql.mu.Unlock()
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	pm := waitLong(t, key, "held on the slot gate", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "Held" && pm.Status.Cutover.Reason == "GatesNotPassing"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionCutoverReady); !strings.Contains(c.Message, "FAIL replication slot: slot dms_slot is lost") {
		t.Errorf("CutoverReady does not name the slot:\n%s", c.Message)
	}
	if s, tg, _ := cloud.route53.routes("TapStacklostslot"); s != 100 || tg != 0 {
		t.Errorf("traffic moved while held: %d/%d", s, tg)
	}
}

// A target that cannot carry the reverse path (wal_level not logical) holds
// the approval on its gate, naming the setting, before anything moves or a
// slot is made; once it is fixed the held approval goes ahead.
func TestApprovalIsHeldWhileTheTargetCannotCarryTheReversePath(t *testing.T) {
	pm := cutoverMigration("tgtwal")
	pm.Spec.Cutover.ReversePath = ptr.To(true)
	key := createForTest(t, pm)
	waitLong(t, key, "Replicating", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condition(pm, paymentsv1alpha1.ConditionCutoverReady).Status == metav1.ConditionTrue
	})
	if c := condition(waitLong(t, key, "gates", func(*paymentsv1alpha1.PaymentMigration) bool { return true }), paymentsv1alpha1.ConditionCutoverReady); !strings.Contains(c.Message, "PASS target logical replication: wal_level=logical") {
		t.Errorf("CutoverReady has no target replication line:\n%s", c.Message)
	}
	target := outputsOf("TapStacktgtwal")["TargetDbSecretArn"]
	cloud.sql.mu.Lock()
	cloud.sql.settings[target] = pgcatalog.Settings{WALLevel: "replica", MaxReplicationSlots: 10, MaxWALSenders: 10}
	cloud.sql.mu.Unlock()
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	got := waitLong(t, key, "held on the target replication gate", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "Held" && pm.Status.Cutover.Reason == "GatesNotPassing"
	})
	if c := condition(got, paymentsv1alpha1.ConditionCutoverReady); !strings.Contains(c.Message, "FAIL target logical replication: wal_level is replica on the target") {
		t.Errorf("CutoverReady does not name the target's wal_level:\n%s", c.Message)
	}
	if s, tg, _ := cloud.route53.routes("TapStacktgtwal"); s != 100 || tg != 0 || cloud.sql.state(target).slot {
		t.Errorf("traffic moved (%d/%d) or a slot was made while held", s, tg)
	}
	// The parameter fixed (and applied), the held approval goes ahead.
	cloud.sql.mu.Lock()
	delete(cloud.sql.settings, target)
	cloud.sql.mu.Unlock()
	waitLong(t, key, "Completed once the target is fixed", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "Completed" })
	checkJournal(t, "TapStacktgtwal", true)
}

// A drain that never completes (the watermark never reaches the target)
// ends in a rollback after freezeTimeoutSeconds: the source is unfenced and
// takes every write again.
func TestFreezeTimeoutRollsBack(t *testing.T) {
	pm := cutoverMigration("freezeout")
	pm.Spec.Cutover.FreezeTimeoutSeconds = 30
	key := createForTest(t, pm)
	waitLong(t, key, "Replicating", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condition(pm, paymentsv1alpha1.ConditionCutoverReady).Status == metav1.ConditionTrue
	})
	out := outputsOf("TapStackfreezeout")
	cloud.sql.setStuck(out["TargetDbSecretArn"], true)
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	// RolledBack is recorded first; the next reconcile, seeing the approval
	// still set, holds with the message asking for a new one.
	pm = waitLong(t, key, "RolledBack after the freeze timeout, awaiting a new approval", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "RolledBack" && strings.HasPrefix(pm.Status.Cutover.Message, "rolled back (")
	})
	if pm.Status.Cutover.Reason != "FreezeTimeout" || !strings.Contains(pm.Status.Cutover.Message, "rolled back (FreezeTimeout)") {
		t.Errorf("rollback %s: %s", pm.Status.Cutover.Reason, pm.Status.Cutover.Message)
	}
	if cloud.sql.state(out["SourceDbSecretArn"]).fenced || cloud.sql.state(out["TargetDbSecretArn"]).slot {
		t.Error("the rollback left the source fenced or the slot behind")
	}
	if s, tg, w := cloud.route53.routes("TapStackfreezeout"); s != 100 || tg != 0 || !strings.HasPrefix(w, "rds-source-") {
		t.Errorf("routes after the rollback %d/%d %s", s, tg, w)
	}
	checkJournal(t, "TapStackfreezeout", false)
	if !slices.Contains(journal.of("TapStackfreezeout"), "source drain") {
		t.Error("the fence went on, but the sessions were never ended")
	}
	// The source's sessions opened under the fence stay read-only; the
	// rollback ends them after lifting it.
	lines := journal.of("TapStackfreezeout")
	lift := slices.Index(lines, "source fence=false")
	if lift < 0 || !slices.Contains(lines[lift:], "source drain") {
		t.Errorf("no reconnect after the fence was lifted: %v", lines)
	}
	cloud.sql.setStuck(out["TargetDbSecretArn"], false)
}

// The manager stopped before or after each action of the cutover: every
// kill point converges to Completed with every invariant intact.
func TestCutoverConvergesFromEveryKillPoint(t *testing.T) {
	// A cutover of cutoverMigration makes 12 actions: the step, the slot,
	// fence, confirm, drain, watermark, wait, sequences, flip point, flip,
	// stop, start (the target's fence is observed absent, not lifted).
	const actions = 12
	for at := 0; at < actions; at++ {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("kill%d%s", at, map[bool]string{false: "b", true: "a"}[after])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				kills.arm(name, at, after)
				pm := cutoverMigration(name)
				pm.Spec.Cutover.Approved = true
				pm.Spec.Cutover.ReversePath = ptr.To(true)
				key := createForTest(t, pm)
				pm = waitLong(t, key, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "Completed" })
				killed := kills.killedAt(name)
				if killed == "" {
					t.Fatalf("the kill point %d was never reached", at)
				}
				t.Logf("killed %s %s; converged to %s", map[bool]string{false: "before", true: "after"}[after], killed, pm.Status.Cutover.State)
				checkCutoverConverged(t, name, pm)
			})
		}
	}
}

// checkCutoverConverged checks a completed cutover of the migration whose
// suffix is suffix: the effects in order, the source fenced, the writer and
// the service tier on the target, and every intent logged once and finished.
func checkCutoverConverged(t *testing.T, suffix string, pm *paymentsv1alpha1.PaymentMigration) {
	t.Helper()
	checkJournal(t, "TapStack"+suffix, true)
	out := outputsOf("TapStack" + suffix)
	if !cloud.sql.state(out["SourceDbSecretArn"]).fenced {
		t.Error("source not fenced at the end")
	}
	if s, tg, w := cloud.route53.routes("TapStack" + suffix); s != 0 || tg != 100 || !strings.HasPrefix(w, "rds-target-") {
		t.Errorf("routes %d/%d %s", s, tg, w)
	}
	seen := map[string]int{}
	for _, in := range pm.Status.Cutover.Intents {
		seen[in.ID]++
		if in.Finished == nil {
			t.Errorf("intent %s not finished: %s", in.ID, in.Note)
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("intent %s logged %d times", id, n)
		}
	}
}

// checkReverseJournal checks the order of a rollback after the flip: the
// writer returns to the source only after the target is fenced and drained,
// its watermark seen on the source and the source's sequences moved; the
// source's fence is lifted only after that.
func checkReverseJournal(t *testing.T, stack string) {
	t.Helper()
	lines := journal.of(stack)
	flip := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "routes source=0 target=100") })
	back := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "routes source=100 target=0 writer=rds-source-") })
	if flip < 0 || back < flip {
		t.Fatalf("%s: no flip back after the flip: %v", stack, lines)
	}
	after := lines[flip:back]
	for _, before := range []string{"target fence=true", "target drain", "target watermark", "source sequences from target"} {
		if !slices.Contains(after, before) && !slices.ContainsFunc(after, func(l string) bool { return strings.HasPrefix(l, before) }) {
			t.Errorf("%s: %q is not between the flip and the flip back: %v", stack, before, lines)
		}
	}
	if i := slices.Index(lines[flip:], "source fence=false"); i < 0 || flip+i < back {
		t.Errorf("%s: the source fence was lifted before the writer came back, or never: %v", stack, lines)
	}
	backs := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "routes source=100 target=0 writer=rds-source-") {
			backs++
		}
	}
	if backs != 1 {
		t.Errorf("%s: the writer was moved back %d times: %v", stack, backs, lines)
	}
}

// The manager stopped before or after each action of a rollback after the
// flip converges to RolledBack with the writer on the source, the source
// writable and the target fenced.
func TestAbortAfterTheFlipConvergesFromEveryKillPoint(t *testing.T) {
	// An abort after the flip makes 10 actions: fence, confirm and drain the
	// target, watermark on the target, await it on the source, sequences,
	// the flip back, lift the source's fence, reconnect its sessions, and
	// stop the reverse task.
	const actions = 10
	for at := 0; at < actions; at++ {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("rkill%d%s", at, map[bool]string{false: "b", true: "a"}[after])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				pm := cutoverMigration(name)
				pm.Spec.Cutover.Approved = true
				key := createForTest(t, pm)
				waitLong(t, key, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "Completed" })
				kills.arm(name, at, after)
				mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Abort = true })
				pm = waitLong(t, key, "RolledBack", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "RolledBack" })
				killed := kills.killedAt(name)
				if killed == "" {
					t.Fatalf("the kill point %d was never reached", at)
				}
				t.Logf("killed %s %s; converged to %s", map[bool]string{false: "before", true: "after"}[after], killed, pm.Status.Cutover.State)
				checkRollbackAfterFlipConverged(t, name)
			})
		}
	}
}

// checkRollbackAfterFlipConverged checks a rollback after the flip of the
// migration whose suffix is suffix: the effects in order, the source
// writable, the target fenced, the writer on the source and the reverse
// task started once.
func checkRollbackAfterFlipConverged(t *testing.T, suffix string) {
	t.Helper()
	checkReverseJournal(t, "TapStack"+suffix)
	out := outputsOf("TapStack" + suffix)
	if cloud.sql.state(out["SourceDbSecretArn"]).fenced || !cloud.sql.state(out["TargetDbSecretArn"]).fenced {
		t.Error("after the rollback the source must take writes and the target must stay fenced")
	}
	if s, tg, w := cloud.route53.routes("TapStack" + suffix); s != 100 || tg != 0 || !strings.HasPrefix(w, "rds-source-") {
		t.Errorf("routes %d/%d %s", s, tg, w)
	}
	if rev := cloud.dms.snapshot(out["ReverseDMSTaskArn"]); rev.starts != 1 {
		t.Errorf("reverse task started %d times", rev.starts)
	}
}
