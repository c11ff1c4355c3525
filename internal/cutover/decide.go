package cutover

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Timings of the waits the decision asks for.
const (
	// Poll is how soon to look again while something is in motion outside a
	// freeze (a task stopping, a step interval about to end).
	Poll = 2 * time.Second
	// Idle is how soon to look again when nothing is expected to change soon.
	IdlePoll = 30 * time.Second
	// AwaitSlice bounds one wait for a watermark, so that an abort or the
	// freeze timeout is noticed while the drain goes on.
	AwaitSlice = 2 * time.Second
	// ReverseStartSettle is how long a recorded start of the reverse task
	// that DMS does not show is trusted to be in flight. After it, DMS's own
	// record (never started) proves the call never took effect.
	ReverseStartSettle = time.Minute
)

// Decide is the cutover policy: one action for the migration's current
// situation.
func Decide(spec Spec, rec Record, gates []Gate, w World, now time.Time) Decision {
	rec = rec.clone()
	if rec.State == "" {
		rec.State, rec.Step = Idle, -1
	}
	switch rec.State {
	case Stepping:
		return stepping(spec, rec, gates, w, now)
	case Freezing:
		if rec.Direction == Reverse {
			return reverseFreeze(spec, rec, w, now)
		}
		return forwardFreeze(spec, rec, w, now)
	case Flipped:
		return afterFlip(spec, rec, w, now)
	case Completed:
		return completed(spec, rec, w, now)
	case RollingBack:
		if rec.Direction == Reverse {
			return afterFlipBack(rec, w, now)
		}
		return rollback(rec, w, now)
	default: // Idle, Held, RolledBack
		return start(spec, rec, gates, w, now)
	}
}

func wait(rec Record, d time.Duration) Decision {
	return Decision{Record: rec, Action: Action{Op: OpWait, StepIndex: -1}, Requeue: d}
}

func hold(rec Record, reason, message string, d time.Duration) Decision {
	rec.Reason, rec.Message = reason, message
	return wait(rec, d)
}

// transition records a state change; Fast carries on at once.
func transition(rec Record, ev *Event, fast bool) Decision {
	return Decision{Record: rec, Action: Action{Op: OpRecord, StepIndex: -1, Persist: true, Fast: fast}, Event: ev}
}

// act starts the intent of a and returns it as the decision.
func act(rec Record, a Action, now time.Time) Decision {
	rec.start(a.ID, now)
	return Decision{Record: rec, Action: a}
}

func start(spec Spec, rec Record, gates []Gate, w World, now time.Time) Decision {
	if rec.State == RolledBack && !rec.FlippedAt.IsZero() {
		// The forward task stopped at the flip and the reverse task wrote
		// the target's payments into the source since: resuming it would
		// apply them twice. A new cutover starts from a reloaded target.
		return hold(rec, "TargetNeedsReload", "rolled back after the flip: the forward task stays stopped; reload the target (a new migration) before cutting over again", IdlePoll)
	}
	if rec.AwaitingReapproval {
		if spec.Approved {
			return hold(rec, rec.Reason, fmt.Sprintf("rolled back (%s); to try again, fix the cause, set spec.cutover.approved to false and then to true", rec.Reason), IdlePoll)
		}
		rec.AwaitingReapproval = false
		rec.Message = "approval withdrawn after the rollback; set spec.cutover.approved to true to try again"
		return transition(rec, nil, false)
	}
	if spec.Abort {
		return hold(rec, "NothingToAbort", "spec.cutover.abort is set, but no cutover is in progress: nothing changed; clear it to cut over", IdlePoll)
	}
	if !spec.Automatic && !spec.Approved {
		if rec.State == Held {
			rec.State = Idle
		}
		return hold(rec, "AwaitingApproval", "replicating; set spec.cutover.approved to true to start the cutover", IdlePoll)
	}
	if w.Routes != SourceRoutes {
		rec.State = Held
		return hold(rec, "TrafficNotAtSource", fmt.Sprintf("approved, but Route 53 is not at 100%% source with the writer on the source (source=%d%% target=%d%% writer=%s): the operator will not start from a state it did not make",
			w.Routes.SourceWeight, w.Routes.TargetWeight, w.Routes.Writer), Poll)
	}
	if len(spec.Steps) == 0 || spec.Steps[len(spec.Steps)-1] != 100 {
		rec.State = Held
		return hold(rec, "InvalidSteps", fmt.Sprintf("spec.cutover.steps %v must end at 100", spec.Steps), IdlePoll)
	}
	if failed, unknown := FailingGates(gates); len(failed)+len(unknown) > 0 {
		rec.State = Held
		return hold(rec, "GatesNotPassing", "approved; waiting for the gates: "+strings.Join(append(failed, unknown...), ", "), Poll)
	}
	approvedAt := now
	if !spec.ApprovedAt.IsZero() && !spec.ApprovedAt.After(now) {
		// A stamp from the future is a skewed clock, not an approval time.
		approvedAt = spec.ApprovedAt
	}
	rec = Record{
		State: Stepping, Attempt: rec.Attempt + 1, Step: -1,
		Steps: slices.Clone(spec.Steps), ReversePath: spec.ReversePath,
		ApprovedAt: approvedAt, ApprovedBy: spec.ApprovedBy,
		Reason: "Approved", Message: "gates pass; moving the service tier through " + fmtSteps(spec.Steps),
	}
	by := ""
	if spec.ApprovedBy != "" {
		by = " by " + spec.ApprovedBy
	}
	return transition(rec, &Event{Reason: "CutoverStarted", Message: fmt.Sprintf("cutover attempt %d approved%s; steps %s", rec.Attempt, by, fmtSteps(spec.Steps))}, true)
}

func fmtSteps(steps []int32) string {
	s := make([]string, len(steps))
	for i, v := range steps {
		s[i] = fmt.Sprintf("%d%%", v)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// specChanged: the steps or the reverse switch differ from the attempt's.
func specChanged(spec Spec, rec Record) bool {
	return !slices.Equal(spec.Steps, rec.Steps) || spec.ReversePath != rec.ReversePath
}

func beginRollback(rec Record, reason, message string) Decision {
	rec.State, rec.Direction, rec.Reason, rec.Message = RollingBack, Forward, reason, message
	return transition(rec, &Event{Warning: true, Reason: "RollbackStarted", Message: message}, true)
}

func stepping(spec Spec, rec Record, gates []Gate, w World, now time.Time) Decision {
	if spec.Abort {
		return beginRollback(rec, "Aborted", "spec.cutover.abort: returning traffic to the source")
	}
	if w.Routes.Writer != naming.Source {
		return hold(rec, "WriterMoved", "the writer record points at the "+string(w.Routes.Writer)+" although no flip was made: someone changed it; the operator holds", Poll)
	}
	if specChanged(spec, rec) {
		return hold(rec, "SpecChangedDuringCutover", fmt.Sprintf("spec.cutover.steps/reversePath changed during the cutover (started with %s, reversePath=%t); restore them or abort", fmtSteps(rec.Steps), rec.ReversePath), Poll)
	}
	failed, unknown := FailingGates(gates)
	if len(failed) > 0 {
		msg := "gate failed: " + strings.Join(failed, ", ")
		if spec.AutoRollback {
			return beginRollback(rec, "GateFailed", msg+"; rolling back to the source")
		}
		return hold(rec, "GateFailed", msg+"; holding because spec.cutover.autoRollback is false (abort to roll back)", Poll)
	}
	if len(unknown) > 0 {
		return hold(rec, "GatesUnknown", "waiting for fresh data before the next step: "+strings.Join(unknown, ", "), Poll)
	}
	pre := rec.Steps[:len(rec.Steps)-1]
	next := rec.Step + 1
	if int(next) < len(pre) {
		r := Routes{SourceWeight: 100 - pre[next], TargetWeight: pre[next], Writer: naming.Source}
		id := rec.opID(fmt.Sprintf("step-%d", next))
		if w.Routes == r {
			// Applied before a restart lost its record.
			rec.finish(id, now)
			rec.Step, rec.LastStepAt = next, now
			return transition(rec, nil, false)
		}
		if next > 0 {
			if due := rec.LastStepAt.Add(spec.StepInterval); now.Before(due) {
				return hold(rec, "Stepping", fmt.Sprintf("at %d%% target; next step %d%% at %s", pre[next-1], pre[next], due.UTC().Format(time.RFC3339)), due.Sub(now))
			}
		}
		rec.Reason, rec.Message = "Stepping", fmt.Sprintf("service tier to %d%% target", pre[next])
		return act(rec, Action{Op: OpSetRoutes, ID: id, Routes: r, StepIndex: next, Persist: true}, now)
	}
	if len(pre) > 0 {
		if due := rec.LastStepAt.Add(spec.StepInterval); now.Before(due) {
			return hold(rec, "Stepping", fmt.Sprintf("at %d%% target; the freeze starts at %s", pre[len(pre)-1], due.UTC().Format(time.RFC3339)), due.Sub(now))
		}
	}
	if rec.ReversePath && !w.SlotExists {
		// Made before the freeze, not in it: creating a logical slot waits
		// for a consistent point (the target's running transactions, the
		// forward task's among them), tens of milliseconds the service would
		// otherwise wait. Where it starts does not matter: the reverse task
		// starts at the flip point, marked in the freeze.
		rec.Reason, rec.Message = "Stepping", "creating the reverse slot on the target before the freeze"
		return act(rec, Action{Op: OpCreateSlot, ID: rec.opID("forward/create-slot"), Side: naming.Target, StepIndex: -1, Fast: true}, now)
	}
	rec.State, rec.Direction, rec.FreezeStartedAt = Freezing, Forward, now
	rec.WatermarkID = fmt.Sprintf("a%d-forward-%d", rec.Attempt, now.UnixNano())
	rec.Reason, rec.Message = "Freezing", "fencing the source's application role, draining replication by watermark"
	return transition(rec, &Event{Reason: "FreezeStarted", Message: "write freeze started: fencing the source"}, true)
}

// step is one action of a sequence, done when its effect is observed or its
// intent finished.
type step struct {
	name   string
	done   bool
	action Action
}

// firstPending returns the first step not done. A step counts as done only if
// every step before it is: when an earlier effect has to be made again (a
// fence someone lifted), what was done after it is done again too.
func firstPending(rec *Record, steps []step, now time.Time) (step, bool) {
	for i, s := range steps {
		if s.done {
			// Observed in effect (a restart lost the record of it, or the
			// outcome was lost): the log says so.
			if id := rec.opID(s.name); !rec.finished(id) {
				rec.finish(id, now)
				rec.note(id, "observed in effect")
			}
			continue
		}
		for _, later := range steps[i+1:] {
			if in := rec.intent(rec.opID(later.name)); in != nil {
				in.Finished = time.Time{}
			}
		}
		s.action.ID = rec.opID(s.name)
		return s, true
	}
	return step{}, false
}

// drainSteps are the freeze's steps on the writer being left (from), the
// same both ways: fence its application role, confirm the fence from a fresh
// session, drain the role's writes and sessions, write a watermark there and
// wait for it on the other side, then move the other side's sequences past
// from's.
func drainSteps(rec Record, w World, now time.Time, timeout time.Duration, dir Direction, from naming.Side) []step {
	to := naming.Target
	if from == naming.Target {
		to = naming.Source
	}
	name := func(op string) string { return string(dir) + "/" + op }
	f := func(op string) bool { return rec.finished(rec.opID(name(op))) }
	remaining := max(timeout-now.Sub(rec.FreezeStartedAt), 0)
	return []step{
		{name("fence-" + string(from)), w.fenced(from), Action{Op: OpSetFence, Side: from, On: true}},
		{name("confirm-" + string(from)), f("confirm-" + string(from)), Action{Op: OpConfirmFence, Side: from}},
		{name("drain-" + string(from)), f("drain-" + string(from)), Action{Op: OpDrainSessions, Side: from}},
		{name("write-watermark"), f("write-watermark"), Action{Op: OpWriteWatermark, Side: from, Watermark: rec.WatermarkID}},
		{name("await-watermark"), f("await-watermark"), Action{Op: OpAwaitWatermark, Side: to, Watermark: rec.WatermarkID, Timeout: min(remaining, AwaitSlice)}},
		{name("sync-sequences"), f("sync-sequences"), Action{Op: OpSyncSequences, From: from, To: to}},
	}
}

func forwardSteps(rec Record, w World, now time.Time, timeout time.Duration) []step {
	f := func(name string) bool { return rec.finished(rec.opID("forward/" + name)) }
	steps := append(drainSteps(rec, w, now, timeout, Forward, naming.Source),
		// A reverse rollback leaves the target fenced; it must take writes
		// once the writer points at it.
		step{"forward/unfence-target", !w.fenced(naming.Target), Action{Op: OpSetFence, Side: naming.Target, On: false}})
	if rec.ReversePath {
		// After the watermark: every change the forward task applied is
		// before this position, and the target takes no write of its own
		// until the flip that follows.
		steps = append(steps, step{"forward/flip-point", f("flip-point") && rec.SlotLSN != "", Action{Op: OpMarkFlipPoint, Side: naming.Target}})
	}
	return append(steps, step{"forward/flip", w.Routes == TargetRoutes, Action{Op: OpSetRoutes, Routes: TargetRoutes}})
}

func forwardFreeze(spec Spec, rec Record, w World, now time.Time) Decision {
	if w.Routes.Writer == naming.Target {
		// The flip is made: nothing of the freeze can be undone any more but
		// by the reverse path.
		if rec.FlippedAt.IsZero() {
			// Found flipped by a restart: the freeze ended at the latest now.
			rec.FlippedAt, rec.Freeze = now, now.Sub(rec.FreezeStartedAt)
		}
		rec.finish(rec.opID("forward/flip"), now)
		rec.State, rec.Reason = Flipped, "Flipped"
		rec.Message = fmt.Sprintf("writer record on the target after a %s freeze", rec.FlippedAt.Sub(rec.FreezeStartedAt).Round(time.Millisecond))
		return transition(rec, &Event{Reason: "Flipped", Message: rec.Message}, true)
	}
	if spec.Abort {
		return beginRollback(rec, "Aborted", "spec.cutover.abort during the freeze: lifting the fence, traffic to the source")
	}
	if now.Sub(rec.FreezeStartedAt) > spec.FreezeTimeout {
		return beginRollback(rec, "FreezeTimeout", fmt.Sprintf("the freeze did not reach the flip within %s (stuck at %s); rolling back to the source", spec.FreezeTimeout, pendingName(rec, forwardSteps(rec, w, now, spec.FreezeTimeout))))
	}
	s, ok := firstPending(&rec, forwardSteps(rec, w, now, spec.FreezeTimeout), now)
	if !ok { // unreachable: the flip step is pending until the writer is on the target
		return wait(rec, Poll)
	}
	if spec.OneTaskFreeze && s.action.Op != OpSetRoutes {
		s.action = oneTaskFreeze(spec, rec, now, Forward, naming.Source)
	}
	s.action.Fast, s.action.StepIndex = true, -1
	if s.action.Op == OpSetRoutes {
		// The flip is recorded before it is made: a restart that finds the
		// writer on the target knows it was this freeze's.
		s.action.Persist = true
	}
	return act(rec, s.action, now)
}

func pendingName(rec Record, steps []step) string {
	for _, s := range steps {
		if !s.done {
			return s.name
		}
	}
	return "the end"
}

func afterFlip(spec Spec, rec Record, w World, now time.Time) Decision {
	if w.Routes.Writer != naming.Target {
		return hold(rec, "WriterMoved", "the writer record no longer points at the target after the flip: someone changed it; the operator holds", Poll)
	}
	if spec.Abort {
		return beginReverse(rec, w, now)
	}
	if !w.fenced(naming.Source) {
		// Until a rollback, nothing may write into the source: the writer
		// record says target, and the fence stays as a second guard.
		return act(rec, Action{Op: OpSetFence, ID: rec.opID("forward/refence-source"), Side: naming.Source, On: true, StepIndex: -1, Fast: true}, now)
	}
	if !w.ForwardTask.Stopped() {
		id := rec.opID("forward/stop-task")
		if rec.finished(id) || w.ForwardTask.Status == "stopping" {
			return hold(rec, "StoppingForwardTask", "waiting for the forward task to stop ("+w.ForwardTask.Status+")", Poll)
		}
		return act(rec, Action{Op: OpStopTask, ID: id, Task: ForwardTask, StepIndex: -1}, now)
	}
	if rec.ReversePath {
		if d, ok := startReverse(rec, w, now); !ok {
			return d
		}
	}
	rec.State, rec.Reason = Completed, "CutoverComplete"
	rec.Message = "the target takes every write"
	if rec.ReversePath {
		rec.Message += "; the reverse task carries them to the source"
	}
	return transition(rec, &Event{Reason: "CutoverComplete", Message: rec.Message}, false)
}

// startReverse starts the reverse task once; ok when it has been started.
func startReverse(rec Record, w World, now time.Time) (Decision, bool) {
	id := rec.opID("forward/start-reverse")
	if w.ReverseTask.EverStarted {
		rec.finish(id, now)
		return Decision{}, true
	}
	if !rec.ReverseStartedAt.IsZero() && now.Sub(rec.ReverseStartedAt) < ReverseStartSettle {
		return hold(rec, "StartingReverseTask", "waiting for DMS to show the reverse task's start", Poll), false
	}
	if rec.SlotLSN == "" {
		return hold(rec, "NoReverseSlot", "no slot position recorded for the reverse task; it is not started", Poll), false
	}
	rec.ReverseStartedAt = now
	return act(rec, Action{Op: OpStartReverse, ID: id, Task: ReverseTask, LSN: rec.SlotLSN, StepIndex: -1, Persist: true}, now), false
}

func completed(spec Spec, rec Record, w World, now time.Time) Decision {
	if w.Routes.Writer != naming.Target {
		return hold(rec, "WriterMoved", "the writer record no longer points at the target: someone changed it; the operator holds", Poll)
	}
	if spec.Abort {
		return beginReverse(rec, w, now)
	}
	if w.fenced(naming.Target) {
		// A reverse freeze that timed out left the target fenced.
		return act(rec, Action{Op: OpSetFence, ID: rec.opID("reverse/unfence-target"), Side: naming.Target, On: false, StepIndex: -1, Fast: true}, now)
	}
	if id := rec.opID("reverse/reconnect-target"); rec.intent(rec.opID("reverse/unfence-target")) != nil && !rec.finished(id) {
		return act(rec, Action{Op: OpDrainSessions, ID: id, Side: naming.Target, NoGrace: true, StepIndex: -1}, now)
	}
	return wait(rec, IdlePoll)
}

// beginReverse starts a rollback after the flip, when there is a way back.
func beginReverse(rec Record, w World, now time.Time) Decision {
	if !rec.ReversePath {
		return hold(rec, "AbortRefused", "abort after the flip needs the reverse path, and this cutover has none (spec.cutover.reversePath was false): the target keeps every write; nothing changed", IdlePoll)
	}
	if !w.ReverseTask.Running() {
		return hold(rec, "AbortRefused", fmt.Sprintf("abort after the flip needs the reverse task running, and it is %q: writes made on the target would not reach the source; nothing changed", w.ReverseTask.Status), Poll)
	}
	rec.State, rec.Direction, rec.FreezeStartedAt = Freezing, Reverse, now
	rec.WatermarkID = fmt.Sprintf("a%d-reverse-%d", rec.Attempt, now.UnixNano())
	rec.Reason, rec.Message = "Aborted", "rollback after the flip: fencing the target, draining the reverse task by watermark"
	return transition(rec, &Event{Warning: true, Reason: "RollbackStarted", Message: rec.Message}, true)
}

func reverseFreeze(spec Spec, rec Record, w World, now time.Time) Decision {
	if w.Routes == SourceRoutes {
		rec.finish(rec.opID("reverse/flip"), now)
		rec.State, rec.Message = RollingBack, "writer record back on the source; lifting the source's fence"
		return transition(rec, nil, true)
	}
	if now.Sub(rec.FreezeStartedAt) > spec.FreezeTimeout {
		rec.State, rec.Direction, rec.Reason = Completed, "", "ReverseFreezeTimeout"
		rec.Message = fmt.Sprintf("the rollback's freeze did not reach the flip back within %s; the target stays the writer and its fence is lifted", spec.FreezeTimeout)
		return transition(rec, &Event{Warning: true, Reason: "RollbackFailed", Message: rec.Message}, true)
	}
	steps := append(drainSteps(rec, w, now, spec.FreezeTimeout, Reverse, naming.Target),
		step{"reverse/flip", false, Action{Op: OpSetRoutes, Routes: SourceRoutes, Persist: true}})
	s, _ := firstPending(&rec, steps, now)
	if spec.OneTaskFreeze && s.action.Op != OpSetRoutes {
		s.action = oneTaskFreeze(spec, rec, now, Reverse, naming.Target)
	}
	s.action.Fast, s.action.StepIndex = true, -1
	return act(rec, s.action, now)
}

// oneTaskFreeze is the OpFreeze that stands for every step of the freeze
// before the flip, the steps already done included: each is idempotent, and
// a step counts as done only if those before it are, so a pending one means
// the ones after it are to be done again anyway. Its wait for the watermark
// may take what is left of the freeze timeout: there is no later action to
// notice an abort in between, and the timeout bounds it.
func oneTaskFreeze(spec Spec, rec Record, now time.Time, dir Direction, from naming.Side) Action {
	to := naming.Target
	if from == naming.Target {
		to = naming.Source
	}
	a := Action{Op: OpFreeze, ID: rec.opID(string(dir) + "/freeze"), Side: from, From: from, To: to, Watermark: rec.WatermarkID,
		Timeout: max(spec.FreezeTimeout-now.Sub(rec.FreezeStartedAt), 0)}
	if dir == Forward {
		a.UnfenceTo, a.FlipPoint = true, rec.ReversePath
	}
	return a
}

// afterFlipBack finishes a rollback after the flip: the writer is on the
// source again.
func afterFlipBack(rec Record, w World, now time.Time) Decision {
	if w.Routes.Writer != naming.Source {
		return hold(rec, "WriterMoved", "the writer record left the source during the rollback: someone changed it; the operator holds", Poll)
	}
	if w.fenced(naming.Source) {
		return act(rec, Action{Op: OpSetFence, ID: rec.opID("reverse/lift-source"), Side: naming.Source, On: false, StepIndex: -1, Fast: true}, now)
	}
	if id := rec.opID("reverse/reconnect-source"); !rec.finished(id) {
		return act(rec, Action{Op: OpDrainSessions, ID: id, Side: naming.Source, NoGrace: true, StepIndex: -1, Fast: true}, now)
	}
	if !w.ReverseTask.Stopped() {
		id := rec.opID("reverse/stop-task")
		if rec.finished(id) || w.ReverseTask.Status == "stopping" {
			return hold(rec, "StoppingReverseTask", "waiting for the reverse task to stop ("+w.ReverseTask.Status+")", Poll)
		}
		return act(rec, Action{Op: OpStopTask, ID: id, Task: ReverseTask, StepIndex: -1}, now)
	}
	return rolledBack(rec, "back on the source after the flip: every write made on the target reached it; the forward task stays stopped, so a new cutover needs the target reloaded")
}

func rolledBack(rec Record, message string) Decision {
	rec.State, rec.AwaitingReapproval, rec.Step = RolledBack, true, -1
	rec.Message = message
	return transition(rec, &Event{Warning: true, Reason: "RolledBack", Message: fmt.Sprintf("%s (%s)", message, rec.Reason)}, false)
}

// rollback undoes a cutover that has not flipped.
func rollback(rec Record, w World, now time.Time) Decision {
	if w.Routes.Writer == naming.Target {
		// The flip went through before the rollback started (a restart
		// between the two): it stands, and only the reverse path undoes it.
		rec.State, rec.Message = Flipped, "the flip had been made before the rollback began; it stands (abort to roll back through the reverse path)"
		if rec.FlippedAt.IsZero() {
			rec.FlippedAt = now
		}
		return transition(rec, &Event{Warning: true, Reason: "Flipped", Message: rec.Message}, true)
	}
	steps := []step{
		{"rollback/routes-source", w.Routes == SourceRoutes, Action{Op: OpSetRoutes, Routes: SourceRoutes}},
		{"rollback/drop-slot", !w.SlotExists, Action{Op: OpDropSlot, Side: naming.Target}},
		{"rollback/lift-source", !w.fenced(naming.Source), Action{Op: OpSetFence, Side: naming.Source, On: false}},
		{"rollback/reconnect-source", rec.FreezeStartedAt.IsZero() || rec.finished(rec.opID("rollback/reconnect-source")), Action{Op: OpDrainSessions, Side: naming.Source, NoGrace: true}},
	}
	if s, ok := firstPending(&rec, steps, now); ok {
		s.action.Fast, s.action.StepIndex = true, -1
		return act(rec, s.action, now)
	}
	return rolledBack(rec, "back on the source: 100% source, the source's fence lifted")
}
