package migration

import (
	"math/rand/v2"
	"strings"
	"testing"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

func TestPhase(t *testing.T) {
	const (
		provisioning = paymentsv1alpha1.PhaseProvisioning
		preflight    = paymentsv1alpha1.PhasePreflight
		fullLoad     = paymentsv1alpha1.PhaseFullLoad
		replicating  = paymentsv1alpha1.PhaseReplicating
		cuttingOver  = paymentsv1alpha1.PhaseCuttingOver
		failed       = paymentsv1alpha1.PhaseFailed
	)
	for _, tc := range []struct {
		name string
		in   PhaseInputs
		want paymentsv1alpha1.Phase
		says string
	}{
		{"a new migration whose stack is being created", PhaseInputs{Stage: StackOnly, StackWaiting: "creating"}, provisioning, "creating"},
		{"a stack update refused before replication began", PhaseInputs{Current: preflight, Stage: StackOnly, StackWaiting: "stack update refused: x"}, provisioning, "refused"},
		{"a refusal that stands, nothing new to say", PhaseInputs{Current: provisioning, Stage: StackOnly}, provisioning, ""},
		{"the stack ready: preflight", PhaseInputs{Current: provisioning, Stage: HandOver}, preflight, "stack ready"},
		{"the stack ready and the step starts the full load in the same pass", PhaseInputs{Current: provisioning, Stage: HandOver, Step: replication.StepFullLoad, StepMessage: "full load"}, fullLoad, "full load"},
		{"a stack failure is over once the stack is ready", PhaseInputs{Current: failed, Stage: HandOver}, preflight, "stack ready"},
		{"a task failure is not", PhaseInputs{Current: failed, Stage: HandOver, TaskFailed: true}, failed, ""},
		{"the task recovers", PhaseInputs{Current: failed, Stage: HandOver, TaskFailed: true, Step: replication.StepReplicating}, replicating, ""},
		{"a terminal stack fails the migration", PhaseInputs{Current: replicating, Stage: Watch, Failed: "UPDATE_ROLLBACK_FAILED"}, failed, "UPDATE_ROLLBACK_FAILED"},
		{"watched through a failed stack, the migration stays Failed", PhaseInputs{Current: failed, Stage: Watch, Step: replication.StepReplicating}, failed, ""},
		{"watched through an update, the step's phase", PhaseInputs{Current: fullLoad, Stage: Watch, Step: replication.StepReplicating}, replicating, ""},
		{"an update does not take a replicating migration back to Provisioning", PhaseInputs{Current: replicating, Stage: Watch, StackWaiting: "updating"}, replicating, ""},
		{"a cutover owns the phase", PhaseInputs{Current: replicating, Stage: HandOver, Step: replication.StepReplicating, Cutover: cutover.Stepping, CutoverMessage: "step 1"}, cuttingOver, "step 1"},
		{"a cutover owns the phase through a stack update", PhaseInputs{Current: cuttingOver, Stage: StackOnly, StackWaiting: "updating", Cutover: cutover.Freezing}, cuttingOver, ""},
		{"a held cutover does not", PhaseInputs{Current: replicating, Stage: HandOver, Cutover: cutover.Held}, replicating, ""},
		{"rolled back is a resting state", PhaseInputs{Current: paymentsv1alpha1.PhaseRollingBack, Stage: HandOver, Cutover: cutover.RolledBack}, paymentsv1alpha1.PhaseRolledBack, ""},
		{"a template refused fails even a cutover", PhaseInputs{Current: cuttingOver, Failed: "template synthesis failed", Cutover: cutover.Stepping}, failed, "synthesis"},
		{"deletion over everything", PhaseInputs{Current: cuttingOver, Deleting: true, Failed: "x", Cutover: cutover.Flipped}, paymentsv1alpha1.PhaseDeleting, "deleting"},
	} {
		got, msg := Phase(tc.in)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if tc.says != "" && !strings.Contains(msg, tc.says) {
			t.Errorf("%s: message %q, want it to say %q", tc.name, msg, tc.says)
		}
	}
}

// Over random inputs: deletion wins, a failure of the stack's side wins
// next, a cutover that began owns the phase (unless a failed stack is being
// watched), and only a pass that ends with the stack goes to Provisioning.
func TestPhaseOwnership(t *testing.T) {
	phases := []paymentsv1alpha1.Phase{"", paymentsv1alpha1.PhaseProvisioning, paymentsv1alpha1.PhasePreflight, paymentsv1alpha1.PhaseFullLoad,
		paymentsv1alpha1.PhaseReplicating, paymentsv1alpha1.PhaseCuttingOver, paymentsv1alpha1.PhaseCompleted, paymentsv1alpha1.PhaseRollingBack,
		paymentsv1alpha1.PhaseRolledBack, paymentsv1alpha1.PhaseFailed}
	steps := []replication.StepPhase{replication.KeepPhase, replication.StepFailed, replication.StepReplicating, replication.StepFullLoad, replication.StepPreflight}
	states := []cutover.State{"", cutover.Idle, cutover.Held, cutover.Stepping, cutover.Freezing, cutover.Flipped, cutover.Completed, cutover.RollingBack, cutover.RolledBack}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return rng.IntN(n) }
	for i := 0; i < 20000; i++ {
		in := PhaseInputs{
			Current: phases[pick(len(phases))], Deleting: pick(8) == 0, Stage: Stage(pick(3)),
			TaskFailed: pick(2) == 0, Step: steps[pick(len(steps))], Cutover: states[pick(len(states))],
		}
		if pick(6) == 0 {
			in.Failed = "stack failed"
		}
		if pick(2) == 0 {
			in.StackWaiting = "waiting"
		}
		got, _ := Phase(in)
		switch {
		case in.Deleting:
			if got != paymentsv1alpha1.PhaseDeleting {
				t.Fatalf("%+v: %s, want Deleting", in, got)
			}
		case in.Failed != "":
			if got != paymentsv1alpha1.PhaseFailed {
				t.Fatalf("%+v: %s, want Failed", in, got)
			}
		case in.Stage == Watch && in.Current == paymentsv1alpha1.PhaseFailed:
			if got != paymentsv1alpha1.PhaseFailed {
				t.Fatalf("%+v: %s, want Failed kept", in, got)
			}
		case CutoverPhase(in.Cutover) != "":
			if got != CutoverPhase(in.Cutover) {
				t.Fatalf("%+v: %s, want the cutover's %s", in, got, CutoverPhase(in.Cutover))
			}
		default:
			if got == paymentsv1alpha1.PhaseProvisioning && in.Current != paymentsv1alpha1.PhaseProvisioning && in.Stage != StackOnly {
				t.Fatalf("%+v: Provisioning from a pass that reached replication", in)
			}
			if p := CutoverPhase(cutover.Stepping); got == p && in.Current != p {
				t.Fatalf("%+v: a cutover phase with no cutover", in)
			}
		}
	}
}
