package migration

import (
	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// PhaseInputs are what the phase follows from: the pass's decision and the
// outcome of its actions.
type PhaseInputs struct {
	// Current is the phase as the pass read it.
	Current paymentsv1alpha1.Phase
	// Deleting: the migration is being deleted.
	Deleting bool
	// Failed says why the stack's side failed the migration ("" when it
	// did not): a template the synthesizer refuses, a stack of another
	// owner, a stack in a state only a human can repair.
	Failed string
	Stage  Stage
	// StackWaiting says what the stack is waiting for when the pass ends
	// with it (being created or updated, an update refused): the migration
	// is Provisioning until it is ready. "" leaves the phase.
	StackWaiting string
	// TaskFailed: ReplicationRunning reported a failed task before this
	// pass; a stack that is ready again does not end that failure.
	TaskFailed bool
	// Step is the replication step's phase.
	Step        replication.StepPhase
	StepMessage string
	// Cutover is the cutover's state as the pass leaves it.
	Cutover        cutover.State
	CutoverMessage string
}

// Phase is the migration's phase, and the message of a change to it. It
// is the only place a phase is chosen; every row below says which part of
// the migration owns the phase in that situation.
func Phase(in PhaseInputs) (paymentsv1alpha1.Phase, string) {
	keep := func() (paymentsv1alpha1.Phase, string) { return in.Current, "" }
	switch {
	case in.Deleting:
		return paymentsv1alpha1.PhaseDeleting, "deleting the stack"
	case in.Failed != "":
		return paymentsv1alpha1.PhaseFailed, in.Failed
	case in.Stage == Watch && in.Current == paymentsv1alpha1.PhaseFailed:
		// A stack a human must repair keeps the migration Failed while the
		// task is watched through it.
		return keep()
	case CutoverPhase(in.Cutover) != "":
		// Once a cutover began, its phases say where the writes are; a
		// stack update is told by StackReady.
		return CutoverPhase(in.Cutover), orDefault(in.CutoverMessage, string(in.Cutover))
	case in.Stage == StackOnly:
		if in.StackWaiting != "" {
			return paymentsv1alpha1.PhaseProvisioning, in.StackWaiting
		}
		return keep()
	case in.Step != replication.KeepPhase:
		return stepPhases[in.Step], in.StepMessage
	case in.Stage == HandOver && (in.Current == "" || in.Current == paymentsv1alpha1.PhaseProvisioning ||
		in.Current == paymentsv1alpha1.PhaseFailed && !in.TaskFailed):
		// The stack is the first step; the phases after it belong to
		// replication. A stack failure is over once the stack is ready; a
		// task failure is not, and ending it here would flap Failed ->
		// Preflight -> Failed.
		return paymentsv1alpha1.PhasePreflight, "stack ready"
	}
	return keep()
}

var stepPhases = map[replication.StepPhase]paymentsv1alpha1.Phase{
	replication.StepFailed:      paymentsv1alpha1.PhaseFailed,
	replication.StepReplicating: paymentsv1alpha1.PhaseReplicating,
	replication.StepFullLoad:    paymentsv1alpha1.PhaseFullLoad,
	replication.StepPreflight:   paymentsv1alpha1.PhasePreflight,
}

// CutoverPhase is the phase a cutover state owns; "" before a cutover began.
func CutoverPhase(s cutover.State) paymentsv1alpha1.Phase {
	switch s {
	case cutover.Stepping, cutover.Freezing, cutover.Flipped:
		return paymentsv1alpha1.PhaseCuttingOver
	case cutover.Completed:
		return paymentsv1alpha1.PhaseCompleted
	case cutover.RollingBack:
		return paymentsv1alpha1.PhaseRollingBack
	case cutover.RolledBack:
		return paymentsv1alpha1.PhaseRolledBack
	}
	return ""
}

func orDefault(s, def string) string {
	for _, r := range s {
		if r != ' ' && r != '\n' && r != '\t' {
			return s
		}
	}
	return def
}
