package conditions

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetReportsTransitionsOnly(t *testing.T) {
	var conds []metav1.Condition
	if !Set(&conds, 1, "StackReady", metav1.ConditionFalse, "Creating", "creating") {
		t.Fatal("first set must be a transition")
	}
	if Set(&conds, 2, "StackReady", metav1.ConditionFalse, "Creating", "creating") {
		t.Error("same status, reason and message is not a transition")
	}
	if got := meta.FindStatusCondition(conds, "StackReady").ObservedGeneration; got != 2 {
		t.Errorf("observedGeneration = %d, want it refreshed to 2", got)
	}
	if Set(&conds, 2, "StackReady", metav1.ConditionFalse, "Creating", "creating: 40 of 85 resources") {
		t.Error("a new message alone is not a transition")
	}
	if got := meta.FindStatusCondition(conds, "StackReady").Message; got != "creating: 40 of 85 resources" {
		t.Errorf("message = %q, want the new one", got)
	}
	if !Set(&conds, 2, "StackReady", metav1.ConditionFalse, "CreateFailed", "creating: 40 of 85 resources") {
		t.Error("a reason change is a transition")
	}
	if !Set(&conds, 2, "StackReady", metav1.ConditionTrue, "CreateFailed", "done") {
		t.Error("a status change is a transition")
	}
}

func TestSummarize(t *testing.T) {
	order := []string{"StackReady", "PreflightPassed", "LagWithinThreshold"}
	cases := []struct {
		name       string
		set        map[string]metav1.ConditionStatus
		wantStatus metav1.ConditionStatus
		wantReason string
	}{
		{"all true", map[string]metav1.ConditionStatus{"StackReady": "True", "PreflightPassed": "True", "LagWithinThreshold": "True"}, "True", "AllConditionsTrue"},
		{"first false wins over unknown", map[string]metav1.ConditionStatus{"StackReady": "Unknown", "PreflightPassed": "False"}, "False", "PreflightPassedReason"},
		{"false in order of importance", map[string]metav1.ConditionStatus{"StackReady": "False", "LagWithinThreshold": "False"}, "False", "StackReadyReason"},
		{"unknown when nothing is false", map[string]metav1.ConditionStatus{"StackReady": "True", "PreflightPassed": "True", "LagWithinThreshold": "Unknown"}, "Unknown", "LagWithinThresholdReason"},
		{"a required condition never set is Unknown, not passing", map[string]metav1.ConditionStatus{"StackReady": "True", "LagWithinThreshold": "True"}, "Unknown", "PreflightPassedNotReported"},
		{"nothing set yet", map[string]metav1.ConditionStatus{}, "Unknown", "StackReadyNotReported"},
		{"false wins over a missing one", map[string]metav1.ConditionStatus{"StackReady": "True", "LagWithinThreshold": "False"}, "False", "LagWithinThresholdReason"},
		{"the first of missing and unknown is named", map[string]metav1.ConditionStatus{"StackReady": "Unknown"}, "Unknown", "StackReadyReason"},
		{"an optional condition not set is not waited for", map[string]metav1.ConditionStatus{"StackReady": "True", "PreflightPassed": "True", "LagWithinThreshold": "True"}, "True", "AllConditionsTrue"},
		{"an optional condition counts once set", map[string]metav1.ConditionStatus{"StackReady": "True", "PreflightPassed": "True", "LagWithinThreshold": "True", "TargetHealthy": "False"}, "False", "TargetHealthyReason"},
		{"an optional Unknown counts too", map[string]metav1.ConditionStatus{"StackReady": "True", "PreflightPassed": "True", "LagWithinThreshold": "True", "TargetHealthy": "Unknown"}, "Unknown", "TargetHealthyReason"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conds []metav1.Condition
			for _, typ := range append(order, "TargetHealthy") {
				if st, ok := tc.set[typ]; ok {
					Set(&conds, 1, typ, st, typ+"Reason", "msg")
				}
			}
			Summarize(&conds, 1, order, "TargetHealthy")
			ready := meta.FindStatusCondition(conds, Ready)
			if ready.Status != tc.wantStatus || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %s/%s, want %s/%s", ready.Status, ready.Reason, tc.wantStatus, tc.wantReason)
			}
			if tc.wantReason == "PreflightPassedNotReported" && ready.Message != "PreflightPassed: not reported yet; Ready waits for it" {
				t.Errorf("Ready message %q does not name the missing condition", ready.Message)
			}
		})
	}
}

func TestLongMessagesAreTruncated(t *testing.T) {
	var conds []metav1.Condition
	long := make([]byte, 40000)
	for i := range long {
		long[i] = 'x'
	}
	Set(&conds, 1, "StackReady", metav1.ConditionFalse, "Failed", string(long))
	if n := len(conds[0].Message); n > 32768 {
		t.Errorf("message is %d bytes, over the API limit", n)
	}
}
