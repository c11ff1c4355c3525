package replication

import (
	"testing"
	"time"
)

func TestPlanReadsTheLagWhileTheTaskRunsAndTheStatisticsWhenDue(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	running := TaskInputs{Task: Task{Status: StatusRunning, EverStarted: true}, PreflightPassed: true, Recorded: true}
	stopped := TaskInputs{Task: Task{Status: StatusStopped, EverStarted: true}, PreflightPassed: true, Recorded: true, Paused: true}
	pausing := running
	pausing.Paused = true
	read := func(ago time.Duration, reason string, current bool) ValidationClock {
		return ValidationClock{LastRead: now.Add(-ago), LastReason: reason, Current: current, Every: 5 * time.Minute}
	}
	for _, tc := range []struct {
		name  string
		in    TaskInputs
		clock ValidationClock
		want  ReadPlan
	}{
		{"running, never read", running, ValidationClock{Every: 5 * time.Minute}, ReadPlan{Lag: true, Tables: true}},
		{"running, read a minute ago", running, read(time.Minute, "ValidationPending", true), ReadPlan{Lag: true}},
		{"running, read 5 min ago", running, read(5*time.Minute, "ValidationPending", true), ReadPlan{Lag: true, Tables: true}},
		{"running, settled 10 min ago", running, read(10*time.Minute, "Validated", true), ReadPlan{Lag: true}},
		{"running, settled 30 min ago", running, read(30*time.Minute, "Validated", true), ReadPlan{Lag: true, Tables: true}},
		{"running, read for an older spec", running, read(time.Second, "Validated", false), ReadPlan{Lag: true, Tables: true}},
		{"being paused", pausing, ValidationClock{}, ReadPlan{}},
		{"stopped", stopped, ValidationClock{}, ReadPlan{}},
	} {
		if got := PlanReads(tc.in, tc.clock, now); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDecideStepComposesTheTaskTheLagTheValidationAndThePhase(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	low := 2.0
	fresh := &LagSample{Source: &low, Target: &low, Time: now.Add(-time.Minute)}
	running := TaskInputs{Task: Task{Status: StatusRunning, EverStarted: true, FullLoadPercent: 100, TablesLoaded: 4}, PreflightPassed: true, Recorded: true}
	loading := TaskInputs{Task: Task{Status: StatusRunning, EverStarted: true, FullLoadPercent: 40, TablesLoading: 2}, PreflightPassed: true, Recorded: true}
	stopped := TaskInputs{Task: Task{Status: StatusStopped, EverStarted: true}, PreflightPassed: true, Recorded: true, Paused: true}
	failed := TaskInputs{Task: Task{Status: StatusFailed, EverStarted: true, LastFailureMessage: "boom"}, PreflightPassed: true, Recorded: true}
	waiting := TaskInputs{Task: Task{Status: StatusReady}}
	gate := LagGate{ThresholdSeconds: 30, Required: 1}
	validated := []TableStats{{Schema: "public", Table: "payments", TableState: "Table completed", ValidationState: "Validated"}}
	for _, tc := range []struct {
		name       string
		in         StepInputs
		phase      StepPhase
		lag        string // reason, "" for no change
		lagKnown   bool
		validation string
		busy       bool
	}{
		{"replicating, lag and statistics read", StepInputs{Task: running, Lag: fresh, LagGate: gate, Tables: validated, TablesRead: true, ValidationOn: true, Now: now},
			StepReplicating, "LagWithinThreshold", true, "Validated", false},
		{"full load, lag read", StepInputs{Task: loading, Lag: fresh, LagGate: gate, Now: now}, StepFullLoad, "LagWithinThreshold", true, "", false},
		{"a lag read that failed", StepInputs{Task: running, LagError: "throttled", LagGate: gate, Now: now}, StepReplicating, "LagReadFailed", false, "", false},
		{"statistics that failed", StepInputs{Task: running, Lag: fresh, LagGate: gate, TablesError: "throttled", Now: now}, StepReplicating, "LagWithinThreshold", true, "StatisticsReadFailed", false},
		{"paused, gate reported", StepInputs{Task: stopped, LagReported: true, LagPrev: LagState{Consecutive: 3}, Now: now}, KeepPhase, "TaskNotRunning", false, "", false},
		{"paused, no gate yet", StepInputs{Task: stopped, Now: now}, KeepPhase, "", false, "", false},
		{"failed", StepInputs{Task: failed, LagReported: true, Now: now}, StepFailed, "TaskNotRunning", false, "", false},
		{"waiting for preflight", StepInputs{Task: waiting, Now: now}, StepPreflight, "", false, "", true},
		{"the cutover owns the phase", StepInputs{Task: running, Lag: fresh, LagGate: gate, CutoverOwnsPhase: true, Now: now}, KeepPhase, "LagWithinThreshold", true, "", false},
	} {
		d := DecideStep(tc.in)
		if d.Phase != tc.phase || d.Busy != tc.busy {
			t.Errorf("%s: phase %q busy %t, want %q %t", tc.name, d.Phase, d.Busy, tc.phase, tc.busy)
		}
		switch {
		case tc.lag == "" && d.Lag != nil:
			t.Errorf("%s: lag condition %+v, want none", tc.name, *d.Lag)
		case tc.lag != "" && (d.Lag == nil || d.Lag.Reason != tc.lag || d.Lag.Known != tc.lagKnown):
			t.Errorf("%s: lag condition %+v, want %s known=%t", tc.name, d.Lag, tc.lag, tc.lagKnown)
		}
		if d.Lag != nil && d.Lag.Reason == "TaskNotRunning" && d.LagState.Consecutive != 0 {
			t.Errorf("%s: the count survives the stop: %+v", tc.name, d.LagState)
		}
		switch {
		case tc.validation == "" && d.Validation != nil:
			t.Errorf("%s: validation %+v, want none", tc.name, *d.Validation)
		case tc.validation != "" && (d.Validation == nil || d.Validation.Reason != tc.validation):
			t.Errorf("%s: validation %+v, want %s", tc.name, d.Validation, tc.validation)
		}
	}
}
