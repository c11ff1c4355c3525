package controllers

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// taskOutlivesStackChange reports the stack statuses in which the stack's
// resources, the DMS task among them, stand while the stack is not ready: an
// update running or cleaning up, rolled back, or failed in a way a human must
// resolve. The task replicates through all of them. (A creation that failed
// or a deletion has no task to watch.)
func taskOutlivesStackChange(status string) bool {
	switch status {
	case "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
		"UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
		"UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED",
		"IMPORT_IN_PROGRESS", "IMPORT_COMPLETE_CLEANUP_IN_PROGRESS", "IMPORT_ROLLBACK_IN_PROGRESS",
		"IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED":
		return true
	}
	return false
}

// replicationStarted reports whether replication was handed the stack once:
// it has a task to watch, named by the stack's last good outputs.
func replicationStarted(pm *paymentsv1alpha1.PaymentMigration) bool {
	return pm.Status.Replication != nil && pm.Status.Replication.TaskARN != "" &&
		pm.Status.Stack != nil && pm.Status.Stack.Outputs[tapstack.OutputDMSTaskArn] != ""
}

// watchThroughStackChange keeps reconciling the DMS task while the stack is
// updated, rolled back or failed: a pause must still stop the task, a task
// failure must still show, and lag and validation must not freeze at their
// last values (a lag gate reading True on stale figures could let a cutover
// start). A cutover in progress goes on too: its freeze is bounded by its own
// timeout, which only a reconcile can enforce. StackReady tells the stack's
// side; the phase stays replication's, except that a stack a human must
// repair keeps the migration Failed.
func (r *PaymentMigrationReconciler) watchThroughStackChange(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, aws AWSClients, stackNext time.Duration) (ctrl.Result, error) {
	if pm.Status.Phase == paymentsv1alpha1.PhaseFailed {
		st.pinPhase()
	}
	next, err := r.reconcileReplication(ctx, pm, st, aws.Replication, aws.SQL)
	if err != nil {
		return ctrl.Result{}, err
	}
	if cutoverActive(pm) {
		cutoverNext, err := r.reconcileCutover(ctx, pm, st, aws)
		if err != nil {
			return ctrl.Result{}, err
		}
		next = min(next, cutoverNext)
	}
	return ctrl.Result{RequeueAfter: min(next, stackNext)}, nil
}
