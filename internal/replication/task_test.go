package replication

import (
	"fmt"
	"strings"
	"testing"
)

// allCombinations is every input shape of the state machine for one task,
// with and without the first-start tag.
func allCombinations(status string, mutate func(*Task)) []TaskInputs {
	var out []TaskInputs
	for _, p := range []bool{active, paused} {
		for _, f := range []bool{preflightPending, preflightOK} {
			for _, s := range []startedBy{never, byOperator, byDMS, byBoth} {
				for _, tag := range []string{"", "2026-12-02T10:00:00Z default/pm"} {
					in := taskCase{status: status, paused: p, preflight: f, started: s}.inputs()
					in.StartTag = tag
					if mutate != nil {
						mutate(&in.Task)
					}
					out = append(out, in)
				}
			}
		}
	}
	return out
}

func everyStatus() []string {
	return append(append([]string{}, AllTaskStatuses...), "", unknownStatus)
}

func describeInputs(in TaskInputs) string {
	return fmt.Sprintf("status=%q paused=%v preflight=%v recorded=%v everStarted=%v stopReason=%q tag=%q",
		in.Task.Status, in.Paused, in.PreflightPassed, in.Recorded, in.Task.EverStarted, in.Task.StopReason, in.StartTag)
}

func TestDecideTask_EveryStatusPausedPreflightAndStartCombinationHasTheTabledAction(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range taskTable {
		name := c.name()
		if seen[name] {
			t.Fatalf("taskTable lists %s twice", name)
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			got := DecideTask(c.inputs())
			if got.Action != c.wantAction || got.Reason != c.wantReason {
				t.Errorf("DecideTask = action %q reason %q, want action %q reason %q (message %q)",
					got.Action, got.Reason, c.wantAction, c.wantReason, got.Message)
			}
		})
	}
	if want := len(everyStatus()) * 2 * 2 * 4; len(seen) != want {
		t.Errorf("taskTable has %d combinations, want the full cross product of %d", len(seen), want)
	}
}

func TestAllTaskStatuses_ListsEveryDMSTaskStatusFromTheIssue(t *testing.T) {
	want := []string{"creating", "ready", "starting", "running", "stopping", "stopped",
		"failed", "modifying", "deleting", "testing", "moving", "failed-move"}
	got := map[string]bool{}
	for _, s := range AllTaskStatuses {
		if got[s] {
			t.Errorf("AllTaskStatuses lists %q twice", s)
		}
		got[s] = true
	}
	for _, s := range want {
		if !got[s] {
			t.Errorf("AllTaskStatuses lacks %q", s)
		}
	}
	if len(got) != len(want) {
		t.Errorf("AllTaskStatuses = %v, want exactly %v", AllTaskStatuses, want)
	}
}

func TestDecideTask_EveryKnownStatusIsHandledExplicitlyNotAsUnknown(t *testing.T) {
	for _, s := range AllTaskStatuses {
		for _, in := range allCombinations(s, nil) {
			if got := DecideTask(in); got.Reason == "UnknownTaskStatus" {
				t.Errorf("%s: fell through to UnknownTaskStatus", describeInputs(in))
			}
		}
	}
}

func TestDecideTask_StartReplicationOnlyForATaskDMSShowsNeverRanWithoutTheTagWithPreflightPassedAndNotPaused(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			got := DecideTask(in)
			fresh := !RanBefore(in.Task) && in.StartTag == ""
			if got.Action == StartReplication && !(fresh && in.PreflightPassed && !in.Paused) {
				t.Errorf("%s: start-replication (which reloads the target) for a task that must not be started", describeInputs(in))
			}
			if fresh && in.PreflightPassed && !in.Paused && s == StatusReady && got.Action != StartReplication {
				t.Errorf("%s: action %q, want the first start-replication", describeInputs(in), got.Action)
			}
		}
	}
}

func TestDecideTask_ATaskThatRanOrCarriesTheStartTagIsNeverStartedAgainWhateverTheStatusRecords(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			if !RanBefore(in.Task) && in.StartTag == "" {
				continue
			}
			if got := DecideTask(in); got.Action == StartReplication {
				t.Errorf("%s: start-replication again would reload the target", describeInputs(in))
			}
		}
	}
}

func TestDecideTask_ResumeProcessingOnlyForATaskThatRanAndWhoseStartThisMigrationRecorded(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			if got := DecideTask(in); got.Action == ResumeProcessing && !(RanBefore(in.Task) && in.Recorded) {
				t.Errorf("%s: resume-processing for a task that never ran or that this migration did not start", describeInputs(in))
			}
		}
	}
}

func TestDecideTask_ATaskThatRanWithoutThisMigrationsRecordIsHeldWithTheResumeCommand(t *testing.T) {
	for _, s := range []string{StatusReady, StatusStopped} {
		for _, in := range allCombinations(s, nil) {
			if in.Paused || in.Recorded || !RanBefore(in.Task) {
				continue
			}
			got := DecideTask(in)
			if got.Action != NoAction || got.Reason != "TaskRanBefore" || got.Failed {
				t.Errorf("%s: %+v, want a hold TaskRanBefore", describeInputs(in), got)
			}
			if !strings.Contains(got.Message, "--start-replication-task-type resume-processing") || !strings.Contains(got.Message, in.Task.ARN) {
				t.Errorf("%s: message %q does not say how to resume the task by hand", describeInputs(in), got.Message)
			}
		}
	}
}

func TestDecideTask_TheStartTagWithoutAnySignOfARunHoldsAndSaysHowToClearIt(t *testing.T) {
	for _, in := range allCombinations(StatusReady, nil) {
		if in.Paused || in.StartTag == "" || RanBefore(in.Task) {
			continue
		}
		got := DecideTask(in)
		if got.Action != NoAction || got.Reason != "StartUnconfirmed" {
			t.Errorf("%s: %+v, want a hold StartUnconfirmed", describeInputs(in), got)
		}
		if !strings.Contains(got.Message, "remove-tags-from-resource") || !strings.Contains(got.Message, StartTagKey) {
			t.Errorf("%s: message %q does not say how to clear the tag", describeInputs(in), got.Message)
		}
		// This migration asked for the start: DMS should show it soon.
		if got.Busy != in.Recorded {
			t.Errorf("%s: busy %v, want %v", describeInputs(in), got.Busy, in.Recorded)
		}
	}
}

func TestDecideTask_TheTagMattersOnlyWhereNeedStartTagSaysSo(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			if in.StartTag != "" || NeedStartTag(in.Task) {
				continue
			}
			tagged := in
			tagged.StartTag = "2026-12-02T10:00:00Z default/pm"
			if a, b := DecideTask(in), DecideTask(tagged); a != b {
				t.Errorf("%s: the tag, which is not read here, changes the decision from %+v to %+v", describeInputs(in), a, b)
			}
		}
	}
}

func TestDecideTask_ARunningTaskWithoutTheRecordIsRecorded(t *testing.T) {
	for _, in := range allCombinations(StatusRunning, nil) {
		if got := DecideTask(in); got.Record == in.Recorded {
			t.Errorf("%s: record %v", describeInputs(in), got.Record)
		}
	}
	for _, s := range everyStatus() {
		if s == StatusRunning {
			continue
		}
		for _, in := range allCombinations(s, nil) {
			if DecideTask(in).Record {
				t.Errorf("%s: a task that is not running is recorded as started", describeInputs(in))
			}
		}
	}
}

func TestRanBefore_TakesEverySignDMSGives(t *testing.T) {
	for _, c := range []struct {
		name string
		task Task
		want bool
	}{
		{"a ready task with nothing", Task{Status: StatusReady}, false},
		{"a start date", Task{Status: StatusReady, EverStarted: true}, true},
		{"a stop reason", Task{Status: StatusReady, StopReason: "Stop Reason NORMAL"}, true},
		{"tables loaded", Task{Status: StatusReady, TablesLoaded: 1}, true},
		{"a table loading", Task{Status: StatusReady, TablesLoading: 1}, true},
		{"a table errored", Task{Status: StatusReady, TablesErrored: 1}, true},
		{"a load percentage", Task{Status: StatusReady, FullLoadPercent: 3}, true},
		{"stopped", Task{Status: StatusStopped}, true},
		{"running", Task{Status: StatusRunning}, true},
		{"queued tables alone: DMS lists them before a start", Task{Status: StatusReady, TablesQueued: 4}, false},
	} {
		if got := RanBefore(c.task); got != c.want {
			t.Errorf("%s: RanBefore = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDecideTask_AStoppedTaskThisMigrationStartedResumesOnlyWhenNotPaused(t *testing.T) {
	for _, in := range allCombinations(StatusStopped, nil) {
		if !in.Recorded {
			continue
		}
		got := DecideTask(in)
		want := ResumeProcessing
		if in.Paused {
			want = NoAction
		}
		if got.Action != want {
			t.Errorf("%s: action %q, want %q", describeInputs(in), got.Action, want)
		}
		if want == ResumeProcessing && !strings.Contains(got.Message, "Stop Reason NORMAL") {
			t.Errorf("%s: message %q does not give DMS's stop reason", describeInputs(in), got.Message)
		}
	}
}

func TestDecideTask_NothingActsOnTransitionalDeletingMissingOrUnknownStatuses(t *testing.T) {
	for _, s := range []string{StatusCreating, StatusModifying, StatusTesting, StatusMoving, StatusDeleting,
		StatusStarting, StatusStopping, "", unknownStatus, "RUNNING", "Stopped"} {
		for _, in := range allCombinations(s, nil) {
			got := DecideTask(in)
			if got.Action != NoAction || got.Running || got.Failed {
				t.Errorf("%s: action %q running %v failed %v, want no action, not running, not failed",
					describeInputs(in), got.Action, got.Running, got.Failed)
			}
		}
	}
}

func TestDecideTask_UnknownStatusIsReportedByName(t *testing.T) {
	got := DecideTask(TaskInputs{Task: Task{Status: unknownStatus}, PreflightPassed: true})
	if got.Reason != "UnknownTaskStatus" || !strings.Contains(got.Message, `"`+unknownStatus+`"`) {
		t.Errorf("DecideTask(%q) = %+v, want UnknownTaskStatus naming the status", unknownStatus, got)
	}
}

func TestDecideTask_TransitionsAreBusySoTheyAreSampledAgainSoon(t *testing.T) {
	for _, s := range []string{StatusCreating, StatusModifying, StatusTesting, StatusMoving, StatusStarting, StatusStopping} {
		for _, in := range allCombinations(s, nil) {
			if got := DecideTask(in); !got.Busy {
				t.Errorf("%s: not busy", describeInputs(in))
			}
		}
	}
}

func TestDecideTask_EveryActionIsBusySoItsOutcomeIsSampledSoon(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			if got := DecideTask(in); got.Action != NoAction && !got.Busy {
				t.Errorf("%s: action %q but not busy", describeInputs(in), got.Action)
			}
		}
	}
}

func TestDecideTask_FailedAndFailedMoveAreFailedWithTheTasksLastFailureMessage(t *testing.T) {
	for _, s := range []string{StatusFailed, StatusFailedMove} {
		for _, in := range allCombinations(s, nil) {
			got := DecideTask(in)
			if !got.Failed || got.Running || got.Action != NoAction || got.Reason != "TaskFailed" {
				t.Errorf("%s: %+v, want failed, not running, no action, reason TaskFailed", describeInputs(in), got)
			}
			if !strings.Contains(got.Message, in.Task.LastFailureMessage) || !strings.Contains(got.Message, s) {
				t.Errorf("%s: message %q lacks the status or the last failure message %q", describeInputs(in), got.Message, in.Task.LastFailureMessage)
			}
		}
		got := DecideTask(TaskInputs{Task: Task{Status: s}})
		if !got.Failed || !strings.Contains(got.Message, "no reason given") {
			t.Errorf("%s without a failure message: %+v, want failed saying no reason was given", s, got)
		}
	}
}

func TestDecideTask_OnlyFailedStatusesAreFailed(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			want := s == StatusFailed || s == StatusFailedMove
			if got := DecideTask(in); got.Failed != want {
				t.Errorf("%s: failed %v, want %v", describeInputs(in), got.Failed, want)
			}
		}
	}
}

func TestDecideTask_RunningOnlyWhenDMSSaysRunningAndNotPaused(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			want := s == StatusRunning && !in.Paused
			if got := DecideTask(in); got.Running != want {
				t.Errorf("%s: running %v, want %v", describeInputs(in), got.Running, want)
			}
		}
	}
}

func TestDecideTask_StopOnlyARunningTaskTheUserPaused(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			want := s == StatusRunning && in.Paused
			if got := DecideTask(in); (got.Action == StopTask) != want {
				t.Errorf("%s: action %q, stop wanted: %v", describeInputs(in), got.Action, want)
			}
		}
	}
}

func TestDecideTask_PauseNeverStartsOrResumes(t *testing.T) {
	for _, s := range everyStatus() {
		for _, in := range allCombinations(s, nil) {
			if !in.Paused {
				continue
			}
			if got := DecideTask(in); got.Action == StartReplication || got.Action == ResumeProcessing {
				t.Errorf("%s: paused but action %q", describeInputs(in), got.Action)
			}
		}
	}
}

func TestDecideTask_AFullLoadOnlyTaskThatFinishedIsNeitherResumedNorRestarted(t *testing.T) {
	finished := func(t *Task) { t.StopReason = "Stop Reason FULL_LOAD_ONLY_FINISHED" }
	for _, in := range allCombinations(StatusStopped, finished) {
		got := DecideTask(in)
		if got.Action != NoAction {
			t.Errorf("%s: action %q, want none", describeInputs(in), got.Action)
		}
		want := "FullLoadFinished"
		if in.Paused {
			want = "Paused"
		}
		if got.Reason != want {
			t.Errorf("%s: reason %q, want %q", describeInputs(in), got.Reason, want)
		}
	}
}

func TestDecideTask_AStopOnAFatalErrorFailsInsteadOfResumingInALoop(t *testing.T) {
	for _, in := range allCombinations(StatusStopped, func(t *Task) {
		t.StopReason, t.LastFailureMessage = "Stop Reason FATAL_ERROR", "Error executing source loop"
	}) {
		if in.Paused {
			continue // a paused task stays stopped whatever the reason
		}
		got := DecideTask(in)
		if got.Action != NoAction || !got.Failed || !strings.Contains(got.Message, "Error executing source loop") {
			t.Errorf("%s: %+v, want a failure carrying DMS's message and no action", describeInputs(in), got)
		}
	}
}

func TestDecideTask_AStoppedTaskWithoutStopReasonSaysNoReasonGivenWhenResumed(t *testing.T) {
	got := DecideTask(TaskInputs{Task: Task{Status: StatusStopped, EverStarted: true}, Recorded: true})
	if got.Action != ResumeProcessing || !strings.Contains(got.Message, "no reason given") {
		t.Errorf("DecideTask = %+v, want resume-processing saying no reason was given", got)
	}
}

func TestDecideTask_ReasonsAreCamelCase(t *testing.T) {
	mutations := []func(*Task){nil, func(t *Task) { t.StopReason = "Stop Reason FULL_LOAD_ONLY_FINISHED" }}
	for _, s := range everyStatus() {
		for _, m := range mutations {
			for _, in := range allCombinations(s, m) {
				if got := DecideTask(in); !camelCase.MatchString(got.Reason) {
					t.Errorf("%s: reason %q is not CamelCase", describeInputs(in), got.Reason)
				}
			}
		}
	}
}

func TestDecideTask_RunningMessageShowsFullLoadProgressThenCDC(t *testing.T) {
	loading := DecideTask(TaskInputs{Task: Task{Status: StatusRunning, FullLoadPercent: 40, TablesLoaded: 2, TablesLoading: 1, TablesQueued: 3, TablesErrored: 1}})
	if want := "full load 40%: 2 tables loaded, 1 loading, 3 queued, 1 errored"; loading.Message != want {
		t.Errorf("message during full load = %q, want %q", loading.Message, want)
	}
	cdc := DecideTask(TaskInputs{Task: Task{Status: StatusRunning, FullLoadPercent: 100, TablesLoaded: 6}})
	if !strings.Contains(cdc.Message, "CDC") {
		t.Errorf("message after full load = %q, want it to say CDC", cdc.Message)
	}
}

func TestFullLoadDone(t *testing.T) {
	for _, c := range []struct {
		name string
		task Task
		want bool
	}{
		{"nothing reported yet is not done", Task{}, false},
		{"100 percent is done", Task{FullLoadPercent: 100}, true},
		{"99 percent with tables still loading is not done", Task{FullLoadPercent: 99, TablesLoaded: 5, TablesLoading: 1}, false},
		{"every table loaded, none loading or queued, is done before the percentage catches up", Task{FullLoadPercent: 97, TablesLoaded: 6}, true},
		{"a table loading is not done", Task{TablesLoaded: 5, TablesLoading: 1}, false},
		{"a table queued is not done", Task{TablesLoaded: 5, TablesQueued: 1}, false},
		{"no table loaded yet with none queued is not done", Task{TablesLoading: 0, TablesQueued: 0}, false},
		{"only queued tables is not done", Task{TablesQueued: 6}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FullLoadDone(c.task); got != c.want {
				t.Errorf("FullLoadDone(%+v) = %v, want %v", c.task, got, c.want)
			}
		})
	}
}

// A paused task says who holds it, whatever its status, and is stopped
// (never started or resumed) whoever it is.
func TestAPausedTaskSaysWhoHoldsIt(t *testing.T) {
	for _, tc := range []struct {
		holder Holder
		status string
		want   string
		stop   bool
	}{
		{HeldByUser, StatusRunning, "Pausing", true},
		{HeldByUser, StatusStopped, "Paused", false},
		{HeldByUser, StatusReady, "Paused", false},
		{HeldForStackUpdate, StatusRunning, "StoppedForStackUpdate", true},
		{HeldForStackUpdate, StatusStopped, "StoppedForStackUpdate", false},
		{HeldAtFlip, StatusRunning, "StoppedAtFlip", true},
		{HeldAtFlip, StatusStopped, "StoppedAtFlip", false},
	} {
		d := DecideTask(TaskInputs{Task: Task{Status: tc.status, EverStarted: tc.status != StatusReady}, Paused: true, Holder: tc.holder, PreflightPassed: true, Recorded: true})
		if d.Reason != tc.want || (d.Action == StopTask) != tc.stop || (d.Action != StopTask && d.Action != NoAction) || d.Running {
			t.Errorf("holder %d, task %s: %s %s (%s), want %s, stop=%t", tc.holder, tc.status, d.Action, d.Reason, d.Message, tc.want, tc.stop)
		}
	}
}
