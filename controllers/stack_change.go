package controllers

import (
	"context"
	"fmt"
	"strings"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// replicationStarted reports whether replication was handed the stack once:
// it has a task to watch, named by the stack's last good outputs.
func replicationStarted(pm *paymentsv1alpha1.PaymentMigration) bool {
	return pm.Status.Replication != nil && pm.Status.Replication.TaskARN != "" &&
		pm.Status.Stack != nil && pm.Status.Stack.Outputs[tapstack.OutputDMSTaskArn] != ""
}

// stopTaskFirst marks the refusal of a change set that modifies a running
// DMS task: not a refusal for good, the update runs once the task stopped.
const stopTaskFirst = "stop the task first: "

// updateGuard reads a change set before it runs: the replacement guard
// first, then, for a change set that modifies the DMS task, the task's
// status. DMS modifies only a stopped task; a running one is stopped first,
// with stoppedForStackUpdate recorded before (so no reconcile resumes it
// while the update runs, whatever happens to this one), and the change set
// runs on a later reconcile, once DMS reports the task stopped.
func (r *PaymentMigrationReconciler) updateGuard(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, aws AWSClients, replacement cfnstack.Guard) cfnstack.Guard {
	return func(changes []cfnstack.ResourceChange) string {
		if reason := replacement(changes); reason != "" {
			return reason
		}
		ids := stackplan.ModifiedTasks(changes)
		taskARN := ""
		if pm.Status.Stack != nil {
			taskARN = pm.Status.Stack.Outputs[tapstack.OutputDMSTaskArn]
		}
		if len(ids) == 0 || taskARN == "" || aws.Replication == nil {
			return ""
		}
		if repl := st.replication(); !repl.StoppedForStackUpdate {
			repl.StoppedForStackUpdate = true
			if err := st.patch(ctx); err != nil {
				return stopTaskFirst + "recording that the task stops for the update failed: " + err.Error()
			}
			st.history(fmt.Sprintf("the stack update modifies %s: the DMS task is stopped for it and resumed after", strings.Join(ids, ", ")))
		}
		task, err := aws.Replication.Task(ctx, taskARN)
		if err != nil {
			return stopTaskFirst + "reading the task: " + err.Error()
		}
		if !stackplan.TaskModifiable(task.Status) {
			return stopTaskFirst + fmt.Sprintf("the change set modifies %s, which DMS changes only when the task is stopped (it is %s): stopping it; the update runs once it has stopped, and the task resumes (resume-processing) when the update ends",
				strings.Join(ids, ", "), task.Status)
		}
		return ""
	}
}

// updateEnded lifts the hold on the task once the stack update that
// modified it is over (completed or rolled back): the task resumes.
func updateEnded(st *statusWriter) {
	if repl := st.replication(); repl.StoppedForStackUpdate {
		repl.StoppedForStackUpdate = false
		st.history("the stack update has ended: the DMS task resumes")
	}
}
