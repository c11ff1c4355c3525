package cutover

import (
	"strings"
	"testing"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func baseSpec() Spec {
	return Spec{Steps: []int32{10, 25, 50, 100}, StepInterval: 2 * time.Minute, FreezeTimeout: time.Minute,
		FenceGrace: 5 * time.Second, ReversePath: true, AutoRollback: true, Approved: true}
}

var green = []Gate{{Name: "lag", State: Pass}, {Name: "validation", State: Pass}}

func atSource() World {
	return World{Routes: SourceRoutes, ForwardTask: TaskState{Status: "running", EverStarted: true}, ReverseTask: TaskState{Status: "ready"}}
}

func TestDecideTable(t *testing.T) {
	stepping := Record{State: Stepping, Attempt: 1, Step: 0, Steps: []int32{10, 25, 50, 100}, ReversePath: true, LastStepAt: t0}
	completedNoReverse := Record{State: Completed, Attempt: 1, Steps: []int32{100}, ReversePath: false}
	flippedWorld := World{Routes: TargetRoutes, Fenced: map[naming.Side]bool{naming.Source: true}, ForwardTask: TaskState{Status: "stopped", EverStarted: true}}
	cases := []struct {
		name       string
		spec       func(*Spec)
		rec        Record
		gates      []Gate
		world      World
		now        time.Time
		wantOp     Op
		wantState  State
		wantReason string
		wantIn     string // in the record's message
		wantRoutes *Routes
	}{
		{name: "not approved waits", spec: func(s *Spec) { s.Approved = false }, world: atSource(), gates: green,
			wantOp: OpWait, wantState: Idle, wantReason: "AwaitingApproval"},
		{name: "approved while a gate is red is held, naming it", world: atSource(),
			gates:  []Gate{{Name: "lag", State: Pass}, {Name: "target health", State: Fail, Message: "5 of 16 checkers"}},
			wantOp: OpWait, wantState: Held, wantReason: "GatesNotPassing", wantIn: "target health"},
		{name: "approved with green gates starts attempt 1", world: atSource(), gates: green,
			wantOp: OpRecord, wantState: Stepping, wantReason: "Approved"},
		{name: "abort with nothing to abort changes nothing", spec: func(s *Spec) { s.Abort = true }, world: atSource(), gates: green,
			wantOp: OpWait, wantState: Idle, wantReason: "NothingToAbort"},
		{name: "approval does not start from traffic it did not set", world: World{Routes: Routes{SourceWeight: 50, TargetWeight: 50, Writer: naming.Source}}, gates: green,
			wantOp: OpWait, wantState: Held, wantReason: "TrafficNotAtSource"},
		{name: "next step waits for the interval", rec: stepping, world: World{Routes: Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}}, gates: green, now: t0.Add(time.Minute),
			wantOp: OpWait, wantState: Stepping, wantReason: "Stepping"},
		{name: "next step after the interval", rec: stepping, world: World{Routes: Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}}, gates: green, now: t0.Add(2 * time.Minute),
			wantOp: OpSetRoutes, wantState: Stepping, wantRoutes: &Routes{SourceWeight: 75, TargetWeight: 25, Writer: naming.Source}},
		{name: "gate failure during the steps rolls back", rec: stepping, world: World{Routes: Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}},
			gates: []Gate{{Name: "lag", State: Fail}}, now: t0.Add(time.Second), wantOp: OpRecord, wantState: RollingBack, wantReason: "GateFailed"},
		{name: "gate failure with autoRollback off holds and says so", spec: func(s *Spec) { s.AutoRollback = false }, rec: stepping,
			world: World{Routes: Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}}, gates: []Gate{{Name: "lag", State: Fail}}, now: t0.Add(time.Second),
			wantOp: OpWait, wantState: Stepping, wantReason: "GateFailed", wantIn: "autoRollback is false"},
		{name: "unknown gate waits, never rolls back", rec: stepping, world: World{Routes: Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}},
			gates: []Gate{{Name: "lag", State: Unknown}}, now: t0.Add(3 * time.Minute), wantOp: OpWait, wantState: Stepping, wantReason: "GatesUnknown"},
		{name: "steps changed during the cutover are held", spec: func(s *Spec) { s.Steps = []int32{50, 100} }, rec: stepping,
			world: World{Routes: Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}}, gates: green, now: t0.Add(3 * time.Minute),
			wantOp: OpWait, wantState: Stepping, wantReason: "SpecChangedDuringCutover"},
		{name: "freeze timeout rolls back", rec: Record{State: Freezing, Direction: Forward, Attempt: 1, Steps: []int32{100}, ReversePath: true, FreezeStartedAt: t0},
			world: World{Routes: SourceRoutes, Fenced: map[naming.Side]bool{naming.Source: true}}, now: t0.Add(61 * time.Second),
			wantOp: OpRecord, wantState: RollingBack, wantReason: "FreezeTimeout", wantIn: "stuck at forward/confirm-source"},
		{name: "abort after the flip without a reverse path is refused", spec: func(s *Spec) { s.Abort = true }, rec: completedNoReverse, world: flippedWorld,
			wantOp: OpWait, wantState: Completed, wantReason: "AbortRefused", wantIn: "reversePath was false"},
		{name: "abort after the flip with a stopped reverse task is refused", spec: func(s *Spec) { s.Abort = true },
			rec: Record{State: Completed, Attempt: 1, Steps: []int32{100}, ReversePath: true}, world: flippedWorld,
			wantOp: OpWait, wantState: Completed, wantReason: "AbortRefused"},
		{name: "rolled back needs the approval withdrawn first", rec: Record{State: RolledBack, Attempt: 1, AwaitingReapproval: true, Reason: "GateFailed"},
			world: atSource(), gates: green, wantOp: OpWait, wantState: RolledBack, wantIn: "approved to false"},
		{name: "withdrawn approval re-arms", spec: func(s *Spec) { s.Approved = false }, rec: Record{State: RolledBack, Attempt: 1, AwaitingReapproval: true},
			world: atSource(), gates: green, wantOp: OpRecord, wantState: RolledBack},
		{name: "rolled back after the flip never starts again", spec: func(s *Spec) { s.Approved = true }, rec: Record{State: RolledBack, Attempt: 1, FlippedAt: t0},
			world: atSource(), gates: green, wantOp: OpWait, wantState: RolledBack, wantReason: "TargetNeedsReload"},
		{name: "rolled back and re-armed starts attempt 2", rec: Record{State: RolledBack, Attempt: 1},
			world: atSource(), gates: green, wantOp: OpRecord, wantState: Stepping},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec()
			if tc.spec != nil {
				tc.spec(&spec)
			}
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			d := Decide(spec, tc.rec, tc.gates, tc.world, now)
			if d.Action.Op != tc.wantOp || d.Record.State != tc.wantState {
				t.Fatalf("got %s in %s (%s: %s), want %s in %s", d.Action.Op, d.Record.State, d.Record.Reason, d.Record.Message, tc.wantOp, tc.wantState)
			}
			if tc.wantReason != "" && d.Record.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q (%s)", d.Record.Reason, tc.wantReason, d.Record.Message)
			}
			if tc.wantIn != "" && !strings.Contains(d.Record.Message, tc.wantIn) {
				t.Errorf("message %q does not mention %q", d.Record.Message, tc.wantIn)
			}
			if tc.wantRoutes != nil && d.Action.Routes != *tc.wantRoutes {
				t.Errorf("routes %+v, want %+v", d.Action.Routes, *tc.wantRoutes)
			}
			if d.Action.Op == OpRecord && !d.Action.Persist {
				t.Errorf("a state change must be persisted before acting on it")
			}
		})
	}
}

// A gate failure observed during the steps puts the weights back at once:
// the rollback's first action follows in the same reconcile.
func TestRollbackWeightsAreTheFirstActionAfterAGateFailure(t *testing.T) {
	spec := baseSpec()
	rec := Record{State: Stepping, Attempt: 1, Step: 1, Steps: spec.Steps, ReversePath: true, LastStepAt: t0}
	w := World{Routes: Routes{SourceWeight: 75, TargetWeight: 25, Writer: naming.Source}}
	d := Decide(spec, rec, []Gate{{Name: "lag", State: Fail}}, w, t0)
	if !d.Action.Fast {
		t.Fatal("the rollback must continue without a requeue")
	}
	d = Decide(spec, d.Record, []Gate{{Name: "lag", State: Fail}}, w, t0)
	if d.Action.Op != OpSetRoutes || d.Action.Routes != SourceRoutes {
		t.Fatalf("first rollback action %s, want SetRoutes to the source", d.Action)
	}
}

// Walk a whole cutover with a cooperative world: every action in order.
func TestHappyPathOrder(t *testing.T) {
	spec := baseSpec()
	spec.Steps = []int32{50, 100}
	s := newSim(t, 1)
	var rec Record
	var ops []string
	for i := 0; i < 200 && rec.State != Completed; i++ {
		d := Decide(spec, rec, green, s.world(), s.now)
		rec = d.Record
		switch d.Action.Op {
		case OpWait:
			s.tick(max(d.Requeue, 100*time.Millisecond))
			continue
		case OpRecord:
			continue
		}
		ops = append(ops, d.Action.String())
		rec = Complete(rec, d.Action, s.do(d.Action, false, false), s.now)
	}
	want := []string{
		"SetRoutes source=50% target=50% writer=source", "CreateSlot target",
		"SetFence source on=true", "ConfirmFence source", "DrainSessions source",
		"WriteWatermark source " + rec.WatermarkID,
	}
	for i, w := range want {
		if i >= len(ops) || ops[i] != w {
			t.Fatalf("action %d = %v, want %q; all: %v", i, ops, w, ops)
		}
	}
	tail := strings.Join(ops, "\n")
	for _, w := range []string{"SyncSequences source->target", "MarkFlipPoint target", "SetRoutes source=0% target=100% writer=target", "StopTask forward", "StartReverse"} {
		if !strings.Contains(tail, w) {
			t.Errorf("missing %q in %v", w, ops)
		}
	}
	if rec.State != Completed || rec.FlippedAt.IsZero() || rec.Ledger.Drain <= 0 {
		t.Errorf("end: %s flipped %v drain %v", rec.State, rec.FlippedAt, rec.Ledger.Drain)
	}
}

// The attempt records when the approval was admitted, not when the gates
// let the cutover start; without a stamp, or with one from a skewed clock in
// the future, the start is the best time known.
func TestTheAttemptRecordsWhenItWasApproved(t *testing.T) {
	now := t0.Add(3 * time.Hour)
	cases := []struct {
		name       string
		approvedAt time.Time
		want       time.Time
	}{
		{"stamped hours before the gates passed", t0, t0},
		{"no stamp", time.Time{}, now},
		{"a stamp from the future", now.Add(time.Minute), now},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := baseSpec()
			spec.ApprovedBy, spec.ApprovedAt = "alice", c.approvedAt
			d := Decide(spec, Record{}, green, atSource(), now)
			if d.Record.State != Stepping || !d.Record.ApprovedAt.Equal(c.want) {
				t.Fatalf("state %s approvedAt %v, want Stepping at %v", d.Record.State, d.Record.ApprovedAt, c.want)
			}
		})
	}
}
