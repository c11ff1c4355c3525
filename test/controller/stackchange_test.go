package controller_test

import (
	"testing"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// While the stack is updated, and after an update rolled back, the task
// replicates on: the operator keeps acting on a pause, reading lag and
// reporting a task failure, from the stack's last good outputs.
func TestReplicationIsWatchedWhileTheStackUpdatesAndAfterTheUpdateRolledBack(t *testing.T) {
	const stack = "TapStackwatchupd"
	key := createForTest(t, newMigration("watchupd", "watchupd", "us-east-1"))
	waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))
	arn := taskARN("watchupd")
	t.Cleanup(func() {
		cloud.mu.Lock()
		delete(cloud.holdUpdate, stack)
		cloud.mu.Unlock()
	})

	cloud.mu.Lock()
	cloud.holdUpdate[stack] = true
	cloud.mu.Unlock()
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Service.DesiredCount = 3 })
	waitFor(t, key, "the stack updating", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Stack.Status == "UPDATE_IN_PROGRESS"
	})

	// A lag breach during the update shows.
	cloud.dms.with(arn, func(ft *fakeTask) { ft.lag = []float64{95} })
	waitFor(t, key, "the breach during the update", reasonIs(paymentsv1alpha1.ConditionLagWithinThreshold, "LagAboveThreshold"))
	// A pause during the update stops the task.
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = true })
	pm := waitFor(t, key, "paused during the update", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "Paused"))
	if pm.Status.Stack.Status != "UPDATE_IN_PROGRESS" {
		t.Fatalf("the update ended before the pause was seen: %s", pm.Status.Stack.Status)
	}
	if task := cloud.dms.snapshot(arn); task.stops != 1 {
		t.Errorf("%d stops during the update, want 1", task.stops)
	}
	if pm.Status.Phase == paymentsv1alpha1.PhaseProvisioning {
		t.Errorf("phase %s during an update of a replicating migration", pm.Status.Phase)
	}
	if pm.Status.Replication.TaskARN != arn {
		t.Errorf("the task watched during the update is %q, want the last good output %q", pm.Status.Replication.TaskARN, arn)
	}

	// The update rolls back; the task fails afterwards, and it shows.
	cloud.script(stack, &scripted{onUpdate: true, times: 1, resource: "PaymentService (AWS::ECS::Service)", reason: "Service did not stabilize"})
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = false })
	cloud.mu.Lock()
	delete(cloud.holdUpdate, stack)
	cloud.mu.Unlock()
	waitFor(t, key, "rolled back, the task resumed", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Stack.Status == "UPDATE_ROLLBACK_COMPLETE" && condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Reason == "TaskRunning"
	})
	cloud.dms.with(arn, func(ft *fakeTask) {
		ft.status, ft.failure = replication.StatusFailed, "Last Error Replication task out of memory"
	})
	pm = waitFor(t, key, "the task failure after the rollback", phaseIs(paymentsv1alpha1.PhaseFailed))
	if c := condition(pm, paymentsv1alpha1.ConditionReplicationRunning); c.Reason != "TaskFailed" || pm.Status.Stack.Status != "UPDATE_ROLLBACK_COMPLETE" {
		t.Errorf("ReplicationRunning %s (%s) with the stack %s", c.Reason, c.Message, pm.Status.Stack.Status)
	}
	if task := cloud.dms.snapshot(arn); task.starts != 1 || task.resumes != 1 {
		t.Errorf("%d starts and %d resumes, want 1 and 1", task.starts, task.resumes)
	}
}

// DMS modifies only a stopped task: a change set that modifies the task runs
// once the operator stopped it, the task stays stopped while the stack
// updates, and it is resumed (never started) when the update has ended.
func TestAChangeSetThatModifiesTheTaskRunsOnTheStoppedTaskWhichResumesAfter(t *testing.T) {
	const stack = "TapStacktaskmod"
	key := createForTest(t, newMigration("taskmod", "taskmod", "us-east-1"))
	waitFor(t, key, "Replicating", phaseIs(paymentsv1alpha1.PhaseReplicating))
	arn := taskARN("taskmod")
	cloud.plan(stack, cfnstack.ResourceChange{LogicalID: "DmsReplicationTask", Type: "AWS::DMS::ReplicationTask", Action: "Modify", Replacement: "False"})
	cloud.mu.Lock()
	cloud.holdUpdate[stack] = true
	cloud.mu.Unlock()
	t.Cleanup(func() {
		cloud.mu.Lock()
		delete(cloud.holdUpdate, stack)
		cloud.mu.Unlock()
	})

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.LagThresholdSeconds = 90 })
	pm := waitFor(t, key, "the update running", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Stack.Status == "UPDATE_IN_PROGRESS"
	})
	if task := cloud.dms.snapshot(arn); task.status != replication.StatusStopped || task.stops != 1 {
		t.Fatalf("the change set ran on a task %s after %d stops, want stopped after 1", task.status, task.stops)
	}
	if !pm.Status.Replication.StoppedForStackUpdate || !hasHistory(pm, "DmsReplicationTask: the DMS task is stopped for it") {
		t.Errorf("the stop for the update is not recorded: %+v", pm.Status.Replication)
	}
	waitFor(t, key, "held stopped during the update", reasonIs(paymentsv1alpha1.ConditionReplicationRunning, "StoppedForStackUpdate"))
	if task := cloud.dms.snapshot(arn); task.resumes != 0 || task.starts != 1 {
		t.Fatalf("during the update: %d resumes, %d starts; want 0 and 1", task.resumes, task.starts)
	}

	cloud.mu.Lock()
	delete(cloud.holdUpdate, stack)
	cloud.mu.Unlock()
	pm = waitFor(t, key, "resumed after the update", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Stack.Status == "UPDATE_COMPLETE" && condition(pm, paymentsv1alpha1.ConditionReplicationRunning).Reason == "TaskRunning"
	})
	if task := cloud.dms.snapshot(arn); task.resumes != 1 || task.starts != 1 {
		t.Errorf("after the update: %d resumes, %d starts; want 1 and 1", task.resumes, task.starts)
	}
	if pm.Status.Replication.StoppedForStackUpdate {
		t.Error("the hold outlived the update")
	}
}
