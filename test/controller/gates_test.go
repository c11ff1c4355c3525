package controller_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// lagSettlingEvents counts the Events of a migration that its lag gate is
// settling (some but not all of the required samples under the threshold).
func lagSettlingEvents(t *testing.T, name string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(t.Context(), &list, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range list.Items {
		if ev.Regarding.Name == name && ev.Reason == "LagSettling" {
			n++
		}
	}
	return n
}

func lagOpen(pm *paymentsv1alpha1.PaymentMigration) bool {
	return condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Status == metav1.ConditionTrue
}

// DMS stops publishing: the last datapoint, however good, does not keep the
// gate open once it is older than two metric periods.
func TestAStaleLagSampleTurnsTheGateUnknown(t *testing.T) {
	key := createForTest(t, newMigration("stale", "stale", "us-east-1"))
	waitFor(t, key, "lag within threshold and Ready", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return lagOpen(pm) && condition(pm, paymentsv1alpha1.ConditionReady).Status == metav1.ConditionTrue
	})
	cloud.dms.with(taskARN("stale"), func(ft *fakeTask) { ft.sampleAge = 10 * time.Minute })
	pm := waitFor(t, key, "LagSampleStale", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Reason == "LagSampleStale"
	})
	c := condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold)
	if c.Status != metav1.ConditionUnknown || !strings.Contains(c.Message, "more than 2m0s") {
		t.Errorf("LagWithinThreshold = %+v, want Unknown naming the two-period bound", c)
	}
	if r := condition(pm, paymentsv1alpha1.ConditionReady); r.Status != metav1.ConditionUnknown || r.Reason != "LagSampleStale" {
		t.Errorf("Ready = %s/%s, want Unknown/LagSampleStale", r.Status, r.Reason)
	}
	if n := pm.Status.Replication.SamplesUnderThreshold; n != 0 {
		t.Errorf("%d samples under the threshold still counted after the data went stale", n)
	}

	// DMS publishes again: the gate counts the required samples afresh.
	before := lagSettlingEvents(t, "stale")
	cloud.dms.with(taskARN("stale"), func(ft *fakeTask) { ft.sampleAge = 0 })
	waitFor(t, key, "lag within threshold again", lagOpen)
	if after := lagSettlingEvents(t, "stale"); after <= before {
		t.Error("the gate reopened without settling through LagSettling: the count did not restart")
	}
}

// Pausing stops the task; the samples counted before the stop do not count
// after the resume.
func TestStopAndResumeRestartTheLagCount(t *testing.T) {
	key := createForTest(t, newMigration("recount", "recount", "us-east-1"))
	pm := waitFor(t, key, "lag within threshold", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return lagOpen(pm) && pm.Status.Replication.SamplesUnderThreshold >= 5
	})
	t.Logf("%d samples under the threshold before the pause", pm.Status.Replication.SamplesUnderThreshold)

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = true })
	pm = waitFor(t, key, "stopped", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Reason == "Paused" &&
			condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Reason == "TaskNotRunning"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold); c.Status != metav1.ConditionUnknown || !strings.Contains(c.Message, "stopped") {
		t.Errorf("LagWithinThreshold while stopped = %+v, want Unknown naming the task status", c)
	}
	if n := pm.Status.Replication.SamplesUnderThreshold; n != 0 {
		t.Errorf("samplesUnderThreshold = %d while stopped, want 0", n)
	}

	before := lagSettlingEvents(t, "recount")
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = false })
	pm = waitFor(t, key, "lag within threshold after the resume", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Status == metav1.ConditionTrue && lagOpen(pm)
	})
	if after := lagSettlingEvents(t, "recount"); after <= before {
		t.Error("the gate reopened after the resume without settling: the count survived the stop")
	}
	if n := pm.Status.Replication.SamplesUnderThreshold; n < 3 {
		t.Errorf("open after %d samples, want the spec's 3", n)
	}
}

// A required condition that was never reported (an older operator's status,
// a hand edit) is not passing: Ready is Unknown and names it.
func TestReadyIsUnknownWhileARequiredConditionIsMissing(t *testing.T) {
	key := createForTest(t, newMigration("missing", "missing", "us-east-1"))
	waitFor(t, key, "Ready", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReady).Status == metav1.ConditionTrue
	})
	// TargetHealthy is read from Route 53's checkers once the migration
	// replicates (the cutover's gate), and counts for Ready from then on.
	pm := get(t, key)
	if c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionTargetHealthy); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "MajorityHealthy" {
		t.Fatalf("TargetHealthy = %+v, want True from the 16 healthy checkers", c)
	}

	// StackReady disappears; while the stack's last observation is fresh, no
	// reconcile sets it again.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var pm paymentsv1alpha1.PaymentMigration
		if err := k8s.Get(t.Context(), key, &pm); err != nil {
			return err
		}
		base := pm.DeepCopy()
		meta.RemoveStatusCondition(&pm.Status.Conditions, paymentsv1alpha1.ConditionStackReady)
		return k8s.Status().Patch(t.Context(), &pm, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil {
		t.Fatal(err)
	}
	pm = waitFor(t, key, "Ready Unknown", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReady).Status == metav1.ConditionUnknown
	})
	r := condition(pm, paymentsv1alpha1.ConditionReady)
	if r.Reason != "StackReadyNotReported" || !strings.Contains(r.Message, "StackReady") {
		t.Errorf("Ready = %s/%s %q, want Unknown/StackReadyNotReported naming it", r.Status, r.Reason, r.Message)
	}
	for _, c := range []string{paymentsv1alpha1.ConditionPreflightPassed, paymentsv1alpha1.ConditionReplicationRunning, paymentsv1alpha1.ConditionLagWithinThreshold, paymentsv1alpha1.ConditionDataValidated} {
		if got := condition(pm, c); got.Status != metav1.ConditionTrue {
			t.Errorf("%s = %s: the test wants every present condition True", c, got.Status)
		}
	}
}

// createForTest creates a migration that is deleted when the test ends, so
// that its reconciles (every 50 ms) do not slow the suite's later tests.
func createForTest(t *testing.T, pm *paymentsv1alpha1.PaymentMigration) client.ObjectKey {
	t.Helper()
	key := create(t, pm)
	t.Cleanup(func() {
		var pm paymentsv1alpha1.PaymentMigration
		if err := k8s.Get(context.Background(), key, &pm); err == nil {
			_ = k8s.Delete(context.Background(), &pm)
		}
	})
	return key
}

func get(t *testing.T, key client.ObjectKey) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(t.Context(), key, &pm); err != nil {
		t.Fatal(err)
	}
	return &pm
}

// RDS keeps reading "available" + "pending-reboot" for a while after the
// reboot call: the production source is rebooted once, not once per
// reconcile until RDS catches up.
func TestOneRebootPerRequestWhileRDSLags(t *testing.T) {
	cloud.dms.setPreflight(func(o *replication.PreflightObservation) { o.ParameterApplyStatus = "pending-reboot" })
	cloud.dms.scriptReboot(40, nil) // 40 reads of the old status, two seconds of reconciles
	t.Cleanup(func() {
		cloud.dms.scriptReboot(0, nil)
		cloud.dms.setPreflight(func(o *replication.PreflightObservation) {
			o.ParameterApplyStatus, o.SourceDBStatus = "in-sync", "available"
		})
	})
	before := cloud.dms.rebootCount()
	pm := newMigration("onereboot", "onereboot", "us-east-1")
	pm.Spec.Database.AllowRebootForParameterApply = true
	key := createForTest(t, pm)
	got := waitFor(t, key, "the request recorded and waited on", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionPreflightPassed).Reason == "RebootRequested"
	})
	if got.Status.Replication == nil || got.Status.Replication.RebootRequestedAt == nil {
		t.Fatalf("no rebootRequestedAt in status while waiting: %+v", got.Status.Replication)
	}
	if c := condition(got, paymentsv1alpha1.ConditionPreflightPassed); !strings.Contains(c.Message, "does not show it yet") {
		t.Errorf("PreflightPassed = %q, want it to say RDS does not show the reboot yet", c.Message)
	}
	got = waitFor(t, key, "running after the reboot", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Status == metav1.ConditionTrue
	})
	if n := cloud.dms.rebootCount() - before; n != 1 {
		t.Errorf("rebooted the source %d times while RDS lagged, want once", n)
	}
	if got.Status.Replication.RebootRequestedAt != nil {
		t.Errorf("rebootRequestedAt = %s after RDS showed the reboot, want it cleared", got.Status.Replication.RebootRequestedAt)
	}
	requested := 0
	for _, h := range got.Status.History {
		if strings.Contains(h.Message, "requested a reboot of the source") {
			requested++
		}
	}
	if requested != 1 {
		t.Errorf("history records %d reboot requests, want 1", requested)
	}
}

// A reboot call that fails (a timeout: it may have reached RDS) leaves the
// request standing: it is not made again before RDS shows a reboot or the
// bound passes.
func TestAFailedRebootCallIsNotRepeatedWhileTheRequestStands(t *testing.T) {
	cloud.dms.setPreflight(func(o *replication.PreflightObservation) { o.ParameterApplyStatus = "pending-reboot" })
	cloud.dms.scriptReboot(0, errors.New("RequestCanceled: request context canceled: context deadline exceeded"))
	t.Cleanup(func() {
		cloud.dms.scriptReboot(0, nil)
		cloud.dms.setPreflight(func(o *replication.PreflightObservation) {
			o.ParameterApplyStatus, o.SourceDBStatus = "in-sync", "available"
		})
	})
	before := cloud.dms.rebootCount()
	pm := newMigration("rebootfail", "rebootfail", "us-east-1")
	pm.Spec.Database.AllowRebootForParameterApply = true
	key := createForTest(t, pm)
	waitFor(t, key, "the request standing", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionPreflightPassed).Reason == "RebootRequested" &&
			pm.Status.Replication != nil && pm.Status.Replication.RebootRequestedAt != nil
	})
	// Reconciles go on (errors back off, pokes wake it); none calls again.
	for i := range 5 {
		mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
			pm.Annotations = map[string]string{"test/poke": strings.Repeat("x", i+1)}
		})
		time.Sleep(200 * time.Millisecond)
	}
	if n := cloud.dms.rebootCount() - before; n != 1 {
		t.Errorf("RebootDBInstance called %d times, want once while the request stands", n)
	}
}
