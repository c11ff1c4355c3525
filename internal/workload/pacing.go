package workload

import (
	"sync"
	"time"
)

// pacer hands out payment slots on a fixed schedule shared by all workers:
// slot n is due at start + n/rate, whichever worker takes it. A fixed
// schedule (rather than each worker sleeping 1/rate) is what makes the
// achieved rate the asked one however many workers there are and however
// long each commit takes.
//
// When every worker is stuck (a freeze), the schedule runs ahead of them; on
// recovery the slots already due are offered at once, as the requests queued
// in front of a real service would be. The backlog is bounded by maxBacklog:
// older slots are dropped and counted, like requests a load balancer timed
// out, so a long freeze does not turn into a long burst afterwards.
type pacer struct {
	mu         sync.Mutex
	start      time.Time
	interval   time.Duration
	maxBacklog time.Duration
	limit      int64 // slots to hand out; 0 = unbounded
	next       int64 // next slot index, counting dropped ones
	issued     int64
	dropped    int64
}

func newPacer(start time.Time, rate float64, maxBacklog time.Duration, limit int64) *pacer {
	interval := time.Duration(float64(time.Second) / rate)
	if interval <= 0 {
		interval = 1
	}
	return &pacer{start: start, interval: interval, maxBacklog: maxBacklog, limit: limit}
}

// take returns the sequence number of the next payment (0, 1, 2, ... with no
// gaps, dropped slots are not numbered) and when it is due; ok is false once
// limit payments were handed out.
func (p *pacer) take(now time.Time) (seq int64, due time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && p.issued >= p.limit {
		return 0, time.Time{}, false
	}
	due = p.due(p.next)
	if p.maxBacklog > 0 {
		if late := now.Sub(due) - p.maxBacklog; late > 0 {
			skip := int64(late / p.interval)
			if skip > 0 {
				p.next += skip
				p.dropped += skip
				due = p.due(p.next)
			}
		}
	}
	p.next++
	seq = p.issued
	p.issued++
	return seq, due, true
}

func (p *pacer) due(slot int64) time.Time { return p.start.Add(time.Duration(slot) * p.interval) }

// counts returns the slots handed out and dropped so far.
func (p *pacer) counts() (issued, dropped int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issued, p.dropped
}

// backoff is the wait before retry number attempt (1 for the first retry):
// exponential from base, capped at maxWait, with "equal jitter" (half fixed,
// half random; jitter in [0,1)) so the workers that a termination hit at the
// same instant do not all reconnect at the same instant again.
func backoff(attempt int, base, maxWait time.Duration, jitter float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	if d > maxWait {
		d = maxWait
	}
	half := d / 2
	return half + time.Duration(float64(d-half)*jitter)
}
