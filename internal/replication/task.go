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

// StartTagKey is the tag the operator writes on a task before its first
// start. It outlives the migration's status (a CR restored from a backup, or
// re-created after a Retain deletion, has none), so a task that was ever
// asked to start is never sent start-replication again by an operator that
// has forgotten it: that would reload the target.
const StartTagKey = "payments.tapstack.io/first-start"

// TaskInputs are what the task decision depends on.
type TaskInputs struct {
	Task Task
	// PreflightPassed gates the first start.
	PreflightPassed bool
	// Paused: the task must stay stopped, for the reason Holder gives.
	Paused bool
	Holder Holder
	// Recorded is true when the migration's status records the first start
	// of this very task (status.replication.startedTaskARN is its ARN). The
	// record is written before the task is tagged and started.
	Recorded bool
	// StartTag is the value of the task's StartTagKey tag, "" when it has
	// none. It is read only when NeedStartTag says the decision depends on it.
	StartTag string
}

// Holder is who keeps a paused task stopped; the condition says so.
type Holder int

const (
	// HeldByUser: spec.replication.paused.
	HeldByUser Holder = iota
	// HeldForStackUpdate: a stack update modifies the task, which DMS
	// changes only while it is stopped.
	HeldForStackUpdate
	// HeldAtFlip: the cutover stopped the forward task at the flip; the
	// target takes the writes, and nothing may resume it.
	HeldAtFlip
)

// pausedDecision is the decision for a paused task, worded for its holder;
// stopping when the task still runs and is being stopped.
func pausedDecision(in TaskInputs, stopping bool) TaskDecision {
	var d TaskDecision
	switch {
	case in.Holder == HeldForStackUpdate:
		d = TaskDecision{Reason: "StoppedForStackUpdate", Message: "the stack update modifies the DMS task, which DMS changes only when stopped: the task stops for it and resumes when the update ends"}
	case in.Holder == HeldAtFlip:
		d = TaskDecision{Reason: "StoppedAtFlip", Message: "the cutover stopped the forward task at the flip: the target takes the writes, and the task stays stopped"}
	case stopping:
		d = TaskDecision{Reason: "Pausing", Message: "spec.replication.paused is set: stopping the task"}
	case in.Task.Status == StatusStopped:
		d = TaskDecision{Reason: "Paused", Message: "spec.replication.paused is set: the task stays stopped"}
	default:
		d = TaskDecision{Reason: "Paused", Message: "spec.replication.paused is set: the task is not started"}
	}
	if stopping {
		d.Action, d.Busy, d.Record = StopTask, true, !in.Recorded
	}
	return d
}

// RanBefore reports whether DMS's own record shows the task has run: a start
// date or statistics (EverStarted), a stop reason, or a status only a started
// task reaches.
func RanBefore(t Task) bool {
	switch t.Status {
	case StatusRunning, StatusStopping, StatusStopped:
		return true
	}
	return t.EverStarted || t.StopReason != "" || t.TablesLoaded > 0 || t.TablesLoading > 0 || t.TablesErrored > 0 || t.FullLoadPercent > 0
}

// NeedStartTag reports whether the decision for t can be a first start, and
// so depends on the task's StartTagKey tag: a ready task DMS shows no sign of
// having run. Everything else decides without reading tags, so a replicating
// migration makes no extra call for it.
func NeedStartTag(t Task) bool {
	return t.Status == StatusReady && !RanBefore(t)
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
	// Record means the task is running but the status has no record of its
	// start (it was resumed by hand, or started before the record existed):
	// record it, so that from now on it is only ever resumed.
	Record bool
}

// DecideTask is the task state machine. Every DMS status is handled explicitly;
// an unknown status is reported, never acted on. start-replication, which
// loads the target from scratch, is decided only for a task that DMS shows
// never ran and that carries no first-start tag; resume-processing only for a
// task that ran and whose first start this migration recorded.
func DecideTask(in TaskInputs) TaskDecision {
	t := in.Task
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
			return pausedDecision(in, true)
		}
		return TaskDecision{Running: true, Reason: "TaskRunning", Message: runningMessage(t), Record: !in.Recorded}
	case StatusReady, StatusStopped:
		return decideIdleTask(in)
	case StatusFailed, StatusFailedMove:
		return TaskDecision{Failed: true, Reason: "TaskFailed", Message: "DMS task " + t.Status + ": " + orUnknown(t.LastFailureMessage)}
	case "":
		return TaskDecision{Reason: "TaskNotFound", Message: "the stack's DMS task was not found", Busy: true}
	}
	return TaskDecision{Reason: "UnknownTaskStatus", Message: fmt.Sprintf("DMS reports status %q, which the operator does not know; doing nothing", t.Status)}
}

// decideIdleTask decides for a task DMS reports ready or stopped.
func decideIdleTask(in TaskInputs) TaskDecision {
	t := in.Task
	ran := RanBefore(t)
	switch {
	case in.Paused:
		return pausedDecision(in, false)
	case strings.Contains(t.StopReason, "FULL_LOAD_ONLY_FINISHED"):
		return TaskDecision{Reason: "FullLoadFinished", Message: "the full-load-only task finished"}
	case strings.Contains(t.StopReason, "FATAL_ERROR"):
		// Resuming after a fatal error fails the same way, in a loop: a human
		// must look at the task's logs first.
		return TaskDecision{Failed: true, Reason: "TaskFailed", Message: "DMS task stopped on a fatal error: " + t.StopReason + "; " + orUnknown(t.LastFailureMessage)}
	case ran && !in.Recorded:
		// Restored or re-created migration, or a stack re-created out of
		// band: whatever the cause, this status did not start the task, and
		// the only start it could issue on its own would reload the target.
		return TaskDecision{Reason: "TaskRanBefore", Message: fmt.Sprintf(
			"DMS shows the task %s ran before (%s), but this migration's status has no record of starting it: the operator does not start it, since start-replication would reload the target. "+
				"To continue where it stopped, resume it: aws dms start-replication-task --replication-task-arn %s --start-replication-task-type resume-processing; "+
				"the operator records the running task and carries on", t.ARN, ranEvidence(t), t.ARN)}
	case ran && t.Status == StatusStopped:
		return TaskDecision{Action: ResumeProcessing, Reason: "Resuming", Message: "resuming the stopped task where it left off (" + orUnknown(t.StopReason) + ")", Busy: true}
	case ran && in.PreflightPassed:
		// A task the operator started before and DMS now calls ready (after
		// a modification) must continue, never reload the target.
		return TaskDecision{Action: ResumeProcessing, Reason: "Resuming", Message: "resuming the task where it stopped", Busy: true}
	case ran:
		return TaskDecision{Reason: "WaitingForPreflight", Message: "the task resumes once every preflight check passes"}
	case in.StartTag != "":
		// The tag is written before the start call: the start may have
		// reached DMS even though DMS does not show it (yet). Another
		// start-replication could reload a target that is already loading.
		return TaskDecision{Reason: "StartUnconfirmed", Busy: in.Recorded, Message: fmt.Sprintf(
			"the task %s carries %s=%q (its first start was requested), but DMS shows no sign of it having run: the operator does not start it again, since start-replication would reload the target. "+
				"If DMS shows it never ran, remove the tag (aws dms remove-tags-from-resource --resource-arn %s --tag-keys %s) and the operator starts it",
			t.ARN, StartTagKey, in.StartTag, t.ARN, StartTagKey)}
	case !in.PreflightPassed:
		return TaskDecision{Reason: "WaitingForPreflight", Message: "the task starts once every preflight check passes"}
	default:
		return TaskDecision{Action: StartReplication, Reason: "Starting", Message: "starting full load and change data capture", Busy: true}
	}
}

// ranEvidence says what in DMS's record shows the task ran.
func ranEvidence(t Task) string {
	var why []string
	if t.EverStarted {
		why = append(why, "a start date")
	}
	if t.Status == StatusStopped || t.Status == StatusRunning || t.Status == StatusStopping {
		why = append(why, "status "+t.Status)
	}
	if t.StopReason != "" {
		why = append(why, t.StopReason)
	}
	if t.TablesLoaded > 0 || t.TablesLoading > 0 || t.TablesErrored > 0 || t.FullLoadPercent > 0 {
		why = append(why, fmt.Sprintf("full load %d%%, %d tables loaded", t.FullLoadPercent, t.TablesLoaded))
	}
	return strings.Join(why, ", ")
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
