package controller_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

func taskARN(suffix string) string {
	return "arn:aws:dms:us-east-1:123456789012:task:TapStack" + suffix
}

func phaseIs(p paymentsv1alpha1.Phase) func(*paymentsv1alpha1.PaymentMigration) bool {
	return func(pm *paymentsv1alpha1.PaymentMigration) bool { return pm.Status.Phase == p }
}

func TestMigrationGoesThroughPreflightAndFullLoadToReplicating(t *testing.T) {
	key := create(t, newMigration("flow", "flow", "us-east-1"))
	pm := waitFor(t, key, "Replicating and Ready", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condition(pm, paymentsv1alpha1.ConditionReady).Status == metav1.ConditionTrue
	})
	var phases []paymentsv1alpha1.Phase
	for _, h := range pm.Status.History {
		if len(phases) == 0 || phases[len(phases)-1] != h.Phase {
			phases = append(phases, h.Phase)
		}
	}
	want := "Provisioning Preflight FullLoad Replicating"
	if got := strings.Join(toStrings(phases), " "); got != want {
		t.Errorf("phases %q, want %q", got, want)
	}
	pre := condition(pm, paymentsv1alpha1.ConditionPreflightPassed)
	if pre.Status != metav1.ConditionTrue || strings.Count(pre.Message, "\n") < 4 || !strings.Contains(pre.Message, "source endpoint connection: successful") {
		t.Errorf("PreflightPassed should list every check: %+v", pre)
	}
	task := cloud.dms.snapshot(taskARN("flow"))
	if task.starts != 1 || task.resumes != 0 {
		t.Errorf("start-replication %d times, resume %d times; want 1 and 0", task.starts, task.resumes)
	}
	r := pm.Status.Replication
	if r.TaskARN != taskARN("flow") || r.TaskStatus != "running" || r.FullLoadPercent != 100 || r.TablesLoaded != 4 || r.StartedAt == nil {
		t.Errorf("status.replication = %+v", r)
	}
	if r.CDCLatencyTargetSeconds == nil || *r.CDCLatencyTargetSeconds != 3 || r.SampleTime == nil || r.SamplesUnderThreshold < 3 {
		t.Errorf("lag not recorded: %+v", r)
	}
	for _, c := range []string{paymentsv1alpha1.ConditionReplicationRunning, paymentsv1alpha1.ConditionLagWithinThreshold, paymentsv1alpha1.ConditionDataValidated} {
		if got := condition(pm, c); got.Status != metav1.ConditionTrue {
			t.Errorf("%s = %s/%s %s", c, got.Status, got.Reason, got.Message)
		}
	}
	if r.ValidationState != "Validated" || r.ValidationSampleTime == nil {
		t.Errorf("validation not recorded: %+v", r)
	}
}

func TestPauseStopsTheTaskAndUnpauseResumesItNeverRestarts(t *testing.T) {
	key := create(t, newMigration("pause", "pause", "us-east-1"))
	waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = true })
	pm := waitFor(t, key, "paused", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Reason == "Paused"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionReplicationRunning); c.Status != metav1.ConditionFalse || pm.Status.Replication.TaskStatus != "stopped" {
		t.Errorf("ReplicationRunning %+v, task %s", c, pm.Status.Replication.TaskStatus)
	}
	if c := condition(pm, paymentsv1alpha1.ConditionReady); c.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %+v while paused", c)
	}

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = false })
	waitFor(t, key, "running again", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Status == metav1.ConditionTrue
	})
	task := cloud.dms.snapshot(taskARN("pause"))
	if task.stops != 1 || task.resumes != 1 || task.starts != 1 {
		t.Errorf("stops %d, resumes %d, starts %d; want 1, 1 and still 1 (a second start-replication reloads the target)", task.stops, task.resumes, task.starts)
	}
}

func TestAFailedTaskFailsTheMigrationWithDMSReason(t *testing.T) {
	key := create(t, newMigration("taskfail", "taskfail", "us-east-1"))
	waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))
	cloud.dms.with(taskARN("taskfail"), func(ft *fakeTask) {
		ft.status, ft.failure = replication.StatusFailed, "Last Error ODBC general error. Task error notification received from subtask 0"
	})
	pm := waitFor(t, key, "Failed", phaseIs(paymentsv1alpha1.PhaseFailed))
	c := condition(pm, paymentsv1alpha1.ConditionReplicationRunning)
	if c.Status != metav1.ConditionFalse || c.Reason != "TaskFailed" || !strings.Contains(c.Message, "ODBC general error") {
		t.Errorf("ReplicationRunning = %+v", c)
	}
	ev := waitForEvent(t, "taskfail", "TaskFailed")
	if ev.Type != "Warning" {
		t.Errorf("event type %s", ev.Type)
	}
	// The failure is not re-announced on every reconcile: the phase stays
	// Failed instead of flapping through Preflight. Annotations wake the
	// reconciler (a failed migration is otherwise looked at slowly).
	for i := range 3 {
		mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
			pm.Annotations = map[string]string{"test/poke": strings.Repeat("x", i+1)}
		})
		time.Sleep(200 * time.Millisecond)
	}
	pm = waitFor(t, key, "still Failed", phaseIs(paymentsv1alpha1.PhaseFailed))
	failed := 0
	for _, h := range pm.Status.History {
		if h.Phase == paymentsv1alpha1.PhaseFailed {
			failed++
		}
	}
	if failed != 1 || pm.Status.History[len(pm.Status.History)-1].Phase != paymentsv1alpha1.PhaseFailed {
		t.Errorf("history records Failed %d times: %+v", failed, pm.Status.History)
	}
}

func TestLagBreachFlipsAtOnceAndRecoversAfterConsecutiveSamples(t *testing.T) {
	key := create(t, newMigration("lag", "lag", "us-east-1"))
	waitFor(t, key, "lag within threshold", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Status == metav1.ConditionTrue
	})
	// Samples above the 60 s threshold (the last one repeats until the script
	// changes, so the breach holds while the test looks), then healthy ones.
	cloud.dms.with(taskARN("lag"), func(ft *fakeTask) { ft.lag = []float64{95} })
	pm := waitFor(t, key, "the breach", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Reason == "LagAboveThreshold"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold); c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "target 95s") {
		t.Errorf("LagWithinThreshold = %+v", c)
	}
	cloud.dms.with(taskARN("lag"), func(ft *fakeTask) { ft.lag = []float64{5, 5, 5, 5} })
	pm = waitFor(t, key, "recovery", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Status == metav1.ConditionTrue
	})
	if n := pm.Status.Replication.SamplesUnderThreshold; n < 3 {
		t.Errorf("recovered after %d samples, want the spec's 3", n)
	}
	// The gate settled through LagSettling, never straight back to True.
	ev := waitForEvent(t, "lag", "LagSettling")
	if !strings.Contains(ev.Note, "of 3 required") {
		t.Errorf("settling event: %q", ev.Note)
	}
}

func TestValidationFailuresAreReported(t *testing.T) {
	key := create(t, newMigration("mismatch", "mismatch", "us-east-1"))
	waitFor(t, key, "validated", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionDataValidated).Status == metav1.ConditionTrue
	})
	cloud.dms.with(taskARN("mismatch"), func(ft *fakeTask) {
		ft.tables = []replication.TableStats{
			{Schema: "public", Table: "payments", ValidationState: "Validated"},
			{Schema: "public", Table: "refunds", ValidationState: "Mismatched records", Failed: 7, Pending: 2},
		}
	})
	pm := waitFor(t, key, "mismatch reported", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionDataValidated).Reason == "MismatchedRecords"
	})
	c := condition(pm, paymentsv1alpha1.ConditionDataValidated)
	if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "public.refunds: Mismatched records") {
		t.Errorf("DataValidated = %+v", c)
	}
	r := pm.Status.Replication
	if r.ValidationFailedRecords != 7 || r.ValidationPendingRecords != 2 || r.ValidationState != "Mismatched records" {
		t.Errorf("validation figures %+v", r)
	}
}

func TestPendingRebootIsReportedAndRebootedOnlyWhenAllowed(t *testing.T) {
	cloud.dms.setPreflight(func(o *replication.PreflightObservation) { o.ParameterApplyStatus = "pending-reboot" })
	t.Cleanup(func() {
		cloud.dms.setPreflight(func(o *replication.PreflightObservation) { o.ParameterApplyStatus = "in-sync" })
	})
	key := create(t, newMigration("reboot", "reboot", "us-east-1"))
	pm := waitFor(t, key, "RebootRequired", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionPreflightPassed).Reason == "RebootRequired"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionPreflightPassed); c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "allowRebootForParameterApply") {
		t.Errorf("PreflightPassed = %+v", c)
	}
	if task := cloud.dms.snapshot(taskARN("reboot")); task.starts != 0 {
		t.Error("the task started before preflight passed")
	}
	before := cloud.dms.rebootCount()

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Database.AllowRebootForParameterApply = true })
	waitFor(t, key, "running after the reboot", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Status == metav1.ConditionTrue
	})
	if reboots := cloud.dms.rebootCount() - before; reboots != 1 {
		t.Errorf("rebooted %d times, want once", reboots)
	}
}

func toStrings(phases []paymentsv1alpha1.Phase) []string {
	out := make([]string, len(phases))
	for i, p := range phases {
		out[i] = string(p)
	}
	return out
}

func TestPreflightCreatesTheTargetSchemaOnceAndChecksTheDatabases(t *testing.T) {
	sourceSecret := outputsOf("TapStackschema")["SourceDbSecretArn"]
	targetSecret := outputsOf("TapStackschema")["TargetDbSecretArn"]
	cloud.sql.failSource(sourceSecret, errors.New("source database 127.0.0.1:5432: connection refused"))
	key := create(t, newMigration("schema", "schema", "us-east-1"))
	pm := waitFor(t, key, "the source named unreachable", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionPreflightPassed).Reason == "SourceDatabaseUnreachable"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionPreflightPassed); c.Status != metav1.ConditionFalse ||
		!strings.Contains(c.Message, "FAIL source database: source database 127.0.0.1:5432: connection refused") {
		t.Errorf("PreflightPassed %+v", c)
	}
	if cloud.dms.snapshot(taskARN("schema")).starts != 0 || cloud.sql.appliedTo(targetSecret) != 0 {
		t.Fatal("the task started or the target changed although the source could not be read")
	}

	cloud.sql.failSource(sourceSecret, nil)
	pm = waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))
	if n := cloud.sql.appliedTo(targetSecret); n != 1 {
		t.Errorf("target schema applied %d times, want once", n)
	}
	pre := condition(pm, paymentsv1alpha1.ConditionPreflightPassed)
	for _, line := range []string{"ok   mapped tables: payments (1 in public)", "ok   target schema: payments as on the source",
		"ok   LOB sizes: the largest value, in payments.metadata, is 2.0 KiB, within the 32 KiB limit", "ok   source replication: wal_level=logical"} {
		if !strings.Contains(pre.Message, line) {
			t.Errorf("PreflightPassed lacks %q:\n%s", line, pre.Message)
		}
	}
	created := false
	for _, h := range pm.Status.History {
		created = created || strings.Contains(h.Message, "created the mapped tables on the target from the source's schema")
	}
	if !created {
		t.Errorf("history does not record the target schema: %+v", pm.Status.History)
	}
}

// lagEvents counts the Events of a migration about its LagWithinThreshold
// condition.
func lagEvents(t *testing.T, name string) int {
	t.Helper()
	return lagEventsWith(t, name, paymentsv1alpha1.ConditionLagWithinThreshold+"=")
}

// lagEventsWith counts the migration's Events whose note starts with prefix.
func lagEventsWith(t *testing.T, name, prefix string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(t.Context(), &list, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range list.Items {
		if ev.Regarding.Name == name && strings.HasPrefix(ev.Note, prefix) {
			n++
		}
	}
	return n
}

// Every sample rewrites the condition's message with live figures; only a
// change of status or reason is worth an Event.
func TestLagSamplesMakeEventsOnlyWhenTheGateChanges(t *testing.T) {
	key := create(t, newMigration("quiet", "quiet", "us-east-1"))
	waitFor(t, key, "lag within threshold", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Status == metav1.ConditionTrue
	})
	// The recorder sends Events asynchronously: count from the moment the
	// Event of the condition turning True has reached the API server.
	eventually(t, "the Event of LagWithinThreshold=True", func() (bool, error) {
		return lagEventsWith(t, "quiet", paymentsv1alpha1.ConditionLagWithinThreshold+"=True") > 0, nil
	})
	before := lagEvents(t, "quiet")
	samples := []float64{4, 7, 12, 9, 30, 41, 2, 18, 55, 6}
	cloud.dms.with(taskARN("quiet"), func(ft *fakeTask) { ft.lag = append(samples, 6) })
	pm := waitFor(t, key, "ten new samples read", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		var left int
		cloud.dms.with(taskARN("quiet"), func(ft *fakeTask) { left = len(ft.lag) })
		return left == 1 && strings.Contains(condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Message, "target 6s")
	})
	if c := condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold); c.Status != metav1.ConditionTrue {
		t.Fatalf("LagWithinThreshold = %+v", c)
	}
	after := lagEvents(t, "quiet")
	t.Logf("LagWithinThreshold Events: %d before, %d after ten samples under the threshold", before, after)
	if after != before {
		t.Errorf("%d new Events for ten samples that crossed nothing, want 0", after-before)
	}

	cloud.dms.with(taskARN("quiet"), func(ft *fakeTask) { ft.lag = []float64{95} })
	waitFor(t, key, "the breach", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Reason == "LagAboveThreshold"
	})
	waitForEvent(t, "quiet", "LagAboveThreshold")
	// More samples above the threshold keep the same reason: still one Event.
	cloud.dms.with(taskARN("quiet"), func(ft *fakeTask) { ft.lag = []float64{96, 97, 98} })
	waitFor(t, key, "three more samples above", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return strings.Contains(condition(pm, paymentsv1alpha1.ConditionLagWithinThreshold).Message, "target 98s")
	})
	crossing := lagEvents(t, "quiet")
	t.Logf("LagWithinThreshold Events after one crossing and three more samples above: %d new", crossing-after)
	if crossing-after != 1 {
		t.Errorf("%d Events for one crossing, want exactly 1", crossing-after)
	}
}
