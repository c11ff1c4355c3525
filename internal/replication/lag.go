package replication

import (
	"fmt"
	"time"
)

// LagSample is one reading of the DMS CDC latency metrics. A side is nil when
// CloudWatch had no datapoint for it in the window read.
type LagSample struct {
	Source *float64
	Target *float64
	// Time is the timestamp of the newest datapoint, not of the read: reading the
	// same datapoint twice must not count as two samples.
	Time time.Time
}

// LagState is what the operator remembers between samples.
type LagState struct {
	// Consecutive samples under the threshold so far.
	Consecutive int32
	// LastSample is the time of the last sample counted.
	LastSample time.Time
}

// LagVerdict is the LagWithinThreshold condition after a sample.
type LagVerdict struct {
	State   LagState
	Within  bool
	Known   bool // false: no data yet, the condition is Unknown
	Reason  string
	Message string
}

// EvaluateLag applies one sample to the lag gate: the gate opens only after
// `required` consecutive samples under the threshold, and closes at once when a
// sample exceeds it. A sample under the threshold no newer than the last one
// counted is not counted, so re-reading the same datapoint cannot open the gate.
func EvaluateLag(prev LagState, s LagSample, thresholdSeconds, required int32) LagVerdict {
	worst, ok := worstSide(s)
	if !ok {
		return LagVerdict{State: prev, Reason: "NoLagData", Message: "CloudWatch has no CDCLatencySource/CDCLatencyTarget datapoint yet"}
	}
	state := prev
	switch {
	case worst > float64(thresholdSeconds):
		// Over the threshold counts whatever its time: a datapoint older than
		// the last one counted, or revised since, is still lag, and the gate it
		// closes must see N new consecutive samples before it opens again.
		state.Consecutive = 0
		if s.Time.After(prev.LastSample) {
			state.LastSample = s.Time
		}
	case s.Time.After(prev.LastSample):
		state.LastSample = s.Time
		state.Consecutive++
	}
	switch {
	case worst > float64(thresholdSeconds):
		return LagVerdict{State: state, Known: true, Reason: "LagAboveThreshold",
			Message: fmt.Sprintf("CDC latency %s exceeds the %ds threshold", describe(s), thresholdSeconds)}
	case state.Consecutive >= required:
		return LagVerdict{State: state, Known: true, Within: true, Reason: "LagWithinThreshold",
			Message: fmt.Sprintf("CDC latency %s, under %ds for %d consecutive samples", describe(s), thresholdSeconds, state.Consecutive)}
	default:
		return LagVerdict{State: state, Known: true, Reason: "LagSettling",
			Message: fmt.Sprintf("CDC latency %s is under %ds for %d of %d required consecutive samples", describe(s), thresholdSeconds, state.Consecutive, required)}
	}
}

// worstSide is the larger of the two latencies: a change is only on the target
// after both legs.
func worstSide(s LagSample) (float64, bool) {
	switch {
	case s.Source == nil && s.Target == nil:
		return 0, false
	case s.Source == nil:
		return *s.Target, true
	case s.Target == nil:
		return *s.Source, true
	case *s.Source > *s.Target:
		return *s.Source, true
	default:
		return *s.Target, true
	}
}

func describe(s LagSample) string {
	side := func(v *float64) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.0fs", *v)
	}
	return fmt.Sprintf("source %s / target %s", side(s.Source), side(s.Target))
}
