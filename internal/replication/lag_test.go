package replication

import (
	"strings"
	"testing"
	"time"
)

func sec(v float64) *float64 { return &v }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// minute is the timestamp of the datapoint read at minute m.
func minute(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// gate is the LagWithinThreshold condition status.
type gate string

const (
	open    gate = "True"
	closed  gate = "False"
	unknown gate = "Unknown"
)

type lagStep struct {
	source, target *float64
	at             int // minute of the newest datapoint
	want           gate
	reason         string
	consecutive    int32
	lastSample     int // minute recorded as the last sample counted; -1: none yet
}

func verdictGate(v LagVerdict) gate {
	switch {
	case !v.Known:
		return unknown
	case v.Within:
		return open
	default:
		return closed
	}
}

func TestEvaluateLag_SampleStreams(t *testing.T) {
	const (
		within   = "LagWithinThreshold"
		above    = "LagAboveThreshold"
		settling = "LagSettling"
		noData   = "NoLagData"
	)
	for _, c := range []struct {
		name      string
		threshold int32
		required  int32
		steps     []lagStep
	}{
		{
			name: "opens only after exactly N=3 consecutive samples under the threshold", threshold: 30, required: 3,
			steps: []lagStep{
				{sec(5), sec(8), 1, closed, settling, 1, 1},
				{sec(4), sec(9), 2, closed, settling, 2, 2},
				{sec(3), sec(7), 3, open, within, 3, 3},
				{sec(2), sec(6), 4, open, within, 4, 4},
			},
		},
		{
			name: "closes on the first sample above and counts N again from zero", threshold: 30, required: 2,
			steps: []lagStep{
				{sec(5), sec(5), 1, closed, settling, 1, 1},
				{sec(5), sec(5), 2, open, within, 2, 2},
				{sec(5), sec(31), 3, closed, above, 0, 3},
				{sec(5), sec(5), 4, closed, settling, 1, 4},
				{sec(5), sec(5), 5, open, within, 2, 5},
			},
		},
		{
			name: "a first sample above the threshold closes the gate", threshold: 30, required: 2,
			steps: []lagStep{
				{sec(120), sec(240), 1, closed, above, 0, 1},
				{sec(1), sec(1), 2, closed, settling, 1, 2},
			},
		},
		{
			name: "lag equal to the threshold counts as within (lag <= threshold), a fraction over does not", threshold: 30, required: 2,
			steps: []lagStep{
				{sec(30), sec(30), 1, closed, settling, 1, 1},
				{sec(30), sec(30), 2, open, within, 2, 2},
				{sec(30), sec(30.4), 3, closed, above, 0, 3},
			},
		},
		{
			name: "the same datapoint read twice (same time) counts once", threshold: 30, required: 2,
			steps: []lagStep{
				{sec(5), sec(5), 1, closed, settling, 1, 1},
				{sec(5), sec(5), 1, closed, settling, 1, 1},
				{sec(5), sec(5), 1, closed, settling, 1, 1},
				{sec(5), sec(5), 2, open, within, 2, 2},
			},
		},
		{
			name: "re-reading an open gate's datapoint keeps it open", threshold: 30, required: 1,
			steps: []lagStep{
				{sec(5), sec(5), 1, open, within, 1, 1},
				{sec(5), sec(5), 1, open, within, 1, 1},
			},
		},
		{
			name: "re-reading the datapoint that closed the gate keeps it closed", threshold: 30, required: 1,
			steps: []lagStep{
				{sec(5), sec(5), 1, open, within, 1, 1},
				{sec(50), sec(5), 2, closed, above, 0, 2},
				{sec(50), sec(5), 2, closed, above, 0, 2},
			},
		},
		{
			name: "an older datapoint under the threshold is not counted and does not move the sample time back", threshold: 30, required: 3,
			steps: []lagStep{
				{sec(5), sec(5), 5, closed, settling, 1, 5},
				{sec(5), sec(5), 3, closed, settling, 1, 5},
				{sec(5), sec(5), 4, closed, settling, 1, 5},
				{sec(5), sec(5), 6, closed, settling, 2, 6},
			},
		},
		{
			name: "an older or revised datapoint over the threshold closes the gate and counts N again", threshold: 30, required: 2,
			steps: []lagStep{
				{sec(5), sec(5), 1, closed, settling, 1, 1},
				{sec(5), sec(5), 2, open, within, 2, 2},
				{sec(90), sec(5), 1, closed, above, 0, 2},
				{sec(5), sec(5), 3, closed, settling, 1, 3},
				{sec(5), sec(5), 4, open, within, 2, 4},
			},
		},
		{
			name: "only the source side reported: it alone decides", threshold: 30, required: 2,
			steps: []lagStep{
				{sec(5), nil, 1, closed, settling, 1, 1},
				{sec(6), nil, 2, open, within, 2, 2},
				{sec(60), nil, 3, closed, above, 0, 3},
			},
		},
		{
			name: "only the target side reported: it alone decides", threshold: 30, required: 2,
			steps: []lagStep{
				{nil, sec(5), 1, closed, settling, 1, 1},
				{nil, sec(6), 2, open, within, 2, 2},
				{nil, sec(60), 3, closed, above, 0, 3},
			},
		},
		{
			name: "no datapoint on either side: Unknown NoLagData from the start", threshold: 30, required: 2,
			steps: []lagStep{
				{nil, nil, 1, unknown, noData, 0, -1},
				{nil, nil, 2, unknown, noData, 0, -1},
				{sec(5), sec(5), 3, closed, settling, 1, 3},
			},
		},
		{
			name: "no datapoint mid-stream: Unknown NoLagData with the count and sample time unchanged", threshold: 30, required: 3,
			steps: []lagStep{
				{sec(5), sec(5), 1, closed, settling, 1, 1},
				{sec(5), sec(5), 2, closed, settling, 2, 2},
				{nil, nil, 3, unknown, noData, 2, 2},
				{sec(5), sec(5), 4, open, within, 3, 4},
				{nil, nil, 5, unknown, noData, 3, 4},
				{sec(5), sec(5), 6, open, within, 4, 6},
			},
		},
		{
			name: "the worse side decides: target over the threshold closes it", threshold: 30, required: 1,
			steps: []lagStep{
				{sec(1), sec(31), 1, closed, above, 0, 1},
				{sec(1), sec(29), 2, open, within, 1, 2},
			},
		},
		{
			name: "the worse side decides: source over the threshold closes it", threshold: 30, required: 1,
			steps: []lagStep{
				{sec(31), sec(1), 1, closed, above, 0, 1},
				{sec(29), sec(1), 2, open, within, 1, 2},
			},
		},
		{
			name: "N=1: one sample under opens, one above closes, the next under reopens", threshold: 10, required: 1,
			steps: []lagStep{
				{sec(0), sec(0), 1, open, within, 1, 1},
				{sec(11), sec(0), 2, closed, above, 0, 2},
				{sec(0), sec(10), 3, open, within, 1, 3},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var state LagState
			for i, s := range c.steps {
				v := EvaluateLag(state, LagSample{Source: s.source, Target: s.target, Time: minute(s.at)}, c.threshold, c.required)
				var wantLast time.Time
				if s.lastSample >= 0 {
					wantLast = minute(s.lastSample)
				}
				if g := verdictGate(v); g != s.want || v.Reason != s.reason || v.State.Consecutive != s.consecutive || !v.State.LastSample.Equal(wantLast) {
					t.Fatalf("sample %d (minute %d): condition %s %s, %d consecutive, last sample %v; want %s %s, %d consecutive, last sample %v (message %q)",
						i+1, s.at, g, v.Reason, v.State.Consecutive, v.State.LastSample, s.want, s.reason, s.consecutive, wantLast, v.Message)
				}
				if !camelCase.MatchString(v.Reason) {
					t.Errorf("reason %q is not CamelCase", v.Reason)
				}
				state = v.State
			}
		})
	}
}

func TestEvaluateLag_NoDataReturnsThePreviousStateUntouched(t *testing.T) {
	prev := LagState{Consecutive: 4, LastSample: minute(7)}
	v := EvaluateLag(prev, LagSample{Time: minute(9)}, 30, 3)
	if v.State != prev || v.Known || v.Within || v.Reason != "NoLagData" {
		t.Errorf("EvaluateLag without data = %+v, want Unknown NoLagData with state %+v", v, prev)
	}
}

func TestEvaluateLag_ResumesFromTheRecordedStateAcrossRestarts(t *testing.T) {
	// The reconciler keeps only the count and the sample time in status.
	v := EvaluateLag(LagState{Consecutive: 2, LastSample: minute(2)}, LagSample{Source: sec(1), Target: sec(1), Time: minute(3)}, 30, 3)
	if !v.Within || v.State.Consecutive != 3 {
		t.Errorf("EvaluateLag = %+v, want the third consecutive sample to open the gate", v)
	}
}

func TestEvaluateLag_MessagesGiveBothSidesAndTheThreshold(t *testing.T) {
	above := EvaluateLag(LagState{}, LagSample{Source: sec(45), Target: nil, Time: minute(1)}, 30, 3)
	for _, want := range []string{"source 45s", "target n/a", "30s"} {
		if !strings.Contains(above.Message, want) {
			t.Errorf("message %q lacks %q", above.Message, want)
		}
	}
	settling := EvaluateLag(LagState{}, LagSample{Source: sec(4), Target: sec(6), Time: minute(1)}, 30, 3)
	if !strings.Contains(settling.Message, "1 of 3") {
		t.Errorf("message %q does not say how many of the required samples were seen", settling.Message)
	}
}

// TestEvaluateLagAt_StaleOrMissingDataCannotPass walks the gate with the
// clock: each step reads at `now` (seconds after t0) a datapoint stamped at
// `at` (seconds after t0; -1: no datapoint).
func TestEvaluateLagAt_StaleOrMissingDataCannotPass(t *testing.T) {
	type step struct {
		now, at     int
		target      float64
		want        gate
		reason      string
		consecutive int32
	}
	for _, c := range []struct {
		name   string
		maxAge time.Duration // 0: the default, two metric periods
		steps  []step
	}{
		{name: "a datapoint whose minute ended two periods ago still counts; a second more and the open gate turns Unknown", steps: []step{
			{60, 0, 5, closed, "LagSettling", 1},
			{120, 60, 5, closed, "LagSettling", 2},
			{180, 120, 5, open, "LagWithinThreshold", 3},
			{300, 120, 5, open, "LagWithinThreshold", 3},
			{301, 120, 5, unknown, "LagSampleStale", 0},
			{400, 120, 5, unknown, "LagSampleStale", 0},
		}},
		{name: "after a stale spell the gate counts N new samples again", steps: []step{
			{60, 0, 5, closed, "LagSettling", 1},
			{120, 60, 5, closed, "LagSettling", 2},
			{180, 120, 5, open, "LagWithinThreshold", 3},
			{400, 120, 5, unknown, "LagSampleStale", 0},
			{420, 360, 5, closed, "LagSettling", 1},
			{480, 420, 5, closed, "LagSettling", 2},
			{540, 480, 5, open, "LagWithinThreshold", 3},
		}},
		{name: "the datapoint that went stale is not counted when read again", steps: []step{
			{60, 0, 5, closed, "LagSettling", 1},
			{300, 0, 5, unknown, "LagSampleStale", 0},
			{300, 0, 5, unknown, "LagSampleStale", 0},
		}},
		{name: "a stale breach is Unknown, not a fresh verdict either way", steps: []step{
			{60, 0, 5, closed, "LagSettling", 1},
			{120, 60, 95, closed, "LagAboveThreshold", 0},
			{300, 60, 95, unknown, "LagSampleStale", 0},
		}},
		{name: "no datapoint in the window: Unknown, and the count restarts", steps: []step{
			{60, 0, 5, closed, "LagSettling", 1},
			{120, 60, 5, closed, "LagSettling", 2},
			{180, 120, 5, open, "LagWithinThreshold", 3},
			{240, -1, 0, unknown, "NoLagData", 0},
			{300, 240, 5, closed, "LagSettling", 1},
		}},
		{name: "a datapoint stamped ahead of the clock is current", steps: []step{
			{60, 90, 5, closed, "LagSettling", 1},
		}},
		{name: "a custom bound", maxAge: 30 * time.Second, steps: []step{
			{60, 0, 5, closed, "LagSettling", 1},
			{91, 0, 5, unknown, "LagSampleStale", 0},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			gateCfg := LagGate{ThresholdSeconds: 30, Required: 3, MaxAge: c.maxAge}
			var state LagState
			for i, s := range c.steps {
				sample := LagSample{}
				if s.at >= 0 {
					v := s.target
					sample = LagSample{Source: sec(1), Target: &v, Time: t0.Add(time.Duration(s.at) * time.Second)}
				}
				v := EvaluateLagAt(state, sample, gateCfg, t0.Add(time.Duration(s.now)*time.Second))
				if g := verdictGate(v); g != s.want || v.Reason != s.reason || v.State.Consecutive != s.consecutive {
					t.Fatalf("step %d (now %ds, datapoint %ds): %s %s, %d consecutive; want %s %s, %d (message %q)",
						i+1, s.now, s.at, g, v.Reason, v.State.Consecutive, s.want, s.reason, s.consecutive, v.Message)
				}
				if v.Reason == "LagSampleStale" && !strings.Contains(v.Message, "more than 2m0s") && c.maxAge == 0 {
					t.Errorf("stale message %q does not give the bound", v.Message)
				}
				state = v.State
			}
		})
	}
}

func TestLagTaskNotRunning_RestartsTheCountAndKeepsTheSampleTime(t *testing.T) {
	prev := LagState{Consecutive: 7, LastSample: minute(9)}
	for _, status := range []string{StatusStopped, StatusFailed, StatusStarting, StatusStopping, ""} {
		v := LagTaskNotRunning(prev, status)
		if v.Known || v.Within || v.Reason != "TaskNotRunning" || v.State.Consecutive != 0 || !v.State.LastSample.Equal(minute(9)) {
			t.Errorf("status %q: %+v, want Unknown TaskNotRunning, count 0, last sample kept", status, v)
		}
	}
	// After the resume, the datapoint from before the stop does not count;
	// the first new one is sample 1 of N.
	v := EvaluateLagAt(LagTaskNotRunning(prev, StatusStopped).State, LagSample{Target: sec(1), Time: minute(9)}, LagGate{ThresholdSeconds: 30, Required: 3}, minute(10))
	if v.Reason == "LagSampleStale" {
		t.Fatalf("a datapoint a minute old is current: %+v", v)
	}
	if v.State.Consecutive != 0 || v.Within {
		t.Errorf("the pre-stop datapoint counted after the resume: %+v", v)
	}
	v = EvaluateLagAt(v.State, LagSample{Target: sec(1), Time: minute(11)}, LagGate{ThresholdSeconds: 30, Required: 3}, minute(11))
	if v.State.Consecutive != 1 || v.Within {
		t.Errorf("first sample after the resume: %+v, want 1 of 3", v)
	}
}
