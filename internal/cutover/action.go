package cutover

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Op is the kind of an action.
type Op string

const (
	// OpWait: nothing to do now; decide again after Decision.Requeue.
	OpWait Op = "Wait"
	// OpRecord: only the record changes (a state transition).
	OpRecord Op = "Record"
	// OpSetRoutes: weights and writer record, in one change, awaited to INSYNC.
	OpSetRoutes Op = "SetRoutes"
	// OpSetFence sets (On) or lifts the application role's read-only fence on Side.
	OpSetFence Op = "SetFence"
	// OpConfirmFence checks the fence on Side from a fresh session of the role.
	OpConfirmFence Op = "ConfirmFence"
	// OpDrainSessions waits (bounded) for the role's open writes on Side, then
	// ends its sessions.
	OpDrainSessions Op = "DrainSessions"
	// OpWriteWatermark writes Watermark on Side (the operator's own session).
	OpWriteWatermark Op = "WriteWatermark"
	// OpAwaitWatermark waits up to Timeout for Watermark on Side.
	OpAwaitWatermark Op = "AwaitWatermark"
	// OpSyncSequences moves To's sequences past From's.
	OpSyncSequences Op = "SyncSequences"
	// OpCreateSlot creates the reverse slot on the target, before the freeze:
	// its consistent point waits for the target's running transactions, which
	// costs the freeze nothing when it is made before it.
	OpCreateSlot Op = "CreateSlot"
	// OpMarkFlipPoint reads, once the watermark is on the target, the
	// target's WAL position: the reverse task starts there, so it carries
	// every write the target takes after the flip and none that the forward
	// task applied before it. It creates the slot if it is missing.
	OpMarkFlipPoint Op = "MarkFlipPoint"
	// OpDropSlot drops the reverse slot (an unused slot holds WAL forever).
	OpDropSlot Op = "DropSlot"
	// OpStopTask stops Task.
	OpStopTask Op = "StopTask"
	// OpStartReverse starts the reverse task at LSN, once.
	OpStartReverse Op = "StartReverse"
	// OpFreeze is the steps of a freeze from the writer From to To in one
	// go (Spec.OneTaskFreeze): fence From's role, confirm it, drain its
	// writes and sessions, write Watermark on From and wait up to Timeout
	// for it on To, move To's sequences past From's, then, when asked, lift
	// To's fence (UnfenceTo) and mark the flip point on the target
	// (FlipPoint). Every step is idempotent, so the whole is too.
	OpFreeze Op = "Freeze"
)

// Task names one of the two DMS tasks.
type Task string

const (
	ForwardTask Task = "forward"
	ReverseTask Task = "reverse"
)

// Action is one step for the reconciler to carry out.
type Action struct {
	Op Op
	// ID is the intent id: attempt/name.
	ID string

	Routes Routes
	// StepIndex is the service-tier step a SetRoutes applies, -1 otherwise.
	StepIndex int32
	Side      naming.Side
	On        bool
	From, To  naming.Side
	Watermark string
	Timeout   time.Duration
	Task      Task
	LSN       string
	// NoGrace: DrainSessions ends the sessions at once. After a fence is
	// lifted, sessions opened under it stay read-only for their whole life;
	// ending them makes the pool reconnect writable.
	NoGrace bool
	// UnfenceTo and FlipPoint: the optional last steps of an OpFreeze.
	UnfenceTo, FlipPoint bool

	// Persist: write the record (with this intent started) before acting, so
	// a restart knows the action may have happened.
	Persist bool
	// Fast: part of a freeze or a rollback; decide and act again at once
	// rather than after a requeue.
	Fast bool
}

// String is the action as the logs and the intent notes show it.
func (a Action) String() string {
	switch a.Op {
	case OpSetRoutes:
		return fmt.Sprintf("%s source=%d%% target=%d%% writer=%s", a.Op, a.Routes.SourceWeight, a.Routes.TargetWeight, a.Routes.Writer)
	case OpSetFence:
		return fmt.Sprintf("%s %s on=%t", a.Op, a.Side, a.On)
	case OpAwaitWatermark, OpWriteWatermark:
		return fmt.Sprintf("%s %s %s", a.Op, a.Side, a.Watermark)
	case OpSyncSequences:
		return fmt.Sprintf("%s %s->%s", a.Op, a.From, a.To)
	case OpFreeze:
		return fmt.Sprintf("%s %s->%s %s", a.Op, a.From, a.To, a.Watermark)
	case OpStopTask:
		return fmt.Sprintf("%s %s", a.Op, a.Task)
	}
	if a.Side != "" {
		return fmt.Sprintf("%s %s", a.Op, a.Side)
	}
	return string(a.Op)
}

// Event is a Kubernetes Event the decision asks for.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Decision is the next action and the record to keep.
type Decision struct {
	Record  Record
	Action  Action
	Requeue time.Duration
	Event   *Event
}

// Result is the outcome of an action.
type Result struct {
	Err error
	// Confirmed: ConfirmFence saw the fence from a fresh session.
	Confirmed bool
	// Found: AwaitWatermark saw the row.
	Found bool
	// LSN: MarkFlipPoint's position.
	LSN string
	// Drain: DrainSessions' counts.
	OpenWritesWaited, SessionsTerminated int
	// Sequences set by SyncSequences.
	Sequences int
	// Freeze is what an OpFreeze did, also when it failed part way.
	Freeze FreezeResult
}

// FreezeResult is the steps an OpFreeze completed, in order: a step counts
// only if every step before it does.
type FreezeResult struct {
	Fenced, Confirmed, Drained, WatermarkWritten, Found, SequencesSynced, Unfenced bool
	OpenWritesWaited, SessionsTerminated, Sequences                                int
	// LSN is the flip point, when the action asked for it.
	LSN string
	// Drain is watermark written to watermark seen, as the task measured it.
	Drain time.Duration
}

// ErrNotConfirmed is the note of a fence not yet visible to a fresh session.
var ErrNotConfirmed = errors.New("the fence is not visible to a new session yet")

// Complete records the outcome of an action: the intent is finished when the
// action succeeded; otherwise it stays open with the error as its note, and
// the next decision carries the action out again (every action is idempotent).
func Complete(rec Record, a Action, res Result, now time.Time) Record {
	rec = rec.clone()
	if a.ID == "" {
		return rec
	}
	if a.Op == OpFreeze {
		return completeFreeze(rec, a, res, now)
	}
	err := res.Err
	switch {
	case err != nil:
	case a.Op == OpConfirmFence && !res.Confirmed:
		err = ErrNotConfirmed
	case a.Op == OpAwaitWatermark && !res.Found:
		// Not an error: the drain goes on until the freeze times out.
		rec.note(a.ID, "watermark not on the "+string(a.Side)+" yet")
		return rec
	}
	if err != nil {
		rec.note(a.ID, truncate(err.Error(), 400))
		rec.Message = fmt.Sprintf("%s failed: %v", a, err)
		return rec
	}
	rec.finish(a.ID, now)
	switch a.Op {
	case OpSetRoutes:
		if a.StepIndex >= 0 {
			rec.Step, rec.LastStepAt = a.StepIndex, now
		}
		if a.Routes == TargetRoutes && rec.FlippedAt.IsZero() && rec.Direction == Forward {
			rec.FlippedAt, rec.Freeze = now, now.Sub(rec.FreezeStartedAt)
		}
	case OpDrainSessions:
		rec.Ledger.OpenWritesWaited += res.OpenWritesWaited
		rec.Ledger.SessionsTerminated += res.SessionsTerminated
	case OpAwaitWatermark:
		if w := rec.intent(watermarkWriteID(rec)); w != nil {
			rec.Ledger.Drain = now.Sub(w.Started)
		}
	case OpSyncSequences:
		rec.Ledger.SequencesSet = res.Sequences
	case OpMarkFlipPoint:
		rec.SlotLSN = res.LSN
	case OpDropSlot:
		rec.SlotLSN = ""
	}
	return rec
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (r Record) clone() Record {
	r.Steps = append([]int32(nil), r.Steps...)
	r.Intents = append([]Intent(nil), r.Intents...)
	return r
}

func (r *Record) intent(id string) *Intent {
	for i := range r.Intents {
		if r.Intents[i].ID == id {
			return &r.Intents[i]
		}
	}
	return nil
}

// start records an intent (once: a retry keeps the first start time).
func (r *Record) start(id string, now time.Time) {
	if r.intent(id) != nil {
		return
	}
	r.Intents = append(r.Intents, Intent{ID: id, Started: now})
}

func (r *Record) finish(id string, now time.Time) {
	r.start(id, now)
	in := r.intent(id)
	if in.Finished.IsZero() {
		in.Finished = now
	}
	in.Note = ""
}

func (r *Record) note(id, note string) {
	if in := r.intent(id); in != nil {
		in.Note = note
	}
}

func (r Record) finished(id string) bool {
	in := r.intent(id)
	return in != nil && !in.Finished.IsZero()
}

// opID is an intent id of the current attempt.
func (r Record) opID(name string) string { return fmt.Sprintf("%d/%s", r.Attempt, name) }

func watermarkWriteID(r Record) string { return r.opID(string(r.Direction) + "/write-watermark") }

// FailingGates names the gates that do not pass, for messages.
func FailingGates(gates []Gate) (failed, unknown []string) {
	for _, g := range gates {
		switch g.State {
		case Fail:
			failed = append(failed, g.Name)
		case Unknown:
			unknown = append(unknown, g.Name)
		}
	}
	return failed, unknown
}

// GateLines is the CutoverReady message: one line per gate.
func GateLines(gates []Gate) string {
	var b strings.Builder
	for i, g := range gates {
		if i > 0 {
			b.WriteByte('\n')
		}
		verdict := map[GateState]string{Pass: "PASS", Fail: "FAIL", Unknown: "UNKNOWN"}[g.State]
		fmt.Fprintf(&b, "%s %s: %s", verdict, g.Name, g.Message)
	}
	return b.String()
}

// After is the world as a successful action left it, so the next decision
// of the same freeze needs no new reads.
func After(w World, a Action, res Result) World {
	if res.Err != nil {
		return w
	}
	fenced := map[naming.Side]bool{}
	for k, v := range w.Fenced {
		fenced[k] = v
	}
	w.Fenced = fenced
	switch a.Op {
	case OpSetRoutes:
		w.Routes = a.Routes
	case OpSetFence:
		w.Fenced[a.Side] = a.On
	case OpCreateSlot, OpMarkFlipPoint:
		w.SlotExists = true
	case OpDropSlot:
		w.SlotExists = false
	case OpStopTask:
		if a.Task == ForwardTask {
			w.ForwardTask.Status = "stopping"
		} else {
			w.ReverseTask.Status = "stopping"
		}
	case OpStartReverse:
		w.ReverseTask = TaskState{Status: "starting", EverStarted: true}
	case OpFreeze:
		w.Fenced[a.From] = res.Freeze.Fenced || w.Fenced[a.From]
		if res.Freeze.Unfenced {
			w.Fenced[a.To] = false
		}
		if res.Freeze.LSN != "" {
			w.SlotExists = true
		}
	}
	return w
}

// freezeStepNames are the intents of a freeze's steps (without the
// direction prefix), in order, as drainSteps names them.
func freezeStepNames(a Action) []string {
	names := []string{"fence-" + string(a.From), "confirm-" + string(a.From), "drain-" + string(a.From),
		"write-watermark", "await-watermark", "sync-sequences"}
	if a.UnfenceTo {
		names = append(names, "unfence-"+string(a.To))
	}
	if a.FlipPoint {
		names = append(names, "flip-point")
	}
	return names
}

// completeFreeze records every step the one action completed as its own
// intent, so the log reads as it would had each been an action, and the
// decision goes on from the first step not done.
func completeFreeze(rec Record, a Action, res Result, now time.Time) Record {
	f := res.Freeze
	done := []bool{f.Fenced, f.Confirmed, f.Drained, f.WatermarkWritten, f.Found, f.SequencesSynced}
	if a.UnfenceTo {
		done = append(done, f.Unfenced)
	}
	if a.FlipPoint {
		done = append(done, f.LSN != "")
	}
	dir, _, _ := strings.Cut(a.ID, "/freeze")
	for i, name := range freezeStepNames(a) {
		if !done[i] {
			break
		}
		rec.finish(dir+"/"+name, now)
		switch name {
		case "drain-" + string(a.From):
			rec.Ledger.OpenWritesWaited += f.OpenWritesWaited
			rec.Ledger.SessionsTerminated += f.SessionsTerminated
		case "await-watermark":
			rec.Ledger.Drain = f.Drain
		case "sync-sequences":
			rec.Ledger.SequencesSet = f.Sequences
		case "flip-point":
			rec.SlotLSN = f.LSN
		}
	}
	switch {
	case res.Err != nil:
		rec.note(a.ID, truncate(res.Err.Error(), 400))
		rec.Message = fmt.Sprintf("%s failed: %v", a, res.Err)
	case !f.Found:
		rec.note(a.ID, "watermark not on the "+string(a.To)+" yet")
	case slices.Contains(done, false):
		rec.note(a.ID, "the freeze stopped before its last step")
		rec.Message = fmt.Sprintf("%s: stopped before its last step", a)
	default:
		rec.finish(a.ID, now)
	}
	return rec
}
