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

// LagMetricPeriod is the period of DMS's CDCLatencySource/CDCLatencyTarget
// metrics: DMS publishes them once a minute.
const LagMetricPeriod = 60 * time.Second

// DefaultLagMaxAge is how old the newest datapoint may be and still count as
// the current lag: two metric periods. Older, DMS has missed two
// publications (or stopped publishing), and the gate cannot say the lag is
// within bounds.
//
// A datapoint's age counts from the end of the period it describes: CloudWatch
// stamps a datapoint with the start of its period (a Maximum over the minute
// from 12:03:00 is stamped 12:03:00) and serves it only once DMS has
// published it, some seconds into the next minute or later. Counted from the
// stamp, the newest datapoint of a task that publishes on time would be up to
// two periods old just before each publication, and the gate would turn
// Unknown on healthy replication.
const DefaultLagMaxAge = 2 * LagMetricPeriod

// LagGate is the lag gate's configuration.
type LagGate struct {
	// ThresholdSeconds is spec.replication.lagThresholdSeconds.
	ThresholdSeconds int32
	// Required is spec.cutover.gates.consecutiveLagSamples.
	Required int32
	// MaxAge is how old a sample may be (DefaultLagMaxAge when 0), counted
	// from the end of its period.
	MaxAge time.Duration
	// Period is the metric period (LagMetricPeriod when 0).
	Period time.Duration
}

func (g LagGate) maxAge() time.Duration {
	if g.MaxAge > 0 {
		return g.MaxAge
	}
	return DefaultLagMaxAge
}

func (g LagGate) period() time.Duration {
	if g.Period > 0 {
		return g.Period
	}
	return LagMetricPeriod
}

// EvaluateLagAt applies one sample to the lag gate at now. A sample whose
// newest datapoint is older than the gate's MaxAge (from the end of its
// period), or no datapoint at all, makes the gate Unknown and restarts the
// count: "consecutive" samples are consecutive in time, and a gap in the data
// is not lag within bounds. A datapoint stamped after now (clocks differ) is
// current.
func EvaluateLagAt(prev LagState, s LagSample, gate LagGate, now time.Time) LagVerdict {
	if _, ok := worstSide(s); !ok {
		return LagVerdict{State: LagState{LastSample: prev.LastSample}, Reason: "NoLagData",
			Message: "CloudWatch has no CDCLatencySource/CDCLatencyTarget datapoint in the window read"}
	}
	if age := now.Sub(s.Time.Add(gate.period())); age > gate.maxAge() {
		state := LagState{LastSample: prev.LastSample}
		if s.Time.After(prev.LastSample) {
			state.LastSample = s.Time
		}
		return LagVerdict{State: state, Reason: "LagSampleStale",
			Message: fmt.Sprintf("the newest CDC latency datapoint (%s, for the %s from %s) ended %s ago, more than %s: DMS has not published since; the lag is not known",
				describe(s), gate.period(), s.Time.UTC().Format(time.RFC3339), age.Truncate(time.Second), gate.maxAge())}
	}
	return EvaluateLag(prev, s, gate.ThresholdSeconds, gate.Required)
}

// LagTaskNotRunning is the gate while the task is not running (stopped,
// paused, failed, starting, ...): DMS publishes no latency, the gate is
// Unknown, and the count starts again from zero once the task runs. The last
// sample's time is kept, so a datapoint from before the stop cannot count
// after the resume.
func LagTaskNotRunning(prev LagState, taskStatus string) LagVerdict {
	return LagVerdict{State: LagState{LastSample: prev.LastSample}, Reason: "TaskNotRunning",
		Message: fmt.Sprintf("the DMS task is %s: no CDC latency to sample; the count of samples under the threshold restarts when it runs", orUnknown(taskStatus))}
}

// EvaluateLag applies one sample to the lag gate: the gate opens only after
// `required` consecutive samples under the threshold, and closes at once when a
// sample exceeds it. A sample under the threshold no newer than the last one
// counted is not counted, so re-reading the same datapoint cannot open the gate.
// It judges the sample's values only, whatever its age: the reconciler uses
// EvaluateLagAt, which does not let a stale sample through.
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
