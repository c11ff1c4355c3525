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
//
// Every condition of required must be present: one that was never set has not
// been shown to hold, so Ready is Unknown (reason "<Type>NotReported") until
// it is, never True by omission. A condition of optional counts once it is
// set and is not waited for until then (for conditions that only a later step
// reports; the caller says why each is optional).
func Summarize(conds *[]metav1.Condition, generation int64, required []string, optional ...string) bool {
	var unknown *metav1.Condition
	var missing string
	look := func(t string, mustExist bool) *metav1.Condition {
		c := meta.FindStatusCondition(*conds, t)
		switch {
		case c == nil:
			if mustExist && missing == "" && unknown == nil {
				missing = t
			}
			return nil
		case c.Status == metav1.ConditionFalse:
			return c
		case c.Status != metav1.ConditionTrue && missing == "" && unknown == nil:
			// Unknown, or a status the API does not define: not shown to hold.
			cp := *c
			unknown = &cp
		}
		return nil
	}
	for _, t := range required {
		if c := look(t, true); c != nil {
			return Set(conds, generation, Ready, metav1.ConditionFalse, c.Reason, t+": "+c.Message)
		}
	}
	for _, t := range optional {
		if c := look(t, false); c != nil {
			return Set(conds, generation, Ready, metav1.ConditionFalse, c.Reason, t+": "+c.Message)
		}
	}
	switch {
	case missing != "":
		return Set(conds, generation, Ready, metav1.ConditionUnknown, missing+"NotReported", missing+": not reported yet; Ready waits for it")
	case unknown != nil:
		return Set(conds, generation, Ready, metav1.ConditionUnknown, unknown.Reason, unknown.Type+": "+unknown.Message)
	}
	return Set(conds, generation, Ready, metav1.ConditionTrue, "AllConditionsTrue", "every condition holds")
}
