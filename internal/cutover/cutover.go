// Package cutover decides the cutover of SPEC section 4: a pure function from
// the spec, the gates, what the operator recorded (its intent log) and what it
// observes now in Route 53, the databases and DMS, to the one next action.
//
// The reconciler gathers the observations, calls Decide, writes the returned
// record when the action asks for it, carries the action out through its seams
// (the traffic router, the SQL runner, DMS), and reports the outcome with
// Complete. Nothing here does I/O, so every invariant that protects a payment
// is checked exhaustively by the property tests:
//
//   - the writer record points at exactly one database (by construction: it
//     is one record) and only moves to the target after the source is fenced
//     and confirmed fenced, the watermark is seen on the target and the
//     target's sequences are past the source's;
//   - the service tier never has 0 % on both sides;
//   - the source's fence is never lifted while the writer record points at the
//     target;
//   - a rollback before the flip restores 100 % source and lifts the fence;
//   - the reverse task is started at most once;
//   - no step is skipped or repeated: every effect is idempotent, and the one
//     that is not (starting the reverse task) is recorded before it is made.
package cutover

import (
	"time"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// State is where the cutover stands (status.cutover.state).
type State string

const (
	// Idle: replicating, no cutover asked for (or the last one completed its
	// rollback and awaits a new approval: see Record.AwaitingReapproval).
	Idle State = "Idle"
	// Held: approved, but a gate or the spec keeps it from starting.
	Held State = "Held"
	// Stepping: the service tier moves through the steps; writes still go to
	// the source.
	Stepping State = "Stepping"
	// Freezing: the source is (being) fenced and drained; the flip follows.
	Freezing State = "Freezing"
	// Flipped: the writer record points at the target; the reverse path is
	// being set up.
	Flipped State = "Flipped"
	// Completed: the target takes every write; the reverse task runs if enabled.
	Completed State = "Completed"
	// RollingBack: traffic and writes are being returned to the source.
	RollingBack State = "RollingBack"
	// RolledBack: back on the source, a resting state.
	RolledBack State = "RolledBack"
)

// Direction of a freeze: forward moves writes to the target, reverse (a
// rollback after the flip) back to the source.
type Direction string

const (
	Forward Direction = "forward"
	Reverse Direction = "reverse"
)

// Spec is the part of spec.cutover the decision reads, with the defaults
// applied and durations converted.
type Spec struct {
	// Steps are the target weights, ending at 100. Every step but the last is
	// a service-tier step; the last one happens in the flip, with the writer.
	Steps []int32
	// StepInterval is the least time between two weight changes (at least the
	// weighted records' TTL).
	StepInterval time.Duration
	// FreezeTimeout bounds fence-to-flip.
	FreezeTimeout time.Duration
	// FenceGrace bounds the wait for the application's open writes.
	FenceGrace   time.Duration
	ReversePath  bool
	AutoRollback bool
	// Automatic approval: start as soon as the gates pass.
	Automatic bool
	Approved  bool
	Abort     bool
	// ApprovedBy is who approved, where the operator can know it.
	ApprovedBy string
	// OneTaskFreeze runs a freeze's fence, confirmation, drain, watermark,
	// sequence and flip-point steps as one OpFreeze action (the in-VPC SQL
	// runner, whose every call is a task that takes long to start) in place
	// of one action each. The intent log still records every step.
	OneTaskFreeze bool
	// ApprovedAt is when the approval was admitted, where the operator can
	// know it (zero otherwise). Gates can hold an approved cutover for hours:
	// the attempt records when the human said yes, not when it started.
	ApprovedAt time.Time
}

// GateState is a gate's verdict. Unknown (no fresh data) never lets the
// cutover advance and never rolls it back by itself: it waits.
type GateState int

const (
	Unknown GateState = iota
	Pass
	Fail
)

// Gate is one line of the CutoverReady condition.
type Gate struct {
	Name    string
	State   GateState
	Message string
}

// Routes is where the service tier and the writes go.
type Routes struct {
	SourceWeight, TargetWeight int32
	Writer                     naming.Side
}

// SourceRoutes is the state before any cutover and after a rollback.
var SourceRoutes = Routes{SourceWeight: 100, TargetWeight: 0, Writer: naming.Source}

// TargetRoutes is the state after the flip.
var TargetRoutes = Routes{SourceWeight: 0, TargetWeight: 100, Writer: naming.Target}

// Intent is one entry of the intent log: written before its action, finished
// after it.
type Intent struct {
	ID       string
	Started  time.Time
	Finished time.Time
	Note     string
}

// Ledger is what the freezes measured.
type Ledger struct {
	SessionsTerminated, OpenWritesWaited, SequencesSet int
	Drain                                              time.Duration
}

// Record is what the operator persisted about the cutover (status.cutover).
type Record struct {
	State   State
	Attempt int32
	// Step is the index of the last service-tier step applied, -1 before the first.
	Step int32
	// Steps and ReversePath as the attempt started with them.
	Steps       []int32
	ReversePath bool

	ApprovedAt      time.Time
	ApprovedBy      string
	LastStepAt      time.Time
	FreezeStartedAt time.Time
	FlippedAt       time.Time
	// Freeze is fence requested to flip in sync, measured when the flip
	// completes (the record's times are kept to the second only).
	Freeze      time.Duration
	Direction   Direction
	WatermarkID string
	// SlotLSN is where the reverse task starts on the reverse slot: the
	// flip point, read on the target once the watermark arrived.
	SlotLSN string
	// ReverseStartedAt is recorded, and persisted, before the one start of the
	// reverse task.
	ReverseStartedAt time.Time

	Reason, Message    string
	AwaitingReapproval bool
	Ledger             Ledger
	Intents            []Intent
}

// TaskState is a DMS task as observed.
type TaskState struct {
	// Status is DMS's (running, stopped, ready, starting, stopping, failed);
	// "" when the task does not exist.
	Status string
	// EverStarted: DMS reports a start date or statistics for it.
	EverStarted bool
}

// Stopped reports whether the task carries no changes: DMS would accept a
// start or a modification, or the task does not exist.
func (t TaskState) Stopped() bool {
	return t.Status == "" || t.Status == "stopped" || t.Status == "ready" || t.Status == "failed"
}

// Running reports whether the task carries changes.
func (t TaskState) Running() bool { return t.Status == "running" }

// World is what the operator observes now, outside its own record.
type World struct {
	// Routes as Route 53 has them.
	Routes Routes
	// Fenced: the application's role is read-only on that side.
	Fenced map[naming.Side]bool
	// SlotExists: the reverse slot exists on the target.
	SlotExists  bool
	ForwardTask TaskState
	ReverseTask TaskState
}

func (w World) fenced(s naming.Side) bool { return w.Fenced[s] }
