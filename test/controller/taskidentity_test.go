package controller_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// The task decision reads both records of a start, the status and DMS, and a
// tag on the task written before the first start. These tests lose one record
// at a time and check that start-replication, which reloads the target, is
// never sent to a task that ran.

func reasonIs(condType, reason string) func(*paymentsv1alpha1.PaymentMigration) bool {
	return func(pm *paymentsv1alpha1.PaymentMigration) bool { return condition(pm, condType).Reason == reason }
}

// wipeStatus stands for a migration restored from a backup or re-applied by
// GitOps: the same spec, no status.
func wipeStatus(t *testing.T, key client.ObjectKey) {
	t.Helper()
	eventually(t, "the status wiped", func() (bool, error) {
		var pm paymentsv1alpha1.PaymentMigration
		if err := k8s.Get(t.Context(), key, &pm); err != nil {
			return false, err
		}
		base := pm.DeepCopy()
		pm.Status = paymentsv1alpha1.PaymentMigrationStatus{}
		err := k8s.Status().Patch(t.Context(), &pm, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) {
			return false, nil // the manager wrote first: read again
		}
		return err == nil, err
	})
}

// hasHistory reports whether a history entry contains s.
func hasHistory(pm *paymentsv1alpha1.PaymentMigration, s string) bool {
	return slices.ContainsFunc(pm.Status.History, func(h paymentsv1alpha1.HistoryEntry) bool { return strings.Contains(h.Message, s) })
}

func TestARestoredMigrationHoldsATaskThatRanInsteadOfStartingItAgain(t *testing.T) {
	key := createForTest(t, newMigration("restored", "restored", "us-east-1"))
	pm := waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))
	arn := taskARN("restored")
	if r := pm.Status.Replication; r.StartedTaskARN != arn || r.StackID == "" || r.StartedAt == nil {
		t.Errorf("the start record does not name the task and the stack: %+v", r)
	}
	tag := cloud.dms.snapshot(arn).startTag
	if !strings.Contains(tag, "default/restored "+string(pm.UID)) {
		t.Errorf("first-start tag %q does not name the migration", tag)
	}

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = true })
	waitFor(t, key, "paused", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "Paused"))
	wipeStatus(t, key)
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = false })
	pm = waitFor(t, key, "held: the task ran before", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "TaskRanBefore"))
	msg := condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Message
	if !strings.Contains(msg, "--start-replication-task-type resume-processing") || !strings.Contains(msg, arn) {
		t.Errorf("the hold does not say how to resume by hand: %s", msg)
	}
	time.Sleep(2 * time.Second) // reconciles keep coming; none may start or resume
	if task := cloud.dms.snapshot(arn); task.starts != 1 || task.resumes != 0 || task.status != replication.StatusStopped {
		t.Fatalf("after the restore: %d starts, %d resumes, status %s; want 1, 0, stopped", task.starts, task.resumes, task.status)
	}

	// The user resumes it by hand, as the message says: the operator records
	// the running task and carries on, resuming it (never starting it) after
	// the next pause.
	cloud.dms.with(arn, func(ft *fakeTask) { ft.status = replication.StatusRunning })
	// In a cluster the region poller wakes the migration when the task's
	// status changes; this suite's DMS has no poller, and a held migration
	// requeues after Timing.Slow (an hour here): a touch stands in for it.
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
		if pm.Annotations == nil {
			pm.Annotations = map[string]string{}
		}
		pm.Annotations["test/touch"] = "resumed-by-hand"
	})
	pm = waitFor(t, key, "Replicating again", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && pm.Status.Replication != nil && pm.Status.Replication.StartedTaskARN == arn
	})
	if !hasHistory(pm, "running without this migration's record of starting it") {
		t.Error("no history entry for recording the task started by hand")
	}
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = true })
	waitFor(t, key, "paused", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "Paused"))
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = false })
	waitFor(t, key, "running", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "TaskRunning"))
	if task := cloud.dms.snapshot(arn); task.starts != 1 || task.resumes != 1 {
		t.Errorf("%d starts, %d resumes; want 1 and 1", task.starts, task.resumes)
	}
}

func TestANewTaskInTheStackResetsTheReplicationStatusAndRunsThePreflightAgain(t *testing.T) {
	key := createForTest(t, newMigration("recreated", "recreated", "us-east-1"))
	pm := waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))
	preflightAt := condition(pm, paymentsv1alpha1.ConditionPreflightPassed).LastTransitionTime
	old, fresh := taskARN("recreated"), taskARN("recreated")+"-2"

	// The stack re-created out of band: another id, another task, and the
	// old task gone, which makes the operator observe the stack again.
	cloud.mu.Lock()
	st := cloud.stacks["TapStackrecreated"]
	st.id += "-recreated"
	st.outputs["DMSTaskArn"] = fresh
	cloud.mu.Unlock()
	cloud.dms.with(old, func(ft *fakeTask) { ft.gone = true })

	pm = waitFor(t, key, "Replicating on the new task", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		r := pm.Status.Replication
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && r != nil && r.StartedTaskARN == fresh && r.TaskStatus == "running"
	})
	if !hasHistory(pm, "the stack's DMS task is now "+fresh) {
		t.Error("no history entry for the replaced task")
	}
	waitForEvent(t, "recreated", "TaskReplaced")
	// The reset removed PreflightPassed; the new task started only once it
	// passed again (start-replication waits for it).
	if c := condition(pm, paymentsv1alpha1.ConditionPreflightPassed); c.Status != metav1.ConditionTrue || c.LastTransitionTime.Before(&preflightAt) {
		t.Errorf("PreflightPassed %s since %s, want passed again after the reset (first passed %s)", c.Status, c.LastTransitionTime, preflightAt)
	}
	if o, n := cloud.dms.snapshot(old), cloud.dms.snapshot(fresh); o.starts != 1 || n.starts != 1 || n.resumes != 0 {
		t.Errorf("old task %d starts, new task %d starts and %d resumes; want 1, 1, 0", o.starts, n.starts, n.resumes)
	}
	if r := pm.Status.Replication; r.StackID != st.id {
		t.Errorf("status.replication.stackID = %q, want %q", r.StackID, st.id)
	}
}

func TestAFirstStartDMSRefusedIsTriedAgainAndOneWithAnUnknownOutcomeIsHeld(t *testing.T) {
	refused := taskARN("refused")
	cloud.dms.with(refused, func(ft *fakeTask) {
		ft.startErr = &dmstypes.InvalidResourceStateFault{Message: aws.String("the replication instance is not available")}
	})
	key := createForTest(t, newMigration("refused", "refused", "us-east-1"))
	waitFor(t, key, "Replicating after the refusal", phaseIs(paymentsv1alpha1.PhaseReplicating))
	if task := cloud.dms.snapshot(refused); task.starts != 2 || task.startTag == "" {
		t.Errorf("refused once: %d start-replication calls, tag %q; want 2 and the tag of the second", task.starts, task.startTag)
	}

	unknown := taskARN("unknown")
	cloud.dms.with(unknown, func(ft *fakeTask) { ft.startErr = errors.New("read tcp 10.0.0.1:443: i/o timeout") })
	key = createForTest(t, newMigration("unknown", "unknown", "us-east-1"))
	pm := waitFor(t, key, "held: start unconfirmed", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "StartUnconfirmed"))
	if msg := condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Message; !strings.Contains(msg, "remove-tags-from-resource") {
		t.Errorf("the hold does not say how to clear the tag: %s", msg)
	}
	time.Sleep(2 * time.Second)
	if task := cloud.dms.snapshot(unknown); task.starts != 1 || task.startTag == "" {
		t.Fatalf("after an unknown outcome: %d start-replication calls, tag %q; want 1 and the tag kept", task.starts, task.startTag)
	}
	// Whoever checked that the task never ran removes the tag.
	cloud.dms.with(unknown, func(ft *fakeTask) { ft.startTag = "" })
	waitFor(t, key, "Replicating once the tag is removed", phaseIs(paymentsv1alpha1.PhaseReplicating))
	if task := cloud.dms.snapshot(unknown); task.starts != 2 {
		t.Errorf("%d start-replication calls, want 2", task.starts)
	}
}

// The manager stopped at each point of the first start: after the status
// record (before the tag), between the tag and the call, and after the call.
// start-replication reaches DMS at most once; only the kill between the tag
// and the call, whose outcome the next manager cannot know, holds for a human.
func TestTheFirstStartConvergesFromEveryKillPoint(t *testing.T) {
	for _, c := range []struct {
		crash      string
		wantStarts int
		held       bool
	}{
		{crash: "before-tag", wantStarts: 1},
		{crash: "after-tag", wantStarts: 0, held: true},
		{crash: "after-start", wantStarts: 1},
	} {
		t.Run(c.crash, func(t *testing.T) {
			name := "kill" + strings.ReplaceAll(c.crash, "-", "")
			arn := taskARN(name)
			cloud.dms.with(arn, func(ft *fakeTask) { ft.crash = c.crash })
			key := createForTest(t, newMigration(name, name, "us-east-1"))
			if c.held {
				waitFor(t, key, "held: start unconfirmed", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "StartUnconfirmed"))
				time.Sleep(2 * time.Second)
				if task := cloud.dms.snapshot(arn); task.starts != c.wantStarts || task.startTag == "" {
					t.Fatalf("killed %s: %d start-replication calls, tag %q; want %d and the tag kept", c.crash, task.starts, task.startTag, c.wantStarts)
				}
				cloud.dms.with(arn, func(ft *fakeTask) { ft.startTag = "" }) // a human checked: it never ran
				c.wantStarts++
			}
			pm := waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))
			if task := cloud.dms.snapshot(arn); task.starts != c.wantStarts || task.resumes != 0 {
				t.Errorf("killed %s: %d start-replication calls and %d resumes, want %d and 0", c.crash, task.starts, task.resumes, c.wantStarts)
			}
			if r := pm.Status.Replication; r.StartedTaskARN != arn {
				t.Errorf("killed %s: the start record names %q, want %q", c.crash, r.StartedTaskARN, arn)
			}
		})
	}
}
