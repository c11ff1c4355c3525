package replication

import (
	"time"
)

// The replication step of one reconcile, after preflight: the reconciler
// reads what PlanReads asks for (the task always; its lag while it runs; its
// table statistics when they are due), calls DecideStep once, and applies the
// decision: the task action, then the conditions and the phase.

// ReadPlan says what the reconciler reads for the step, besides the task.
type ReadPlan struct {
	// Lag: the task runs, so DMS publishes CDC latency to sample.
	Lag bool
	// Tables: the table statistics are due (see ValidationReadInterval).
	Tables bool
}

// ValidationClock is when the table statistics were read last and what that
// read concluded.
type ValidationClock struct {
	// LastRead is zero when they were never read.
	LastRead time.Time
	// LastReason is the DataValidated reason of that read; Current is true
	// when it was read for the spec's current generation (a spec change, say
	// validation turned on, is read at once).
	LastReason string
	Current    bool
	// Every is the read interval while validation has not settled.
	Every time.Duration
}

// due reports whether the statistics are to be read at now.
func (c ValidationClock) due(now time.Time) bool {
	return c.LastRead.IsZero() || !c.Current || now.Sub(c.LastRead) >= ValidationReadInterval(c.LastReason, c.Every)
}

// PlanReads is what the step must read, given the task and its inputs
// (everything but the lag and the statistics).
func PlanReads(in TaskInputs, validation ValidationClock, now time.Time) ReadPlan {
	running := DecideTask(in).Running
	return ReadPlan{Lag: running, Tables: running && validation.due(now)}
}

// StepInputs is everything the step observed in this reconcile.
type StepInputs struct {
	Task TaskInputs

	// Lag is the CDC latency sample, when PlanReads asked for it and the
	// read succeeded; LagError says why a read it asked for failed.
	Lag      *LagSample
	LagError string
	// LagPrev is the gate's state so far, LagGate its configuration;
	// LagReported says the gate has a condition already (before the task
	// first runs there is none to reset).
	LagPrev     LagState
	LagGate     LagGate
	LagReported bool

	// Tables are the table statistics, when PlanReads asked for them and the
	// read succeeded (TablesRead); TablesError says why a read failed.
	Tables       []TableStats
	TablesRead   bool
	TablesError  string
	ValidationOn bool

	// CDC: the task is CDC only, so it replicates without a full load.
	CDC bool
	// CutoverOwnsPhase: a cutover has started and sets the phase itself.
	CutoverOwnsPhase bool
	Now              time.Time
}

// StepPhase is the phase the step sets.
type StepPhase string

const (
	// KeepPhase leaves the phase as it is (the cutover's, or Preflight's
	// until it passes, set by the preflight stage).
	KeepPhase       StepPhase = ""
	StepFailed      StepPhase = "Failed"
	StepReplicating StepPhase = "Replicating"
	StepFullLoad    StepPhase = "FullLoad"
	StepPreflight   StepPhase = "Preflight"
)

// Condition is a condition's new value as the step decides it: Known false
// is Unknown.
type Condition struct {
	Known, True     bool
	Reason, Message string
}

// StepDecision is the step's outcome.
type StepDecision struct {
	Task TaskDecision
	// Lag is the lag gate's new condition, nil to leave it; LagState its new
	// state, and LagSampled whether the sample's figures are to be shown.
	Lag        *Condition
	LagState   LagState
	LagSampled bool
	// Validation is the DataValidated condition, nil to leave it; Aggregate
	// the figures of the statistics read.
	Validation *Condition
	Aggregate  *Validation
	Phase      StepPhase
	// PhaseMessage goes with Phase.
	PhaseMessage string
	// Busy: DMS is in a transition or the preflight waits; look again soon.
	Busy bool
}

// DecideStep decides the step from one reconcile's observations.
func DecideStep(in StepInputs) StepDecision {
	d := StepDecision{Task: DecideTask(in.Task), LagState: in.LagPrev}
	d.Busy = d.Task.Busy || !in.Task.PreflightPassed

	switch {
	case !d.Task.Running:
		// Stopped, paused, failed, in a transition: no lag to sample, and the
		// samples under the threshold before the stop do not count after it.
		if in.LagReported {
			v := LagTaskNotRunning(in.LagPrev, in.Task.Task.Status)
			d.Lag, d.LagState = &Condition{Reason: v.Reason, Message: v.Message}, v.State
		}
	case in.LagError != "":
		d.Lag = &Condition{Reason: "LagReadFailed", Message: in.LagError}
	case in.Lag != nil:
		v := EvaluateLagAt(in.LagPrev, *in.Lag, in.LagGate, in.Now)
		d.Lag = &Condition{Known: v.Known, True: v.Within, Reason: v.Reason, Message: v.Message}
		d.LagState, d.LagSampled = v.State, true
	}

	switch {
	case !d.Task.Running:
	case in.TablesError != "":
		d.Validation = &Condition{Reason: "StatisticsReadFailed", Message: in.TablesError}
	case in.TablesRead:
		v := AggregateValidation(in.Tables, in.ValidationOn)
		d.Validation = &Condition{Known: v.Known, True: v.Validated, Reason: v.Reason, Message: v.Message}
		d.Aggregate = &v
	}

	switch {
	case in.CutoverOwnsPhase:
	case d.Task.Failed:
		d.Phase, d.PhaseMessage = StepFailed, d.Task.Message
	case d.Task.Running && (in.CDC || FullLoadDone(in.Task.Task)):
		d.Phase, d.PhaseMessage = StepReplicating, "full load complete; replicating changes"
	case d.Task.Running:
		d.Phase, d.PhaseMessage = StepFullLoad, "DMS task running: full load"
	case !in.Task.PreflightPassed:
		d.Phase, d.PhaseMessage = StepPreflight, "stack ready; running the preflight checks"
	}
	return d
}
