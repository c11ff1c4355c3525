package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/conditions"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/migration"
	"github.com/tapstack/payment-migration-operator/internal/statustext"
)

// maxHistory bounds status.history (the API allows 50).
const maxHistory = 50

// statusWriter collects one reconcile's status changes, turns every transition
// into an Event and a history entry, and writes the status once at the end.
type statusWriter struct {
	r    *PaymentMigrationReconciler
	pm   *paymentsv1alpha1.PaymentMigration
	base *paymentsv1alpha1.PaymentMigration
	// phaseInputs gather, as the pass decides and acts, what the phase
	// follows from (migration.Phase); settlePhase applies it.
	phaseInputs migration.PhaseInputs
}

func newStatusWriter(r *PaymentMigrationReconciler, pm *paymentsv1alpha1.PaymentMigration) *statusWriter {
	s := &statusWriter{r: r, pm: pm, base: pm.DeepCopy()}
	s.phaseInputs.Current = pm.Status.Phase
	if c := pm.Status.Cutover; c != nil {
		s.phaseInputs.Cutover, s.phaseInputs.CutoverMessage = cutover.State(c.State), c.Message
	}
	return s
}

// settlePhase moves the phase to what migration.Phase says of the pass so
// far: once the stack has acted and once the replication step has (so that
// what a stage records in history is recorded under the phase it acts in),
// before each record of the cutover's intent, and before the status is
// written.
func (s *statusWriter) settlePhase() {
	p, msg := migration.Phase(s.phaseInputs)
	s.phase(p, msg)
}

// stack returns status.stack, created on first use.
func (s *statusWriter) stack(name string) *paymentsv1alpha1.StackStatus {
	if s.pm.Status.Stack == nil {
		s.pm.Status.Stack = &paymentsv1alpha1.StackStatus{}
	}
	s.pm.Status.Stack.Name = name
	return s.pm.Status.Stack
}

// replication returns status.replication, created on first use.
func (s *statusWriter) replication() *paymentsv1alpha1.ReplicationStatus {
	if s.pm.Status.Replication == nil {
		s.pm.Status.Replication = &paymentsv1alpha1.ReplicationStatus{}
	}
	return s.pm.Status.Replication
}

// bucketDeletion returns the deletion progress of a bucket, created on first use.
func (s *statusWriter) bucketDeletion(name string) *paymentsv1alpha1.BucketDeletion {
	if s.pm.Status.Deletion == nil {
		s.pm.Status.Deletion = &paymentsv1alpha1.DeletionStatus{}
	}
	d := s.pm.Status.Deletion
	for i := range d.Buckets {
		if d.Buckets[i].Name == name {
			return &d.Buckets[i]
		}
	}
	d.Buckets = append(d.Buckets, paymentsv1alpha1.BucketDeletion{Name: name})
	return &d.Buckets[len(d.Buckets)-1]
}

// history records something the operator did that is not a phase change.
func (s *statusWriter) history(message string) {
	s.appendHistory(paymentsv1alpha1.HistoryEntry{
		Time: metav1.NewTime(s.r.now()), Actor: Operator, Phase: s.pm.Status.Phase, Message: statustext.Truncate(message, 1024),
	})
	s.r.event(s.pm, corev1.EventTypeNormal, "Action", "Reconcile", message)
}

func (s *statusWriter) appendHistory(entry paymentsv1alpha1.HistoryEntry) {
	s.pm.Status.History = append(s.pm.Status.History, entry)
	if n := len(s.pm.Status.History); n > maxHistory {
		s.pm.Status.History = s.pm.Status.History[n-maxHistory:]
	}
}

// condition records a condition; a transition becomes an Event.
func (s *statusWriter) condition(condType string, status metav1.ConditionStatus, reason, message string) {
	if !conditions.Set(&s.pm.Status.Conditions, s.pm.Generation, condType, status, reason, message) {
		return
	}
	eventType := corev1.EventTypeNormal
	if status == metav1.ConditionFalse && isWarning(reason) {
		eventType = corev1.EventTypeWarning
	}
	s.r.event(s.pm, eventType, reason, condType, fmt.Sprintf("%s=%s: %s", condType, status, message))
}

// forget removes conditions that no longer describe anything (their subject
// was replaced); the next observations set them afresh.
func (s *statusWriter) forget(condTypes ...string) {
	for _, t := range condTypes {
		meta.RemoveStatusCondition(&s.pm.Status.Conditions, t)
	}
}

// phase moves the display phase; a change is recorded in history and as an
// Event. Only settlePhase calls it: migration.Phase chooses the phase.
func (s *statusWriter) phase(p paymentsv1alpha1.Phase, message string) {
	if s.pm.Status.Phase == p {
		return
	}
	from := s.pm.Status.Phase
	s.pm.Status.Phase = p
	entry := paymentsv1alpha1.HistoryEntry{
		Time:    metav1.NewTime(s.r.now()),
		Actor:   Operator,
		Phase:   p,
		Message: statustext.Truncate(fmt.Sprintf("%s -> %s: %s", orNone(from), p, message), 1024),
	}
	s.appendHistory(entry)
	eventType := corev1.EventTypeNormal
	if p == paymentsv1alpha1.PhaseFailed {
		eventType = corev1.EventTypeWarning
	}
	s.r.event(s.pm, eventType, "Phase"+string(p), "Transition", entry.Message)
}

// patch summarises Ready, stamps observedGeneration and writes the status if it
// changed. The patch carries the resourceVersion the reconcile read: a
// reconcile that decided on a stale copy (the cache lags the API server by
// a few milliseconds, and a migration can be requeued sooner) must not
// overwrite what a newer one recorded; it fails with a conflict, and the
// next reconcile decides again from fresh state.
func (s *statusWriter) patch(ctx context.Context) error {
	required, optional := splitReadyConditions(readyConditions(s.pm))
	conditions.Summarize(&s.pm.Status.Conditions, s.pm.Generation, required, optional...)
	s.pm.Status.ObservedGeneration = s.pm.Generation
	if apiequality.Semantic.DeepEqual(s.base.Status, s.pm.Status) {
		return nil
	}
	if err := s.r.Status().Patch(ctx, s.pm, client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	s.base = s.pm.DeepCopy()
	return nil
}

// notRequiredUntilSet are the conditions of readyConditions that Ready does
// not wait for until something sets them; every other one must be reported
// (a condition never set is Unknown in Ready, not passing).
//
// TargetHealthy is read from Route 53 by the cutover's gates, once the
// migration replicates; before that nothing sets it, and requiring it would
// hold Ready at Unknown through provisioning and the full load. It counts
// from the moment it is set (a False or Unknown TargetHealthy then holds
// Ready down).
var notRequiredUntilSet = map[string]bool{paymentsv1alpha1.ConditionTargetHealthy: true}

func splitReadyConditions(order []string) (required, optional []string) {
	for _, t := range order {
		if notRequiredUntilSet[t] {
			optional = append(optional, t)
		} else {
			required = append(required, t)
		}
	}
	return required, optional
}

// progressReasons are condition reasons that describe normal progress: their
// transitions are Normal events, every other False condition is a Warning.
var progressReasons = map[string]bool{
	"Creating": true, "Updating": true, "Deleting": true, "StoppingReplication": true,
	"CreateInProgress": true, "UpdateInProgress": true, "DeleteInProgress": true, "UpdateCompleteCleanupInProgress": true,
	"Starting": true, "Resuming": true, "Pausing": true, "Paused": true, "StoppedAtFlip": true, "StoppedForStackUpdate": true, "StoppingTaskForUpdate": true, "FullLoadFinished": true,
	"TaskStarting": true, "TaskStopping": true, "TaskCreating": true, "TaskModifying": true, "TaskTesting": true, "TaskMoving": true,
	"WaitingForPreflight": true, "TestingConnections": true, "RebootingSource": true, "ParameterApplying": true,
	"InstanceNotAvailable": true, "StartUnconfirmed": true, "LagSettling": true, "NoLagData": true, "TaskNotRunning": true, "RebootRequested": true, "ValidationPending": true, "NoTableStatistics": true,
}

func isWarning(reason string) bool { return !progressReasons[reason] }

func orNone(p paymentsv1alpha1.Phase) string {
	if p == "" {
		return "(new)"
	}
	return string(p)
}

func findCondition(pm *paymentsv1alpha1.PaymentMigration, condType string) *metav1.Condition {
	return meta.FindStatusCondition(pm.Status.Conditions, condType)
}
