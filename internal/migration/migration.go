// Package migration is the decision of one reconcile of a PaymentMigration:
// the stack's (internal/stackplan), the replication step's
// (internal/replication) and the cutover's (internal/cutover), composed
// into one, and the phase that follows from them.
//
// The reconciler (controllers/reconcile.go) is its imperative shell: it
// gathers what the stages of this pass need to read into an Observation,
// calls Decide once, carries out the Decision's actions in their order, and
// calls Phase with their outcome before it writes the status once. Phase is
// the only place a migration's phase is chosen.
package migration

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
)

// Stage is how far one pass goes past the stack.
type Stage int

const (
	// StackOnly: the pass ends with the stack (being made, refused, not
	// this migration's, or failed with no task to watch).
	StackOnly Stage = iota
	// HandOver: the stack is ready; replication, then the cutover, run.
	HandOver
	// Watch: the stack changes (an update, a rollback, a failure a human
	// must resolve) under a running task. Replication is still driven and
	// sampled, so a pause still stops the task and the lag gate never reads
	// stale figures, and a cutover in motion goes on, its freeze bounded by
	// its own timeout, which only a reconcile enforces.
	Watch
)

func (s Stage) String() string {
	switch s {
	case HandOver:
		return "HandOver"
	case Watch:
		return "Watch"
	}
	return "StackOnly"
}

// Stack is what the pass observed of the stack.
type Stack struct {
	// Fresh: the last observation of the stable stack, made recently and
	// running the current template, stands; it was not observed again.
	Fresh bool
	// Plan are stackplan's inputs (not set when Fresh).
	Plan stackplan.Inputs
	// Ownership is set when the stack exists.
	Ownership *stackplan.OwnershipInputs
	// ReplicationStarted: the stack was handed to replication once; there is
	// a task to watch through a change of the stack.
	ReplicationStarted bool
}

// StackDecision is the stack's part of the decision.
type StackDecision struct {
	// Fresh: nothing to do or report about the stack in this pass.
	Fresh bool
	// Ownership is set when the stack is not this migration's (refused, or
	// to adopt); the pass then does nothing else.
	Ownership *stackplan.OwnershipVerdict
	Plan      stackplan.Plan
}

// DecideStack is the stack's decision, and how far the pass goes after it.
// The reconciler calls it before it reads anything past the stack, to know
// what to read; Decide calls it again, with the same inputs.
func DecideStack(s Stack, cutoverActive bool) (StackDecision, Stage) {
	if s.Fresh {
		return StackDecision{Fresh: true, Plan: stackplan.Plan{Action: stackplan.None, Timing: stackplan.Slow, Ready: true}}, HandOver
	}
	if s.Ownership != nil {
		if v := stackplan.DecideOwnership(*s.Ownership); v.Ownership != stackplan.Owned {
			return StackDecision{Ownership: &v}, StackOnly
		}
	}
	plan := stackplan.Decide(s.Plan)
	if plan.Action == stackplan.Update && cutoverActive {
		// The template renders the routes of the cutover's resting states
		// only; an update now could move a record under the cutover's feet,
		// or stop the DMS task during the freeze. It waits for the end.
		plan = stackplan.Plan{Action: stackplan.None, Timing: stackplan.Fast, Ready: true, Reason: "UpdateDeferred",
			Message: "the spec changed the template; the stack update waits until the cutover ends"}
	}
	d := StackDecision{Plan: plan}
	status := s.Plan.Observed.Status
	switch {
	case plan.Action == stackplan.None && plan.Ready:
		return d, HandOver
	case !s.ReplicationStarted:
		return d, StackOnly
	case plan.Action == stackplan.Update:
		// The change set may stop the task first (the DMS task is modified
		// only stopped), and replication watches it through the update.
		return d, Watch
	case plan.Action == stackplan.None && TaskOutlivesStackChange(status):
		return d, Watch
	}
	return d, StackOnly
}

// TaskOutlivesStackChange reports the stack statuses in which the stack's
// resources, the DMS task among them, stand while the stack is not ready: an
// update running or cleaning up, rolled back, or failed in a way a human must
// resolve. The task replicates through all of them. (A creation that failed
// or a deletion has no task to watch.)
func TaskOutlivesStackChange(status string) bool {
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

// Observation is everything one pass read.
type Observation struct {
	Now        time.Time
	Generation int64
	// Phase and Conditions are the status as the pass read it.
	Phase      paymentsv1alpha1.Phase
	Conditions []metav1.Condition
	// Validation are the figures of the last table statistics read
	// (status.replication), for the validation gate.
	Validation ValidationFigures

	Stack         Stack
	CutoverActive bool
	// Replication is nil when the stage does not reach it.
	Replication *Replication
	// Cutover is nil when the pass does not reach it (see CutoverDue).
	Cutover *Cutover
}

// Replication is what the pass read for the replication step.
type Replication struct {
	// Preflight is set until the preflight passes for this generation.
	Preflight *replication.PreflightObservation
	// AllowReboot: the spec lets the operator reboot the source to apply
	// its parameter group (never an existing source).
	AllowReboot bool
	Step        replication.StepInputs
}

// Cutover is what the pass read for the cutover.
type Cutover struct {
	Spec   cutover.Spec
	Record cutover.Record
	// Unavailable says why the cutover cannot be observed at all (the stack
	// lacks an output it needs); nothing else is set then.
	Unavailable string
	World       cutover.World
	// Gates are the gates read from AWS and the databases (alarms, source
	// transactions, replication slot, target replication), when the
	// record's state reads gates; the gates kept by conditions are added
	// by Decide from the conditions as this pass leaves them.
	Gates []cutover.Gate
	// Health is the target's health check, when the gates require it.
	Health *Health
	// RequireValidation: the validation gate counts.
	RequireValidation bool
}

// ValidationFigures are the record counts of the last validation read.
type ValidationFigures struct {
	Failed, Pending, Suspended int64
}

// Condition is a condition to write.
type Condition struct {
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// Decision is the pass's decision.
type Decision struct {
	Stack StackDecision
	Stage Stage
	// Preflight is the preflight's verdict and the actions it asks for
	// (connection tests, the target's schema, a reboot); its condition is
	// written once those actions' outcome is known. The task is started on
	// a later pass, once PreflightPassed is recorded True.
	Preflight *replication.PreflightResult
	// Step is the replication step's decision: the task action, the lag
	// gate, validation and the step's phase.
	Step *replication.StepDecision
	// Cutover is the cutover's part; nil when the pass does not reach it.
	Cutover *CutoverDecision
}

// CutoverDecision is the cutover's part of the decision.
type CutoverDecision struct {
	// Conditions are CutoverReady, and TargetHealthy when it was read.
	Conditions []Condition
	// HealthCheckStatus is status.traffic.healthCheckStatus, "" to leave it.
	HealthCheckStatus string
	Gates             []cutover.Gate
	// First is cutover.Decide on this pass's observations; nil when the
	// cutover cannot run (not replicating yet, or unavailable). The
	// reconciler carries it out, and the actions of the same freeze that
	// follow it (each the decision on the record the last one left), so
	// that no requeue sits between two steps of a freeze.
	First *cutover.Decision
}

// Decide is the whole decision of one pass.
func Decide(o Observation) Decision {
	stack, stage := DecideStack(o.Stack, o.CutoverActive)
	d := Decision{Stack: stack, Stage: stage}
	if stage == StackOnly || o.Replication == nil {
		return d
	}
	if p := o.Replication.Preflight; p != nil {
		res := replication.EvaluatePreflight(*p, o.Replication.AllowReboot)
		d.Preflight = &res
	}
	step := replication.DecideStep(o.Replication.Step)
	d.Step = &step
	if o.Cutover != nil {
		d.Cutover = decideCutover(o, step)
	}
	return d
}

// CutoverDue says whether the pass reaches the cutover: the stage is
// handed over (or watches through a stack change while a cutover is in
// motion), and either a cutover has begun or the migration replicates, so
// the gates mean something. The reconciler calls it with the observation
// so far to know whether to read the cutover's world.
func CutoverDue(o Observation, rec cutover.Record) bool {
	_, stage := DecideStack(o.Stack, o.CutoverActive)
	switch {
	case o.Replication == nil || stage == StackOnly:
		return false
	case stage == Watch && !o.CutoverActive:
		return false
	}
	if rec.State != cutover.Idle && rec.State != "" {
		return true
	}
	step := replication.DecideStep(o.Replication.Step)
	return phaseAfterStep(o, stage, step) == paymentsv1alpha1.PhaseReplicating
}

// phaseAfterStep is the phase the pass leaves when the cutover does not act.
func phaseAfterStep(o Observation, stage Stage, step replication.StepDecision) paymentsv1alpha1.Phase {
	p, _ := Phase(PhaseInputs{Current: o.Phase, Stage: stage, TaskFailed: TaskFailed(o.Conditions), Step: step.Phase, StepMessage: step.PhaseMessage})
	return p
}

// TaskFailed says whether ReplicationRunning reports a failed task.
func TaskFailed(conds []metav1.Condition) bool {
	c := meta.FindStatusCondition(conds, paymentsv1alpha1.ConditionReplicationRunning)
	return c != nil && c.Reason == "TaskFailed"
}
