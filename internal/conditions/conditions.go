// Package conditions keeps the PaymentMigration's conditions in the manner of
// Cluster API: one metav1.Condition per aspect, each stamped with the generation
// it describes, and a Ready summary computed from the others.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tapstack/payment-migration-operator/internal/statustext"
)

// Ready is the summary condition type.
const Ready = "Ready"

// Set records a condition and reports whether it is a transition: new, or its
// status or reason changed. A message alone is no transition: the lag and
// full-load messages carry live figures, and an Event per sample would drown
// the ones that matter. The message is updated all the same.
func Set(conds *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string) bool {
	before := meta.FindStatusCondition(*conds, condType)
	var old metav1.Condition
	if before != nil {
		old = *before
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            statustext.Truncate(message, 32768),
		ObservedGeneration: generation,
	})
	return before == nil || old.Status != status || old.Reason != reason
}

// Summarize sets Ready from the other conditions: False with the reason of the
// first False one (in the given order of importance), else Unknown with the
// first Unknown one, else True.
func Summarize(conds *[]metav1.Condition, generation int64, order []string) bool {
	var unknown *metav1.Condition
	for _, t := range order {
		c := meta.FindStatusCondition(*conds, t)
		if c == nil {
			continue
		}
		switch c.Status {
		case metav1.ConditionFalse:
			return Set(conds, generation, Ready, metav1.ConditionFalse, c.Reason, t+": "+c.Message)
		case metav1.ConditionUnknown:
			if unknown == nil {
				unknown = c
			}
		}
	}
	if unknown != nil {
		return Set(conds, generation, Ready, metav1.ConditionUnknown, unknown.Reason, unknown.Type+": "+unknown.Message)
	}
	return Set(conds, generation, Ready, metav1.ConditionTrue, "AllConditionsTrue", "every condition holds")
}
