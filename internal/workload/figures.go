package workload

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the values at
// or below it. An empty input gives 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// p*n/100 rather than p/100*n: 99*100/100 is exactly 99, 0.99*100 is not.
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Latency summarises commit latencies: from a payment's first attempt to its
// acknowledged commit, retries included (what the caller of the service
// waits).
type Latency struct {
	P50, P99, Max time.Duration
}

func summarise(latencies []time.Duration) Latency {
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	l := Latency{P50: percentile(sorted, 50), P99: percentile(sorted, 99)}
	if len(sorted) > 0 {
		l.Max = sorted[len(sorted)-1]
	}
	return l
}

// Window is an interval of time; zero when nothing was seen.
type Window struct {
	From, To time.Time
}

// Duration is the window's length.
func (w Window) Duration() time.Duration { return w.To.Sub(w.From) }

// availability tracks the longest write-unavailable window: an interval with
// no acknowledged commit while at least one payment was waiting for one.
// That is the cutover's freeze as the application sees it. A gap opens when
// a payment begins with none waiting since the last acknowledgement (or at
// an acknowledgement while others still wait) and closes at the next
// acknowledgement; a payment that fails does not close it (the service could
// still not write). Not safe for concurrent use; Run serialises the calls.
type availability struct {
	waiting  int
	gapStart time.Time // zero: no gap open
	longest  Window
}

func (a *availability) begin(now time.Time) {
	a.waiting++
	if a.gapStart.IsZero() {
		a.gapStart = now
	}
}

func (a *availability) acknowledged(now time.Time) {
	a.waiting--
	a.closeGap(now)
	if a.waiting > 0 {
		a.gapStart = now
	}
}

func (a *availability) failed() { a.waiting-- }

// end closes a gap still open when the run ends (payments that never got
// through, or failed, at the very end).
func (a *availability) end(now time.Time) Window {
	a.closeGap(now)
	return a.longest
}

func (a *availability) closeGap(now time.Time) {
	if a.gapStart.IsZero() {
		return
	}
	if w := (Window{From: a.gapStart, To: now}); w.Duration() > a.longest.Duration() {
		a.longest = w
	}
	a.gapStart = time.Time{}
}

// Report is what a run did.
type Report struct {
	RunID string
	// RateAsked is the configured rate; RateAchieved the payments offered per
	// second of offering time (OfferingTime), RateAcknowledged the
	// acknowledged ones per second of it.
	RateAsked, RateAchieved, RateAcknowledged float64
	Workers                                   int
	OfferingTime, Elapsed                     time.Duration // Elapsed includes finishing the payments in flight
	Attempted                                 int64         // payments offered (each with its own key)
	Acknowledged                              int64
	// AcknowledgedAlreadyPresent counts retries that found their key committed
	// (the first attempt's commit succeeded, its acknowledgement was lost).
	AcknowledgedAlreadyPresent int64
	Failed                     int64 // attempted, not acknowledged within the retry budget, or not retriable
	Interrupted                int64 // attempted, not acknowledged, cut short by the context
	SlotsDropped               int64 // slots the pacer dropped while every worker was blocked
	Refunds, RefundsFailed     int64
	// RefundsSkipped: the payment to refund was not on the database written
	// to (after a flip to a target it had not reached).
	RefundsSkipped     int64
	Retries            int64 // attempts beyond the first, payments and refunds
	Errors             map[ErrorKind]int64
	Latency            Latency
	LongestUnavailable Window
	Ledger             *Ledger
}

// Print writes the report's figures, one per line.
func (r Report) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: %d workers, %s offering payments, %s in all\n", r.RunID, r.Workers, r.OfferingTime.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "rate: asked %.1f/s, achieved %.1f/s, acknowledged %.1f/s\n", r.RateAsked, r.RateAchieved, r.RateAcknowledged)
	fmt.Fprintf(&b, "payments: attempted %d, acknowledged %d (%d found already committed on retry), failed %d, interrupted %d\n",
		r.Attempted, r.Acknowledged, r.AcknowledgedAlreadyPresent, r.Failed, r.Interrupted)
	if r.SlotsDropped > 0 {
		fmt.Fprintf(&b, "slots dropped while every worker was blocked: %d\n", r.SlotsDropped)
	}
	fmt.Fprintf(&b, "refunds: %d, failed %d, skipped %d (payment not on the writer)\n", r.Refunds, r.RefundsFailed, r.RefundsSkipped)
	fmt.Fprintf(&b, "commit latency: p50 %s, p99 %s, max %s\n", round(r.Latency.P50), round(r.Latency.P99), round(r.Latency.Max))
	fmt.Fprintf(&b, "retries: %d; errors: %s\n", r.Retries, formatErrors(r.Errors))
	if d := r.LongestUnavailable.Duration(); d > 0 {
		fmt.Fprintf(&b, "longest write-unavailable window: %s (%s to %s)\n", round(d),
			r.LongestUnavailable.From.UTC().Format("15:04:05.000"), r.LongestUnavailable.To.UTC().Format("15:04:05.000"))
	} else {
		b.WriteString("longest write-unavailable window: 0s\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatErrors(errs map[ErrorKind]int64) string {
	var parts []string
	for _, k := range ErrorKinds() {
		if n := errs[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// round keeps latencies readable: microseconds below a millisecond,
// hundredths of milliseconds above.
func round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}
