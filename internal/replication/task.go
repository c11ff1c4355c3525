// Package replication decides what to do about the DMS side of a migration:
// pure functions from what DMS, RDS, IAM and CloudWatch report to an action and
// the conditions to show. The reconciler gathers the observations and carries
// the actions out; nothing here calls AWS or reads the clock.
package replication

import (
	"fmt"
	"strings"

	"github.com/tapstack/payment-migration-operator/internal/statustext"
)

// TaskStatus values DMS reports for a replication task.
const (
	StatusCreating   = "creating"
	StatusReady      = "ready"
	StatusStarting   = "starting"
	StatusRunning    = "running"
	StatusStopping   = "stopping"
	StatusStopped    = "stopped"
	StatusFailed     = "failed"
	StatusModifying  = "modifying"
	StatusDeleting   = "deleting"
	StatusTesting    = "testing"
	StatusMoving     = "moving"
	StatusFailedMove = "failed-move"
)

// AllTaskStatuses lists every status DecideTask handles explicitly.
var AllTaskStatuses = []string{
	StatusCreating, StatusReady, StatusStarting, StatusRunning, StatusStopping, StatusStopped,
	StatusFailed, StatusModifying, StatusDeleting, StatusTesting, StatusMoving, StatusFailedMove,
}

// Task is a replication task as DMS reports it.
type Task struct {
	ARN    string
	Status string
	// StopReason is DMS's reason for the last stop, e.g. "Stop Reason FULL_LOAD_ONLY_FINISHED".
	StopReason string
	// LastFailureMessage explains a failed task.
	LastFailureMessage string
	// EverStarted is true once DMS has a start date for the task.
	EverStarted     bool
	FullLoadPercent int32
	TablesLoaded    int32
	TablesLoading   int32
	TablesQueued    int32
	TablesErrored   int32
}

// TaskAction is what to do to the task.
type TaskAction string

const (
	// NoAction: wait or report.
	NoAction TaskAction = ""
	// StartReplication starts the task for the first time: full load, then CDC.
	StartReplication TaskAction = "start-replication"
	// ResumeProcessing resumes a stopped task where it stopped. Starting it
	// again with start-replication would reload the target from scratch.
	ResumeProcessing TaskAction = "resume-processing"
	// StopTask stops a running task (the user paused the migration).
	StopTask TaskAction = "stop"
)

// TaskInputs are what the task decision depends on.
type TaskInputs struct {
	Task Task
	// PreflightPassed gates the first start.
	PreflightPassed bool
	// Paused is spec.replication.paused.
	Paused bool
	// StartedBefore is the operator's own record that it started this task
	// (status), which outlives what DMS reports after a modification.
	StartedBefore bool
}

// TaskDecision is the outcome: an action and the ReplicationRunning condition.
type TaskDecision struct {
	Action  TaskAction
	Running bool
	Reason  string
	Message string
	// Failed means the task cannot go on without a human.
	Failed bool
	// Busy means DMS is in a transition: sample again soon.
	Busy bool
}

// DecideTask is the task state machine. Every DMS status is handled explicitly;
// an unknown status is reported, never acted on.
func DecideTask(in TaskInputs) TaskDecision {
	t := in.Task
	started := in.StartedBefore || t.EverStarted
	switch t.Status {
	case StatusCreating, StatusModifying, StatusTesting, StatusMoving:
		return TaskDecision{Reason: "Task" + statustext.Camel(t.Status), Message: "DMS task is " + t.Status, Busy: true}
	case StatusStarting:
		return TaskDecision{Reason: "TaskStarting", Message: "DMS task is starting", Busy: true}
	case StatusStopping:
		return TaskDecision{Reason: "TaskStopping", Message: "DMS task is stopping", Busy: true}
	case StatusDeleting:
		return TaskDecision{Reason: "TaskDeleting", Message: "DMS task is being deleted"}
	case StatusRunning:
		if in.Paused {
			return TaskDecision{Action: StopTask, Reason: "Pausing", Message: "spec.replication.paused is set: stopping the task", Busy: true}
		}
		return TaskDecision{Running: true, Reason: "TaskRunning", Message: runningMessage(t)}
	case StatusReady:
		switch {
		case in.Paused:
			return TaskDecision{Reason: "Paused", Message: "spec.replication.paused is set: the task is not started"}
		case !in.PreflightPassed:
			return TaskDecision{Reason: "WaitingForPreflight", Message: "the task starts once every preflight check passes"}
		case started:
			// A task the operator started before and DMS now calls ready (after
			// a modification) must continue, never reload the target.
			return TaskDecision{Action: ResumeProcessing, Reason: "Resuming", Message: "resuming the task where it stopped", Busy: true}
		default:
			return TaskDecision{Action: StartReplication, Reason: "Starting", Message: "starting full load and change data capture", Busy: true}
		}
	case StatusStopped:
		switch {
		case in.Paused:
			return TaskDecision{Reason: "Paused", Message: "spec.replication.paused is set: the task stays stopped"}
		case strings.Contains(t.StopReason, "FULL_LOAD_ONLY_FINISHED"):
			return TaskDecision{Reason: "FullLoadFinished", Message: "the full-load-only task finished"}
		case strings.Contains(t.StopReason, "FATAL_ERROR"):
			// Resuming after a fatal error fails the same way, in a loop: a human
			// must look at the task's logs first.
			return TaskDecision{Failed: true, Reason: "TaskFailed", Message: "DMS task stopped on a fatal error: " + t.StopReason + "; " + orUnknown(t.LastFailureMessage)}
		case !started && !in.PreflightPassed:
			return TaskDecision{Reason: "WaitingForPreflight", Message: "the task starts once every preflight check passes"}
		case !started:
			return TaskDecision{Action: StartReplication, Reason: "Starting", Message: "starting full load and change data capture", Busy: true}
		default:
			return TaskDecision{Action: ResumeProcessing, Reason: "Resuming", Message: "resuming the stopped task where it left off (" + orUnknown(t.StopReason) + ")", Busy: true}
		}
	case StatusFailed, StatusFailedMove:
		return TaskDecision{Failed: true, Reason: "TaskFailed", Message: "DMS task " + t.Status + ": " + orUnknown(t.LastFailureMessage)}
	case "":
		return TaskDecision{Reason: "TaskNotFound", Message: "the stack's DMS task was not found", Busy: true}
	}
	return TaskDecision{Reason: "UnknownTaskStatus", Message: fmt.Sprintf("DMS reports status %q, which the operator does not know; doing nothing", t.Status)}
}

// FullLoadDone reports whether the full load has finished: every table loaded
// and none loading or queued.
func FullLoadDone(t Task) bool {
	return t.FullLoadPercent >= 100 || (t.TablesLoaded > 0 && t.TablesLoading == 0 && t.TablesQueued == 0)
}

func runningMessage(t Task) string {
	if FullLoadDone(t) {
		return "full load complete; replicating changes (CDC)"
	}
	return fmt.Sprintf("full load %d%%: %d tables loaded, %d loading, %d queued, %d errored",
		t.FullLoadPercent, t.TablesLoaded, t.TablesLoading, t.TablesQueued, t.TablesErrored)
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}
