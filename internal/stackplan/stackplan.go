// Package stackplan decides what to do about the TapStack: a pure function from
// what CloudFormation reports and what the operator wants to one action and the
// StackReady condition to show. The reconciler gathers the inputs and carries
// the action out; every stack status is handled here, explicitly, so the table
// below is the whole policy.
package stackplan

import (
	"fmt"
	"strings"

	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/statustext"
)

// Action is what the reconciler must do next.
type Action string

const (
	// None: nothing to do but report.
	None Action = "None"
	// Create the stack (it does not exist).
	Create Action = "Create"
	// Update the stack to the desired template through a change set.
	Update Action = "Update"
	// RecreateRolledBack deletes a stack whose creation rolled back, so it can
	// be created again (CloudFormation cannot update a ROLLBACK_COMPLETE stack).
	RecreateRolledBack Action = "RecreateRolledBack"
)

// Timing says how soon to look again: which of the reconciler's Timing
// intervals (controllers.Timing) applies.
type Timing string

const (
	// Fast: an operation is in progress.
	Fast Timing = "Fast"
	// Slow: the stack is stable; an idle migration should cost few AWS calls.
	Slow Timing = "Slow"
)

// Inputs are everything the decision depends on.
type Inputs struct {
	Observed cfnstack.Observation
	// DesiredHash is the hash of the template synthesized from the current spec.
	DesiredHash string
	// AppliedHash is the hash of the template last sent to CloudFormation.
	AppliedHash string
	// Attempts counts creations of AppliedHash so far.
	Attempts int32
	// MaxAttempts bounds re-creation of a stack whose creation keeps failing.
	MaxAttempts int32
}

// Plan is the decision.
type Plan struct {
	Action Action
	Timing Timing
	// Ready, Reason and Message make the StackReady condition.
	Ready   bool
	Reason  string
	Message string
	// Terminal means a human must act (or the spec must change): the phase is Failed.
	Terminal bool
	// Attempts is the creation count to record when Action is Create.
	Attempts int32
}

// Decide is the stack policy.
func Decide(in Inputs) Plan {
	obs := in.Observed
	changed := in.DesiredHash != in.AppliedHash
	if !obs.Exists {
		attempts := in.Attempts + 1
		if changed {
			attempts = 1
		}
		if !changed && in.Attempts >= in.MaxAttempts && in.MaxAttempts > 0 {
			return Plan{Action: None, Timing: Slow, Reason: "CreateFailed", Terminal: true,
				Message: fmt.Sprintf("stack creation failed %d times with this template; change the spec to try again", in.Attempts)}
		}
		return Plan{Action: Create, Timing: Fast, Reason: "Creating", Attempts: attempts,
			Message: fmt.Sprintf("creating the stack (attempt %d)", attempts)}
	}

	status := obs.Status
	switch status {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE":
		if changed {
			return Plan{Action: Update, Timing: Fast, Ready: true, Reason: "Updating", Message: "the spec changed; updating the stack through a change set"}
		}
		return Plan{Action: None, Timing: Slow, Ready: true, Reason: readyReason(status), Message: "stack " + status}

	case "UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
		// The stack works, on its previous template: the update did not happen.
		// Retrying the same template would fail the same way; a changed spec is
		// tried as a new update.
		if changed {
			return Plan{Action: Update, Timing: Fast, Reason: "Updating", Message: "the spec changed after a rolled-back update; updating again"}
		}
		return Plan{Action: None, Timing: Slow, Reason: "UpdateRolledBack", Message: "the last update was rolled back: " + failure(obs)}

	case "ROLLBACK_COMPLETE":
		// Creation failed and rolled back; CloudFormation can only delete such a stack.
		if !changed && in.MaxAttempts > 0 && in.Attempts >= in.MaxAttempts {
			return Plan{Action: None, Timing: Slow, Reason: "CreateFailed", Terminal: true,
				Message: fmt.Sprintf("creation failed %d times, last: %s; change the spec to try again", in.Attempts, failure(obs))}
		}
		return Plan{Action: RecreateRolledBack, Timing: Fast, Reason: "CreateFailed",
			Message: "creation failed, deleting the rolled-back stack to create it again: " + failure(obs)}

	case "CREATE_FAILED", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED", "IMPORT_ROLLBACK_FAILED":
		// CloudFormation could not clean up after itself; the stack needs a
		// human (continue-update-rollback, or removing a resource by hand).
		return Plan{Action: None, Timing: Slow, Reason: statustext.Camel(status), Terminal: true, Message: "stack " + status + ": " + failure(obs)}

	case "REVIEW_IN_PROGRESS":
		// A stack created by a change set that was never executed: not ours to
		// execute blindly, but CloudFormation reports no progress either.
		return Plan{Action: None, Timing: Slow, Reason: "ReviewInProgress", Message: "stack is in REVIEW_IN_PROGRESS: a change set awaits execution"}
	}

	if strings.HasSuffix(status, "_IN_PROGRESS") {
		// During an update the stack is half old, half new: not ready, so that
		// nothing downstream (the cutover) acts on it. Cleanup comes after the
		// new resources are in place.
		ready := status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
		msg := "stack " + status
		if strings.Contains(status, "ROLLBACK") {
			msg += ": " + failure(obs)
		}
		return Plan{Action: None, Timing: Fast, Ready: ready, Reason: statustext.Camel(status), Message: msg}
	}
	return Plan{Action: None, Timing: Slow, Reason: "UnknownStatus", Message: "stack reports status " + status + ", which the operator does not know"}
}

func readyReason(status string) string {
	if status == "CREATE_COMPLETE" {
		return "Created"
	}
	return "Updated"
}

// failure says which resource failed first and why.
func failure(obs cfnstack.Observation) string {
	switch {
	case obs.FailedResource != "":
		return fmt.Sprintf("%s failed: %s", obs.FailedResource, obs.FailedReason)
	case obs.StatusReason != "":
		return obs.StatusReason
	default:
		return "no failure reason reported"
	}
}
