package migration

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
	"github.com/tapstack/payment-migration-operator/internal/traffic"
)

const hash = "sha256:aa"

func stackAt(status, applied string) Stack {
	return Stack{Plan: stackplan.Inputs{
		Observed:    cfnstack.Observation{Exists: status != "", ID: "stack-1", Status: status},
		DesiredHash: hash, AppliedHash: applied, MaxAttempts: 3,
	}}
}

func TestDecideStackAndHowFarThePassGoes(t *testing.T) {
	started := func(s Stack) Stack { s.ReplicationStarted = true; return s }
	me := stackplan.Owner{UID: "uid-1", Namespace: "ns", Name: "pm"}
	owned := func(s Stack, tags map[string]string) Stack {
		s.Ownership = &stackplan.OwnershipInputs{StackName: "TapStackdev", Tags: tags, Me: me}
		return s
	}
	for _, tc := range []struct {
		name          string
		stack         Stack
		cutoverActive bool
		action        stackplan.Action
		stage         Stage
		reason        string
	}{
		{"no stack yet", stackAt("", ""), false, stackplan.Create, StackOnly, ""},
		{"being created", stackAt("CREATE_IN_PROGRESS", hash), false, stackplan.None, StackOnly, ""},
		{"ready", stackAt("CREATE_COMPLETE", hash), false, stackplan.None, HandOver, ""},
		{"the last observation stands", Stack{Fresh: true}, false, stackplan.None, HandOver, ""},
		{"a new template before replication", stackAt("CREATE_COMPLETE", "sha256:old"), false, stackplan.Update, StackOnly, ""},
		{"a new template under a running task", started(stackAt("UPDATE_COMPLETE", "sha256:old")), false, stackplan.Update, Watch, ""},
		{"a new template during a cutover waits", started(stackAt("UPDATE_COMPLETE", "sha256:old")), true, stackplan.None, HandOver, "UpdateDeferred"},
		{"an update running under the task", started(stackAt("UPDATE_IN_PROGRESS", hash)), false, stackplan.None, Watch, ""},
		{"a failed update under the task", started(stackAt("UPDATE_ROLLBACK_FAILED", hash)), false, stackplan.None, Watch, ""},
		{"a creation rolled back has no task", started(stackAt("ROLLBACK_COMPLETE", hash)), false, stackplan.RecreateRolledBack, StackOnly, ""},
		{"another migration's stack", owned(stackAt("CREATE_COMPLETE", hash), map[string]string{stackplan.OwnerUIDTag: "uid-2", stackplan.OwnerTag: "ns/other"}), false, "", StackOnly, ""},
		{"this migration's stack", owned(stackAt("CREATE_COMPLETE", hash), map[string]string{stackplan.OwnerUIDTag: "uid-1"}), false, stackplan.None, HandOver, ""},
	} {
		d, stage := DecideStack(tc.stack, tc.cutoverActive)
		if stage != tc.stage {
			t.Errorf("%s: stage %s, want %s", tc.name, stage, tc.stage)
		}
		if tc.action == "" {
			if d.Ownership == nil {
				t.Errorf("%s: no ownership verdict", tc.name)
			}
			continue
		}
		if d.Plan.Action != tc.action || (tc.reason != "" && d.Plan.Reason != tc.reason) {
			t.Errorf("%s: %s (%s), want %s %s", tc.name, d.Plan.Action, d.Plan.Reason, tc.action, tc.reason)
		}
	}
}

func TestTheTaskIsWatchedInEveryStackStatusWhereItStandsAndNoOther(t *testing.T) {
	for status, want := range map[string]bool{
		"UPDATE_IN_PROGRESS": true, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": true,
		"UPDATE_ROLLBACK_IN_PROGRESS": true, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": true,
		"UPDATE_ROLLBACK_COMPLETE": true, "UPDATE_ROLLBACK_FAILED": true, "UPDATE_FAILED": true,
		"IMPORT_ROLLBACK_COMPLETE": true,
		// Ready stacks are handed over; in these the task does not exist,
		// or is about to go.
		"CREATE_COMPLETE": false, "UPDATE_COMPLETE": false, "CREATE_IN_PROGRESS": false, "CREATE_FAILED": false,
		"ROLLBACK_IN_PROGRESS": false, "ROLLBACK_COMPLETE": false, "ROLLBACK_FAILED": false,
		"DELETE_IN_PROGRESS": false, "DELETE_FAILED": false, "DELETE_COMPLETE": false, "REVIEW_IN_PROGRESS": false, "": false,
	} {
		if got := TaskOutlivesStackChange(status); got != want {
			t.Errorf("TaskOutlivesStackChange(%q) = %v, want %v", status, got, want)
		}
	}
}

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// replicating is a pass over a ready stack with a running CDC task whose
// lag sample is under the threshold for the last required sample.
func replicating() Observation {
	return Observation{
		Now: now, Generation: 3, Phase: paymentsv1alpha1.PhaseReplicating,
		Conditions: []metav1.Condition{
			{Type: paymentsv1alpha1.ConditionPreflightPassed, Status: metav1.ConditionTrue, Reason: "Passed"},
			{Type: paymentsv1alpha1.ConditionLagWithinThreshold, Status: metav1.ConditionFalse, Reason: "LagSettling", Message: "2 of 3 samples"},
		},
		Stack: Stack{Fresh: true, ReplicationStarted: true},
		Replication: &Replication{Step: replication.StepInputs{
			Task:        replication.TaskInputs{Task: replication.Task{Status: "running", EverStarted: true}, PreflightPassed: true, Recorded: true},
			Lag:         &replication.LagSample{Source: ptr(1), Target: ptr(1), Time: now.Add(-time.Second)},
			LagPrev:     replication.LagState{Consecutive: 2, LastSample: now.Add(-time.Minute)},
			LagGate:     replication.LagGate{ThresholdSeconds: 5, Required: 3},
			LagReported: true, CDC: true, Now: now,
		}},
	}
}

func ptr(f float64) *float64 { return &f }

func cutoverAt(state cutover.State) *Cutover {
	return &Cutover{
		Spec:   cutover.Spec{Steps: []int32{10, 50, 100}, Approved: true, ReversePath: true, StepInterval: time.Minute, FreezeTimeout: time.Minute},
		Record: cutover.Record{State: state, Step: -1},
		World:  cutover.World{Routes: cutover.SourceRoutes, Fenced: map[naming.Side]bool{}},
		Gates: []cutover.Gate{
			{Name: "alarms", State: cutover.Pass, Message: "none"},
			{Name: "source transactions", State: cutover.Pass, Message: "none"},
		},
		Health: &Health{Health: traffic.Health{Checkers: 3, Healthy: 3}},
	}
}

// The gates are read from the conditions as this pass's step leaves them:
// the lag sample that completes the run of samples under the threshold
// opens the lag gate in the same pass, and the approved cutover starts.
func TestTheGatesReadTheConditionsThisPassLeaves(t *testing.T) {
	o := replicating()
	o.Cutover = cutoverAt(cutover.Idle)
	if !CutoverDue(o, o.Cutover.Record) {
		t.Fatal("a replicating migration's cutover is not due")
	}
	d := Decide(o)
	if d.Stage != HandOver || d.Step == nil || d.Step.Lag == nil || !d.Step.Lag.True {
		t.Fatalf("the step's lag gate did not open: %+v", d.Step)
	}
	if d.Cutover == nil || d.Cutover.First == nil {
		t.Fatal("no cutover decision")
	}
	ready := find(d.Cutover.Conditions, paymentsv1alpha1.ConditionCutoverReady)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		t.Fatalf("CutoverReady %+v, want True", ready)
	}
	if !strings.Contains(ready.Message, "lag") {
		t.Errorf("CutoverReady says nothing of the lag gate: %s", ready.Message)
	}
	if h := find(d.Cutover.Conditions, paymentsv1alpha1.ConditionTargetHealthy); h == nil || h.Status != metav1.ConditionTrue || d.Cutover.HealthCheckStatus != "Healthy" {
		t.Errorf("TargetHealthy %+v / %q, want True / Healthy", h, d.Cutover.HealthCheckStatus)
	}
	if got := d.Cutover.First.Record.State; got != cutover.Stepping {
		t.Errorf("the approved cutover with every gate passing is %s, want Stepping", got)
	}

	// A lag sample over the threshold closes the gate in the same pass.
	o.Replication.Step.Lag = &replication.LagSample{Source: ptr(60), Target: ptr(60), Time: now.Add(-time.Second)}
	d = Decide(o)
	ready = find(d.Cutover.Conditions, paymentsv1alpha1.ConditionCutoverReady)
	if ready.Status == metav1.ConditionTrue || d.Cutover.First.Record.State == cutover.Stepping {
		t.Errorf("a lag over the threshold this pass: CutoverReady %s, cutover %s", ready.Status, d.Cutover.First.Record.State)
	}
}

func TestTheCutoverIsNotDueBeforeReplicationOrWhileAStackIsBeingMade(t *testing.T) {
	o := replicating()
	o.Phase = paymentsv1alpha1.PhaseFullLoad
	o.Replication.Step.CDC = false
	o.Replication.Step.Task.Task.FullLoadPercent = 40
	if CutoverDue(o, cutover.Record{State: cutover.Idle}) {
		t.Error("due during the full load")
	}
	if !CutoverDue(o, cutover.Record{State: cutover.Stepping}) {
		t.Error("a cutover that began is not due")
	}
	o = replicating()
	o.Stack = stackAt("CREATE_IN_PROGRESS", hash)
	if CutoverDue(o, cutover.Record{State: cutover.Stepping}) {
		t.Error("due while the stack is created")
	}
	o.Stack = stackAt("UPDATE_IN_PROGRESS", hash)
	o.Stack.ReplicationStarted = true
	if CutoverDue(o, cutover.Record{State: cutover.Completed}) {
		t.Error("a completed cutover is due while the stack updates")
	}
	o.CutoverActive = true
	if !CutoverDue(o, cutover.Record{State: cutover.Freezing}) {
		t.Error("a freeze is not due while the stack updates: its timeout must be enforced")
	}
}

// Until the preflight passes, its verdict and actions are decided and the
// task is not started: it starts on a later pass, once the pass is recorded.
func TestThePreflightIsDecidedBeforeTheTaskStarts(t *testing.T) {
	o := replicating()
	o.Phase = paymentsv1alpha1.PhasePreflight
	o.Conditions = nil
	o.Replication.Step = replication.StepInputs{Task: replication.TaskInputs{Task: replication.Task{Status: "ready"}}, Now: now}
	o.Replication.Preflight = &replication.PreflightObservation{SourceDBStatus: "available", Now: now}
	d := Decide(o)
	if d.Preflight == nil || d.Preflight.Passed {
		t.Fatalf("preflight %+v, want a failing verdict", d.Preflight)
	}
	if d.Step.Task.Action != replication.NoAction {
		t.Errorf("the task is %s before the preflight passed", d.Step.Task.Action)
	}
	if p, _ := Phase(PhaseInputs{Current: o.Phase, Stage: d.Stage, Step: d.Step.Phase}); p != paymentsv1alpha1.PhasePreflight {
		t.Errorf("phase %s, want Preflight", p)
	}
}

func find(cs []Condition, t string) *Condition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}
