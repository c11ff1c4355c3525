package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/conditions"
)

// maxHistory bounds status.history (the API allows 50).
const maxHistory = 50

// statusWriter collects one reconcile's status changes, turns every transition
// into an Event and a history entry, and writes the status once at the end.
type statusWriter struct {
	r    *PaymentMigrationReconciler
	pm   *paymentsv1alpha1.PaymentMigration
	base *paymentsv1alpha1.PaymentMigration
}

func newStatusWriter(r *PaymentMigrationReconciler, pm *paymentsv1alpha1.PaymentMigration) *statusWriter {
	return &statusWriter{r: r, pm: pm, base: pm.DeepCopy()}
}

// stack returns status.stack, created on first use.
func (s *statusWriter) stack(name string) *paymentsv1alpha1.StackStatus {
	if s.pm.Status.Stack == nil {
		s.pm.Status.Stack = &paymentsv1alpha1.StackStatus{}
	}
	s.pm.Status.Stack.Name = name
	return s.pm.Status.Stack
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

// phase moves the display phase; a change is recorded in history and as an Event.
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
		Message: truncate(fmt.Sprintf("%s -> %s: %s", orNone(from), p, message), 1024),
	}
	s.pm.Status.History = append(s.pm.Status.History, entry)
	if n := len(s.pm.Status.History); n > maxHistory {
		s.pm.Status.History = s.pm.Status.History[n-maxHistory:]
	}
	eventType := corev1.EventTypeNormal
	if p == paymentsv1alpha1.PhaseFailed {
		eventType = corev1.EventTypeWarning
	}
	s.r.event(s.pm, eventType, "Phase"+string(p), "Transition", entry.Message)
}

// patch summarises Ready, stamps observedGeneration and writes the status if it
// changed. A merge patch without resourceVersion never conflicts with spec edits.
func (s *statusWriter) patch(ctx context.Context) error {
	conditions.Summarize(&s.pm.Status.Conditions, s.pm.Generation, readyOrder)
	s.pm.Status.ObservedGeneration = s.pm.Generation
	if apiequality.Semantic.DeepEqual(s.base.Status, s.pm.Status) {
		return nil
	}
	if err := s.r.Status().Patch(ctx, s.pm, client.MergeFrom(s.base)); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	s.base = s.pm.DeepCopy()
	return nil
}

func isWarning(reason string) bool {
	switch reason {
	case "Creating", "Updating", "Deleting", "StoppingReplication", "CreateInProgress", "UpdateInProgress", "DeleteInProgress", "UpdateCompleteCleanupInProgress":
		return false
	}
	return true
}

func orNone(p paymentsv1alpha1.Phase) string {
	if p == "" {
		return "(new)"
	}
	return string(p)
}
