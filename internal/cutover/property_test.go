package cutover

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// sim is the world the cutover acts on: Route 53, the two databases' fences,
// watermark rows and sequences, the slot and the two DMS tasks. It checks the
// invariants on every effect, so a violation names the action that made it.
type sim struct {
	t   *testing.T
	now time.Time
	rnd *rand.Rand

	routes Routes
	fenced map[naming.Side]bool
	slot   bool
	// targetLSN is the target's WAL position: each row replication applies
	// there moves it on. slotAt is where the slot was made, rowLSN where
	// each row landed on the target; flipBound and flipAt are, at the flip,
	// where the watermark that allowed it landed and where the WAL stood.
	targetLSN, slotAt, flipBound, flipAt int
	rowLSN                               map[string]int
	forward                              TaskState
	reverse                              TaskState
	// stopping tasks stop at the next tick.
	forwardStopping, reverseStopping bool

	// since the fence on a side went on: confirmed, drained, watermarks
	// written there, sequences moved from it.
	confirmed, drained, seqSynced map[naming.Side]bool
	fencedWatermarks              map[naming.Side]map[string]bool
	rows                          map[naming.Side]map[string]bool
	inFlight                      []delivery
	// stuck: the forward task carries nothing (a watermark never arrives).
	stuck bool

	// reverseShownAt: DMS's describe shows a start only some seconds after it
	// was accepted (its status lags).
	reverseShownAt time.Time
	reverseStarts  map[int32]int
	flips          int
	attempt        int32
	log            []string
	// oneTask: the freeze's steps may only come inside an OpFreeze
	// (inFreeze), never as actions of their own.
	oneTask, inFreeze bool
}

type delivery struct {
	to naming.Side
	id string
	at time.Time
}

func newSim(t *testing.T, seed int64) *sim {
	s := &sim{
		t: t, now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), rnd: rand.New(rand.NewSource(seed)),
		routes: SourceRoutes, fenced: map[naming.Side]bool{},
		forward: TaskState{Status: "running", EverStarted: true}, reverse: TaskState{Status: "ready"},
		confirmed: map[naming.Side]bool{}, drained: map[naming.Side]bool{}, seqSynced: map[naming.Side]bool{},
		fencedWatermarks: map[naming.Side]map[string]bool{naming.Source: {}, naming.Target: {}},
		rows:             map[naming.Side]map[string]bool{naming.Source: {}, naming.Target: {}},
		reverseStarts:    map[int32]int{},
		rowLSN:           map[string]int{},
	}
	return s
}

func other(s naming.Side) naming.Side {
	if s == naming.Source {
		return naming.Target
	}
	return naming.Source
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	tail := s.log
	if len(tail) > 30 {
		tail = tail[len(tail)-30:]
	}
	s.t.Fatalf("invariant violated: %s\nlast actions:\n%v", fmt.Sprintf(format, args...), tail)
}

func (s *sim) world() World {
	reverse := s.reverse
	if s.now.Before(s.reverseShownAt) {
		reverse = TaskState{Status: "ready"}
	}
	return World{Routes: s.routes, Fenced: map[naming.Side]bool{naming.Source: s.fenced[naming.Source], naming.Target: s.fenced[naming.Target]},
		SlotExists: s.slot, ForwardTask: s.forward, ReverseTask: reverse}
}

// tick lets time pass: replication delivers rows, stopping tasks stop.
func (s *sim) tick(d time.Duration) {
	s.now = s.now.Add(d)
	s.deliver()
	if s.forwardStopping {
		s.forward.Status, s.forwardStopping = "stopped", false
	}
	if s.reverseStopping {
		s.reverse.Status, s.reverseStopping = "stopped", false
	}
}

func (s *sim) deliver() {
	kept := s.inFlight[:0]
	for _, d := range s.inFlight {
		carrier := s.forward
		if d.to == naming.Source {
			carrier = s.reverse
		}
		if !d.at.After(s.now) && carrier.Running() && !(d.to == naming.Target && s.stuck) {
			s.rows[d.to][d.id] = true
			if d.to == naming.Target {
				s.targetLSN++
				s.rowLSN[d.id] = s.targetLSN
			}
			continue
		}
		kept = append(kept, d)
	}
	s.inFlight = kept
}

// do carries an action out. failBefore/failAfter inject an error without or
// after the effect (a timeout whose call went through).
func (s *sim) do(a Action, failBefore, failAfter bool) Result {
	s.log = append(s.log, fmt.Sprintf("%s %s", s.now.Format("15:04:05.000"), a))
	if failBefore {
		return Result{Err: errors.New("injected failure before the effect")}
	}
	if s.oneTask && !s.inFreeze {
		switch a.Op {
		case OpConfirmFence, OpWriteWatermark, OpAwaitWatermark, OpSyncSequences, OpMarkFlipPoint:
			s.fail("%s as an action of its own although the freeze runs in one task", a)
		}
	}
	res := Result{}
	switch a.Op {
	case OpSetRoutes:
		r := a.Routes
		if r.SourceWeight == 0 && r.TargetWeight == 0 {
			s.fail("service tier at 0%% on both sides: %v", a)
		}
		if r.Writer != s.routes.Writer {
			from := s.routes.Writer
			if !s.fenced[from] || !s.confirmed[from] || !s.drained[from] || !s.seqSynced[from] {
				s.fail("writer moved %s->%s without fence (%t), confirmation (%t), drain (%t) and sequences (%t) on %s",
					from, r.Writer, s.fenced[from], s.confirmed[from], s.drained[from], s.seqSynced[from], from)
			}
			seen, bound := false, 0
			for id := range s.fencedWatermarks[from] {
				if s.rows[r.Writer][id] {
					seen = true
					bound = max(bound, s.rowLSN[id])
				}
			}
			if !seen {
				s.fail("writer moved %s->%s before a watermark written under the fence was on the %s", from, r.Writer, r.Writer)
			}
			if r.Writer == naming.Target {
				s.flips++
				s.flipBound, s.flipAt = bound, s.targetLSN
			}
		}
		s.routes = r
	case OpSetFence:
		if !a.On && a.Side == naming.Source && s.routes.Writer == naming.Target {
			s.fail("source fence lifted while the writer points at the target")
		}
		if a.On && !s.fenced[a.Side] {
			s.confirmed[a.Side], s.drained[a.Side], s.seqSynced[a.Side] = false, false, false
			s.fencedWatermarks[a.Side] = map[string]bool{}
		}
		if !a.On {
			s.confirmed[a.Side], s.drained[a.Side], s.seqSynced[a.Side] = false, false, false
		}
		s.fenced[a.Side] = a.On
	case OpConfirmFence:
		res.Confirmed = s.fenced[a.Side]
		s.confirmed[a.Side] = res.Confirmed
	case OpDrainSessions:
		if s.fenced[a.Side] {
			s.drained[a.Side] = true
		}
		res.SessionsTerminated = 3
	case OpWriteWatermark:
		s.rows[a.Side][a.Watermark] = true
		if s.fenced[a.Side] {
			s.fencedWatermarks[a.Side][a.Watermark] = true
		}
		s.inFlight = append(s.inFlight, delivery{to: other(a.Side), id: a.Watermark, at: s.now.Add(time.Duration(s.rnd.Intn(3000)) * time.Millisecond)})
	case OpAwaitWatermark:
		// The wait lets time pass, up to its timeout.
		step := 100 * time.Millisecond
		for waited := time.Duration(0); waited <= a.Timeout; waited += step {
			s.deliver()
			if s.rows[a.Side][a.Watermark] {
				res.Found = true
				break
			}
			s.now = s.now.Add(step)
		}
	case OpSyncSequences:
		if s.fenced[a.From] {
			s.seqSynced[a.From] = true
		}
		res.Sequences = 4
	case OpCreateSlot:
		if !s.slot {
			s.slot, s.slotAt = true, s.targetLSN
		}
	case OpMarkFlipPoint:
		if !s.slot {
			s.slot, s.slotAt = true, s.targetLSN
		}
		res.LSN = fmt.Sprintf("0/%X", s.targetLSN)
	case OpDropSlot:
		s.slot = false
	case OpStopTask:
		if a.Task == ForwardTask {
			if s.forward.Running() {
				s.forward.Status, s.forwardStopping = "stopping", true
			}
		} else if s.reverse.Running() {
			s.reverse.Status, s.reverseStopping = "stopping", true
		}
	case OpStartReverse:
		s.reverseStarts[s.attempt]++
		if s.reverseStarts[s.attempt] > 1 || s.reverse.EverStarted {
			s.fail("reverse task started twice")
		}
		var at int
		if _, err := fmt.Sscanf(a.LSN, "0/%X", &at); err != nil {
			s.fail("reverse task started without a slot position (%q)", a.LSN)
		}
		// From the flip point exactly: after every row the forward task
		// applied up to the watermark that allowed the flip (else the reverse
		// task would write them back into the source), and not after the
		// flip (else it would miss what the target took since), on a slot
		// that was there before it.
		if !s.slot || at < s.slotAt || at < s.flipBound || at > s.flipAt {
			s.fail("reverse task started at %d: slot %t made at %d, the flip's watermark landed at %d, the flip at %d", at, s.slot, s.slotAt, s.flipBound, s.flipAt)
		}
		s.reverse = TaskState{Status: "running", EverStarted: true}
		s.reverseShownAt = s.now.Add(time.Duration(s.rnd.Intn(20)) * time.Second)
	case OpFreeze:
		// One task: a failure may stop it after any of its steps.
		stop := 1 << 10
		if failAfter {
			stop = s.rnd.Intn(9)
		}
		var err error
		s.inFreeze = true
		res.Freeze, err = s.freeze(a, stop)
		s.inFreeze = false
		if err != nil {
			return Result{Err: err, Freeze: res.Freeze}
		}
	}
	if failAfter {
		return Result{Err: errors.New("injected failure after the effect"), Freeze: res.Freeze}
	}
	return res
}

// freeze carries out the steps of an OpFreeze through the single-step
// effects above (their invariant checks included), stopping with an error
// after stop steps.
func (s *sim) freeze(a Action, stop int) (FreezeResult, error) {
	var f FreezeResult
	steps := []func() bool{
		func() bool {
			s.do(Action{Op: OpSetFence, Side: a.From, On: true}, false, false)
			f.Fenced = true
			return true
		},
		func() bool {
			f.Confirmed = s.do(Action{Op: OpConfirmFence, Side: a.From}, false, false).Confirmed
			return f.Confirmed
		},
		func() bool {
			r := s.do(Action{Op: OpDrainSessions, Side: a.From}, false, false)
			f.Drained, f.SessionsTerminated = true, r.SessionsTerminated
			return true
		},
		func() bool {
			s.do(Action{Op: OpWriteWatermark, Side: a.From, Watermark: a.Watermark}, false, false)
			f.WatermarkWritten = true
			return true
		},
		func() bool {
			began := s.now
			f.Found = s.do(Action{Op: OpAwaitWatermark, Side: a.To, Watermark: a.Watermark, Timeout: a.Timeout}, false, false).Found
			f.Drain = s.now.Sub(began)
			return f.Found
		},
		func() bool {
			f.Sequences = s.do(Action{Op: OpSyncSequences, From: a.From, To: a.To}, false, false).Sequences
			f.SequencesSynced = true
			return true
		},
	}
	if a.UnfenceTo {
		steps = append(steps, func() bool {
			s.do(Action{Op: OpSetFence, Side: a.To, On: false}, false, false)
			f.Unfenced = true
			return true
		})
	}
	if a.FlipPoint {
		steps = append(steps, func() bool {
			f.LSN = s.do(Action{Op: OpMarkFlipPoint, Side: naming.Target}, false, false).LSN
			return true
		})
	}
	for i, step := range steps {
		if i == stop {
			return f, fmt.Errorf("injected failure after %d of the freeze's steps", i)
		}
		if !step() {
			break
		}
	}
	return f, nil
}

// run drives the cutover with random gates, aborts, approvals, failures and
// crashes, then lets it settle, checking every invariant along the way.
func runScenario(t *testing.T, seed int64, reversePath, oneTask bool) (final Record, s *sim) {
	s = newSim(t, seed)
	s.oneTask = oneTask
	r := s.rnd
	spec := Spec{
		Steps: []int32{10, 25, 50, 100}, StepInterval: 10 * time.Second, FreezeTimeout: 30 * time.Second,
		FenceGrace: time.Second, ReversePath: reversePath, AutoRollback: r.Intn(4) != 0, Approved: true,
		OneTaskFreeze: oneTask,
	}
	if r.Intn(3) == 0 {
		spec.Steps = []int32{100}
	}
	var persisted, rec Record
	chaos := 150 + r.Intn(150)
	for tickN := 0; tickN < chaos+400; tickN++ {
		calm := tickN >= chaos
		gates := []Gate{{Name: "lag", State: Pass}, {Name: "validation", State: Pass}}
		if !calm {
			switch x := r.Intn(40); {
			case x == 0:
				gates[0].State = Fail
			case x == 1:
				gates[1].State = Unknown
			}
			if r.Intn(60) == 0 {
				spec.Abort = !spec.Abort
			}
			if r.Intn(40) == 0 {
				spec.Approved = !spec.Approved
			}
			s.stuck = r.Intn(8) == 0
		} else {
			spec.Abort, s.stuck = false, false
			if rec.State == Completed || rec.State == RolledBack {
				break
			}
			// Settle: a rollback of the chaos phase is re-approved once.
			spec.Approved = !(rec.AwaitingReapproval && spec.Approved)
		}
		crashy := !calm && r.Intn(6) == 0
		for inner := 0; inner < 40; inner++ {
			d := Decide(spec, rec, gates, s.world(), s.now)
			s.attempt = d.Record.Attempt
			rec = d.Record
			if crashy && r.Intn(5) == 0 { // crash before anything is written
				rec = persisted
				break
			}
			if d.Action.Persist {
				persisted = rec
			}
			if d.Action.Op == OpWait {
				break
			}
			if d.Action.Op == OpRecord {
				if !d.Action.Fast {
					break
				}
				continue
			}
			if crashy && r.Intn(5) == 0 { // crash before acting
				rec = persisted
				break
			}
			fb, fa := !calm && r.Intn(15) == 0, !calm && r.Intn(15) == 0
			res := s.do(d.Action, fb, fa)
			if crashy && r.Intn(4) == 0 { // crash after acting, before recording it
				rec = persisted
				break
			}
			rec = Complete(rec, d.Action, res, s.now)
			if !d.Action.Fast {
				break
			}
		}
		persisted = rec // the status patch at the end of the reconcile
		s.checkResting(rec)
		s.tick(time.Duration(r.Intn(4000)) * time.Millisecond)
	}
	return rec, s
}

// checkResting checks the invariants of the states that end a cutover.
func (s *sim) checkResting(rec Record) {
	s.t.Helper()
	switch rec.State {
	case RolledBack:
		if s.routes != SourceRoutes || s.fenced[naming.Source] || (rec.Direction == Forward && s.slot) {
			s.fail("RolledBack with routes %+v, source fenced %t, slot %t", s.routes, s.fenced[naming.Source], s.slot)
		}
	case Completed:
		if s.routes != TargetRoutes || !s.fenced[naming.Source] || !s.forward.Stopped() {
			s.fail("Completed with routes %+v, source fenced %t, forward %s", s.routes, s.fenced[naming.Source], s.forward.Status)
		}
		if rec.ReversePath && !s.reverse.EverStarted {
			s.fail("Completed without the reverse task started")
		}
		// No step skipped: every step of the freeze finished, in order.
		var last time.Time
		names := []string{"fence-source", "confirm-source", "drain-source", "write-watermark", "await-watermark", "sync-sequences", "flip"}
		if rec.ReversePath {
			names = slices.Insert(names, len(names)-1, "flip-point")
		}
		for _, name := range names {
			in := rec.intent(rec.opID("forward/" + name))
			if in == nil || in.Finished.IsZero() {
				s.fail("Completed without %s finished in the intent log %+v", name, rec.Intents)
			}
			if in.Finished.Before(last) {
				s.fail("%s finished before the step that precedes it", name)
			}
			last = in.Finished
		}
	}
	if s.routes.SourceWeight == 0 && s.routes.TargetWeight == 0 {
		s.fail("0%% on both sides")
	}
}

// settledScenario runs one scenario and fails the test unless it ended in a
// resting state (Completed or RolledBack); ok is false once the test failed.
func settledScenario(t *testing.T, seed int64, reverse, oneTask bool) (Record, *sim, bool) {
	t.Helper()
	rec, s := runScenario(t, seed, reverse, oneTask)
	if t.Failed() {
		return rec, s, false
	}
	switch rec.State {
	case Completed, RolledBack:
	default:
		t.Fatalf("seed %d reverse=%t: did not settle: %s (%s: %s)\n%v", seed, reverse, rec.State, rec.Reason, rec.Message, s.log[max(0, len(s.log)-20):])
	}
	return rec, s, true
}

func TestPropertyInvariantsUnderCrashesAndChaos(t *testing.T) {
	seeds := 400
	if testing.Short() {
		seeds = 60
	}
	outcomes := map[State]int{}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		for _, reverse := range []bool{true, false} {
			rec, _, ok := settledScenario(t, seed, reverse, false)
			if !ok {
				return
			}
			outcomes[rec.State]++
		}
	}
	t.Logf("outcomes over %d scenarios: %v", 2*seeds, outcomes)
	if outcomes[Completed] == 0 || outcomes[RolledBack] == 0 {
		t.Errorf("the scenarios should reach both ends, got %v", outcomes)
	}
}

// The same invariants when each freeze is one action (the in-VPC runner's
// one task), which a failure or a crash can stop after any of its steps.
func TestPropertyInvariantsWithTheFreezeInOneTask(t *testing.T) {
	seeds := 400
	if testing.Short() {
		seeds = 60
	}
	outcomes := map[State]int{}
	freezes, reverseFreezes := 0, 0
	for seed := int64(1); seed <= int64(seeds); seed++ {
		for _, reverse := range []bool{true, false} {
			rec, s, ok := settledScenario(t, seed, reverse, true)
			if !ok {
				return
			}
			outcomes[rec.State]++
			for _, line := range s.log {
				if strings.Contains(line, string(OpFreeze)+" source->target") {
					freezes++
				}
				if strings.Contains(line, string(OpFreeze)+" target->source") {
					reverseFreezes++
				}
			}
			if rec.State == Completed && rec.intent(rec.opID("forward/freeze")) == nil {
				t.Fatalf("seed %d: completed without the one-task freeze in the intent log: %+v", seed, rec.Intents)
			}
		}
	}
	t.Logf("outcomes over %d scenarios: %v; %d forward and %d reverse one-task freezes", 2*seeds, outcomes, freezes, reverseFreezes)
	if outcomes[Completed] == 0 || outcomes[RolledBack] == 0 || freezes == 0 || reverseFreezes == 0 {
		t.Errorf("the scenarios should reach both ends through both kinds of freeze, got %v, %d forward and %d reverse freezes", outcomes, freezes, reverseFreezes)
	}
}
