package replication

import (
	"fmt"
	"regexp"
)

// camelCase is the form of every condition reason.
var camelCase = regexp.MustCompile(`^[A-Z][A-Za-z]*$`)

// unknownStatus is a status DMS might add one day; the operator must not act on it.
const unknownStatus = "upgrading"

// startedBy says who recorded that the task was started before.
type startedBy int

const (
	never      startedBy = iota // neither the operator nor DMS
	byOperator                  // the status records the start, DMS shows none: the record was written, the call not made
	byDMS                       // DMS has a start date, the status no record (a restored or re-created migration)
	byBoth
)

func (s startedBy) String() string {
	return [...]string{"never started", "recorded by the operator only", "ran per DMS only", "recorded and ran"}[s]
}

const (
	active           = false
	paused           = true
	preflightPending = false
	preflightOK      = true
)

type taskCase struct {
	status     string
	paused     bool
	preflight  bool
	started    startedBy
	wantAction TaskAction
	wantReason string
}

func (c taskCase) inputs() TaskInputs {
	t := Task{
		ARN:                "arn:aws:dms:eu-west-1:123456789012:task:ABC",
		Status:             c.status,
		EverStarted:        c.started == byDMS || c.started == byBoth,
		LastFailureMessage: "Last Error ODBC general error. Task error notification received",
	}
	if c.status == StatusStopped {
		t.StopReason = "Stop Reason NORMAL"
	}
	return TaskInputs{Task: t, Paused: c.paused, PreflightPassed: c.preflight, Recorded: c.started == byOperator || c.started == byBoth}
}

func (c taskCase) name() string {
	p, f := "active", "preflight pending"
	if c.paused {
		p = "paused"
	}
	if c.preflight {
		f = "preflight passed"
	}
	s := c.status
	if s == "" {
		s = "no-task"
	}
	return fmt.Sprintf("%s/%s/%s/%s", s, p, f, c.started)
}

// taskTable is the whole state machine: every DMS status (plus a missing task
// and an unknown status) x paused x preflight x who recorded a previous start,
// for a task without the first-start tag (task_test.go varies the tag). A
// stopped task here stopped for an ordinary reason (Stop Reason NORMAL), and
// so ran, whatever its start date says.
var taskTable = []taskCase{
	// creating
	{StatusCreating, active, preflightPending, never, NoAction, "TaskCreating"},
	{StatusCreating, active, preflightPending, byOperator, NoAction, "TaskCreating"},
	{StatusCreating, active, preflightPending, byDMS, NoAction, "TaskCreating"},
	{StatusCreating, active, preflightPending, byBoth, NoAction, "TaskCreating"},
	{StatusCreating, active, preflightOK, never, NoAction, "TaskCreating"},
	{StatusCreating, active, preflightOK, byOperator, NoAction, "TaskCreating"},
	{StatusCreating, active, preflightOK, byDMS, NoAction, "TaskCreating"},
	{StatusCreating, active, preflightOK, byBoth, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightPending, never, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightPending, byOperator, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightPending, byDMS, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightPending, byBoth, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightOK, never, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightOK, byOperator, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightOK, byDMS, NoAction, "TaskCreating"},
	{StatusCreating, paused, preflightOK, byBoth, NoAction, "TaskCreating"},
	// ready
	{StatusReady, active, preflightPending, never, NoAction, "WaitingForPreflight"},
	{StatusReady, active, preflightPending, byOperator, NoAction, "WaitingForPreflight"},
	{StatusReady, active, preflightPending, byDMS, NoAction, "TaskRanBefore"},
	{StatusReady, active, preflightPending, byBoth, NoAction, "WaitingForPreflight"},
	{StatusReady, active, preflightOK, never, StartReplication, "Starting"},
	{StatusReady, active, preflightOK, byOperator, StartReplication, "Starting"},
	{StatusReady, active, preflightOK, byDMS, NoAction, "TaskRanBefore"},
	{StatusReady, active, preflightOK, byBoth, ResumeProcessing, "Resuming"},
	{StatusReady, paused, preflightPending, never, NoAction, "Paused"},
	{StatusReady, paused, preflightPending, byOperator, NoAction, "Paused"},
	{StatusReady, paused, preflightPending, byDMS, NoAction, "Paused"},
	{StatusReady, paused, preflightPending, byBoth, NoAction, "Paused"},
	{StatusReady, paused, preflightOK, never, NoAction, "Paused"},
	{StatusReady, paused, preflightOK, byOperator, NoAction, "Paused"},
	{StatusReady, paused, preflightOK, byDMS, NoAction, "Paused"},
	{StatusReady, paused, preflightOK, byBoth, NoAction, "Paused"},
	// starting
	{StatusStarting, active, preflightPending, never, NoAction, "TaskStarting"},
	{StatusStarting, active, preflightPending, byOperator, NoAction, "TaskStarting"},
	{StatusStarting, active, preflightPending, byDMS, NoAction, "TaskStarting"},
	{StatusStarting, active, preflightPending, byBoth, NoAction, "TaskStarting"},
	{StatusStarting, active, preflightOK, never, NoAction, "TaskStarting"},
	{StatusStarting, active, preflightOK, byOperator, NoAction, "TaskStarting"},
	{StatusStarting, active, preflightOK, byDMS, NoAction, "TaskStarting"},
	{StatusStarting, active, preflightOK, byBoth, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightPending, never, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightPending, byOperator, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightPending, byDMS, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightPending, byBoth, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightOK, never, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightOK, byOperator, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightOK, byDMS, NoAction, "TaskStarting"},
	{StatusStarting, paused, preflightOK, byBoth, NoAction, "TaskStarting"},
	// running
	{StatusRunning, active, preflightPending, never, NoAction, "TaskRunning"},
	{StatusRunning, active, preflightPending, byOperator, NoAction, "TaskRunning"},
	{StatusRunning, active, preflightPending, byDMS, NoAction, "TaskRunning"},
	{StatusRunning, active, preflightPending, byBoth, NoAction, "TaskRunning"},
	{StatusRunning, active, preflightOK, never, NoAction, "TaskRunning"},
	{StatusRunning, active, preflightOK, byOperator, NoAction, "TaskRunning"},
	{StatusRunning, active, preflightOK, byDMS, NoAction, "TaskRunning"},
	{StatusRunning, active, preflightOK, byBoth, NoAction, "TaskRunning"},
	{StatusRunning, paused, preflightPending, never, StopTask, "Pausing"},
	{StatusRunning, paused, preflightPending, byOperator, StopTask, "Pausing"},
	{StatusRunning, paused, preflightPending, byDMS, StopTask, "Pausing"},
	{StatusRunning, paused, preflightPending, byBoth, StopTask, "Pausing"},
	{StatusRunning, paused, preflightOK, never, StopTask, "Pausing"},
	{StatusRunning, paused, preflightOK, byOperator, StopTask, "Pausing"},
	{StatusRunning, paused, preflightOK, byDMS, StopTask, "Pausing"},
	{StatusRunning, paused, preflightOK, byBoth, StopTask, "Pausing"},
	// stopping
	{StatusStopping, active, preflightPending, never, NoAction, "TaskStopping"},
	{StatusStopping, active, preflightPending, byOperator, NoAction, "TaskStopping"},
	{StatusStopping, active, preflightPending, byDMS, NoAction, "TaskStopping"},
	{StatusStopping, active, preflightPending, byBoth, NoAction, "TaskStopping"},
	{StatusStopping, active, preflightOK, never, NoAction, "TaskStopping"},
	{StatusStopping, active, preflightOK, byOperator, NoAction, "TaskStopping"},
	{StatusStopping, active, preflightOK, byDMS, NoAction, "TaskStopping"},
	{StatusStopping, active, preflightOK, byBoth, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightPending, never, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightPending, byOperator, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightPending, byDMS, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightPending, byBoth, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightOK, never, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightOK, byOperator, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightOK, byDMS, NoAction, "TaskStopping"},
	{StatusStopping, paused, preflightOK, byBoth, NoAction, "TaskStopping"},
	// stopped
	{StatusStopped, active, preflightPending, never, NoAction, "TaskRanBefore"},
	{StatusStopped, active, preflightPending, byOperator, ResumeProcessing, "Resuming"},
	{StatusStopped, active, preflightPending, byDMS, NoAction, "TaskRanBefore"},
	{StatusStopped, active, preflightPending, byBoth, ResumeProcessing, "Resuming"},
	{StatusStopped, active, preflightOK, never, NoAction, "TaskRanBefore"},
	{StatusStopped, active, preflightOK, byOperator, ResumeProcessing, "Resuming"},
	{StatusStopped, active, preflightOK, byDMS, NoAction, "TaskRanBefore"},
	{StatusStopped, active, preflightOK, byBoth, ResumeProcessing, "Resuming"},
	{StatusStopped, paused, preflightPending, never, NoAction, "Paused"},
	{StatusStopped, paused, preflightPending, byOperator, NoAction, "Paused"},
	{StatusStopped, paused, preflightPending, byDMS, NoAction, "Paused"},
	{StatusStopped, paused, preflightPending, byBoth, NoAction, "Paused"},
	{StatusStopped, paused, preflightOK, never, NoAction, "Paused"},
	{StatusStopped, paused, preflightOK, byOperator, NoAction, "Paused"},
	{StatusStopped, paused, preflightOK, byDMS, NoAction, "Paused"},
	{StatusStopped, paused, preflightOK, byBoth, NoAction, "Paused"},
	// failed
	{StatusFailed, active, preflightPending, never, NoAction, "TaskFailed"},
	{StatusFailed, active, preflightPending, byOperator, NoAction, "TaskFailed"},
	{StatusFailed, active, preflightPending, byDMS, NoAction, "TaskFailed"},
	{StatusFailed, active, preflightPending, byBoth, NoAction, "TaskFailed"},
	{StatusFailed, active, preflightOK, never, NoAction, "TaskFailed"},
	{StatusFailed, active, preflightOK, byOperator, NoAction, "TaskFailed"},
	{StatusFailed, active, preflightOK, byDMS, NoAction, "TaskFailed"},
	{StatusFailed, active, preflightOK, byBoth, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightPending, never, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightPending, byOperator, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightPending, byDMS, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightPending, byBoth, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightOK, never, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightOK, byOperator, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightOK, byDMS, NoAction, "TaskFailed"},
	{StatusFailed, paused, preflightOK, byBoth, NoAction, "TaskFailed"},
	// modifying
	{StatusModifying, active, preflightPending, never, NoAction, "TaskModifying"},
	{StatusModifying, active, preflightPending, byOperator, NoAction, "TaskModifying"},
	{StatusModifying, active, preflightPending, byDMS, NoAction, "TaskModifying"},
	{StatusModifying, active, preflightPending, byBoth, NoAction, "TaskModifying"},
	{StatusModifying, active, preflightOK, never, NoAction, "TaskModifying"},
	{StatusModifying, active, preflightOK, byOperator, NoAction, "TaskModifying"},
	{StatusModifying, active, preflightOK, byDMS, NoAction, "TaskModifying"},
	{StatusModifying, active, preflightOK, byBoth, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightPending, never, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightPending, byOperator, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightPending, byDMS, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightPending, byBoth, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightOK, never, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightOK, byOperator, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightOK, byDMS, NoAction, "TaskModifying"},
	{StatusModifying, paused, preflightOK, byBoth, NoAction, "TaskModifying"},
	// deleting
	{StatusDeleting, active, preflightPending, never, NoAction, "TaskDeleting"},
	{StatusDeleting, active, preflightPending, byOperator, NoAction, "TaskDeleting"},
	{StatusDeleting, active, preflightPending, byDMS, NoAction, "TaskDeleting"},
	{StatusDeleting, active, preflightPending, byBoth, NoAction, "TaskDeleting"},
	{StatusDeleting, active, preflightOK, never, NoAction, "TaskDeleting"},
	{StatusDeleting, active, preflightOK, byOperator, NoAction, "TaskDeleting"},
	{StatusDeleting, active, preflightOK, byDMS, NoAction, "TaskDeleting"},
	{StatusDeleting, active, preflightOK, byBoth, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightPending, never, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightPending, byOperator, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightPending, byDMS, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightPending, byBoth, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightOK, never, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightOK, byOperator, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightOK, byDMS, NoAction, "TaskDeleting"},
	{StatusDeleting, paused, preflightOK, byBoth, NoAction, "TaskDeleting"},
	// testing
	{StatusTesting, active, preflightPending, never, NoAction, "TaskTesting"},
	{StatusTesting, active, preflightPending, byOperator, NoAction, "TaskTesting"},
	{StatusTesting, active, preflightPending, byDMS, NoAction, "TaskTesting"},
	{StatusTesting, active, preflightPending, byBoth, NoAction, "TaskTesting"},
	{StatusTesting, active, preflightOK, never, NoAction, "TaskTesting"},
	{StatusTesting, active, preflightOK, byOperator, NoAction, "TaskTesting"},
	{StatusTesting, active, preflightOK, byDMS, NoAction, "TaskTesting"},
	{StatusTesting, active, preflightOK, byBoth, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightPending, never, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightPending, byOperator, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightPending, byDMS, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightPending, byBoth, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightOK, never, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightOK, byOperator, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightOK, byDMS, NoAction, "TaskTesting"},
	{StatusTesting, paused, preflightOK, byBoth, NoAction, "TaskTesting"},
	// moving
	{StatusMoving, active, preflightPending, never, NoAction, "TaskMoving"},
	{StatusMoving, active, preflightPending, byOperator, NoAction, "TaskMoving"},
	{StatusMoving, active, preflightPending, byDMS, NoAction, "TaskMoving"},
	{StatusMoving, active, preflightPending, byBoth, NoAction, "TaskMoving"},
	{StatusMoving, active, preflightOK, never, NoAction, "TaskMoving"},
	{StatusMoving, active, preflightOK, byOperator, NoAction, "TaskMoving"},
	{StatusMoving, active, preflightOK, byDMS, NoAction, "TaskMoving"},
	{StatusMoving, active, preflightOK, byBoth, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightPending, never, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightPending, byOperator, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightPending, byDMS, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightPending, byBoth, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightOK, never, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightOK, byOperator, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightOK, byDMS, NoAction, "TaskMoving"},
	{StatusMoving, paused, preflightOK, byBoth, NoAction, "TaskMoving"},
	// failed-move
	{StatusFailedMove, active, preflightPending, never, NoAction, "TaskFailed"},
	{StatusFailedMove, active, preflightPending, byOperator, NoAction, "TaskFailed"},
	{StatusFailedMove, active, preflightPending, byDMS, NoAction, "TaskFailed"},
	{StatusFailedMove, active, preflightPending, byBoth, NoAction, "TaskFailed"},
	{StatusFailedMove, active, preflightOK, never, NoAction, "TaskFailed"},
	{StatusFailedMove, active, preflightOK, byOperator, NoAction, "TaskFailed"},
	{StatusFailedMove, active, preflightOK, byDMS, NoAction, "TaskFailed"},
	{StatusFailedMove, active, preflightOK, byBoth, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightPending, never, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightPending, byOperator, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightPending, byDMS, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightPending, byBoth, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightOK, never, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightOK, byOperator, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightOK, byDMS, NoAction, "TaskFailed"},
	{StatusFailedMove, paused, preflightOK, byBoth, NoAction, "TaskFailed"},
	// no task
	{"", active, preflightPending, never, NoAction, "TaskNotFound"},
	{"", active, preflightPending, byOperator, NoAction, "TaskNotFound"},
	{"", active, preflightPending, byDMS, NoAction, "TaskNotFound"},
	{"", active, preflightPending, byBoth, NoAction, "TaskNotFound"},
	{"", active, preflightOK, never, NoAction, "TaskNotFound"},
	{"", active, preflightOK, byOperator, NoAction, "TaskNotFound"},
	{"", active, preflightOK, byDMS, NoAction, "TaskNotFound"},
	{"", active, preflightOK, byBoth, NoAction, "TaskNotFound"},
	{"", paused, preflightPending, never, NoAction, "TaskNotFound"},
	{"", paused, preflightPending, byOperator, NoAction, "TaskNotFound"},
	{"", paused, preflightPending, byDMS, NoAction, "TaskNotFound"},
	{"", paused, preflightPending, byBoth, NoAction, "TaskNotFound"},
	{"", paused, preflightOK, never, NoAction, "TaskNotFound"},
	{"", paused, preflightOK, byOperator, NoAction, "TaskNotFound"},
	{"", paused, preflightOK, byDMS, NoAction, "TaskNotFound"},
	{"", paused, preflightOK, byBoth, NoAction, "TaskNotFound"},
	// unknown
	{unknownStatus, active, preflightPending, never, NoAction, "UnknownTaskStatus"},
	{unknownStatus, active, preflightPending, byOperator, NoAction, "UnknownTaskStatus"},
	{unknownStatus, active, preflightPending, byDMS, NoAction, "UnknownTaskStatus"},
	{unknownStatus, active, preflightPending, byBoth, NoAction, "UnknownTaskStatus"},
	{unknownStatus, active, preflightOK, never, NoAction, "UnknownTaskStatus"},
	{unknownStatus, active, preflightOK, byOperator, NoAction, "UnknownTaskStatus"},
	{unknownStatus, active, preflightOK, byDMS, NoAction, "UnknownTaskStatus"},
	{unknownStatus, active, preflightOK, byBoth, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightPending, never, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightPending, byOperator, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightPending, byDMS, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightPending, byBoth, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightOK, never, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightOK, byOperator, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightOK, byDMS, NoAction, "UnknownTaskStatus"},
	{unknownStatus, paused, preflightOK, byBoth, NoAction, "UnknownTaskStatus"},
}
