package replicationaws_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"

	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
)

// The steady-replication intervals of the reconciler (controllers.DefaultTiming)
// and the lag gate's defaults (spec.replication and spec.cutover).
const (
	sampleEvery     = time.Minute
	validationEvery = 5 * time.Minute
	simulated       = time.Hour
	lagThreshold    = 60
	lagRequired     = 3
	normalLag       = 5.0
	breachLag       = 120.0
)

// BenchmarkSteadyReplication simulates an hour of N migrations replicating in
// one region, on a fake clock, against a fake AWS that counts calls, in three
// ways:
//
//   - polled (what the operator does): one shared client whose region poller
//     reads every task's latency each PollInterval and the tasks each
//     TaskPollInterval, and wakes the migrations whose sample changed; each
//     migration is also requeued every minute (controllers.DefaultTiming),
//     served from the poller's cache;
//   - batched: the same shared client without the poller, each migration
//     sampling Task and Lag every minute, its phase spread evenly over the
//     minute (the on-demand batched reads, as before the poller);
//   - unbatched: one client per migration, sampling likewise.
//
// Table statistics follow the reconciler's rule in all three: every five
// minutes, every thirty once validation has settled
// (replication.ValidationReadInterval).
//
// DMS publishes each task's latency once a minute at the task's own moment in
// the minute, as a datapoint stamped with the start of the minute it
// describes. At a random minute a datapoint first shows a breach; the
// benchmark measures from that datapoint's publication (when CloudWatch
// first serves it) until the migration's lag gate closes. It reports the calls
// per migration-hour and the breach-to-condition mean and max of each way.
//
//	go test -run '^$' -bench SteadyReplication -benchtime 1x ./internal/replicationaws/
func BenchmarkSteadyReplication(b *testing.B) {
	for _, n := range []int{1, 10, 100, 500} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var polled, batched, unbatched simResult
			for b.Loop() {
				polled = simulate(b, n, modePolled)
				batched = simulate(b, n, modeBatched)
				unbatched = simulate(b, n, modeUnbatched)
			}
			b.ReportMetric(polled.perMigrationHour(), "calls/migration-hour")
			b.ReportMetric(polled.breachMean(), "s-breach-to-condition")
			b.ReportMetric(polled.breachMax(), "s-breach-to-condition-max")
			b.ReportMetric(batched.perMigrationHour(), "batched-calls/migration-hour")
			b.ReportMetric(unbatched.perMigrationHour(), "unbatched-calls/migration-hour")
			b.Logf("\n%-10s %8s %s\n%-10s %8.1f %s\n%-10s %8.1f %s\n%-10s %8.1f %s",
				"N="+fmt.Sprint(n), "calls/mh", "publication→condition mean/max, calls by operation",
				"polled", polled.perMigrationHour(), polled.describe(),
				"batched", batched.perMigrationHour(), batched.describe(),
				"unbatched", unbatched.perMigrationHour(), unbatched.describe())
		})
	}
}

type simMode int

const (
	modePolled simMode = iota
	modeBatched
	modeUnbatched
)

type simResult struct {
	n      int
	warmup int // calls in the first minute
	calls  map[string]int
	breach []time.Duration // per migration, publication of the breach to the gate closing
}

func (r simResult) total() int {
	t := 0
	for _, c := range r.calls {
		t += c
	}
	return t
}

func (r simResult) perMigrationHour() float64 {
	return float64(r.total()) / (float64(r.n) * simulated.Hours())
}

func (r simResult) breachMean() float64 {
	var sum time.Duration
	for _, d := range r.breach {
		sum += d
	}
	return sum.Seconds() / float64(len(r.breach))
}

func (r simResult) breachMax() float64 { return slices.Max(r.breach).Seconds() }

func (r simResult) describe() string {
	ops := make([]string, 0, len(r.calls))
	for op, c := range r.calls {
		ops = append(ops, fmt.Sprintf("%s %.2f", op, float64(c)/(float64(r.n)*simulated.Hours())))
	}
	slices.Sort(ops)
	return fmt.Sprintf("%.1fs/%.1fs, %s; start-up minute %.1f calls/migration",
		r.breachMean(), r.breachMax(), strings.Join(ops, ", "), float64(r.warmup)/float64(r.n))
}

// migration is one simulated reconciler's view of its migration.
type migration struct {
	arn, taskID string
	// phase is when in each minute it is requeued; publish is when in each
	// minute DMS publishes its latency.
	phase, publish time.Duration
	// breachMinute is the first minute whose datapoint shows the breach;
	// breach is that datapoint's publication.
	breachMinute int
	breach       time.Time
	state        replication.LagState
	within       bool
	flipped      time.Time
	// validatedAt and validation are the last table statistics read and the
	// DataValidated reason it gave.
	validatedAt time.Time
	validation  string
}

// event is a moment of the simulation: a poller tick (m nil) or the requeue
// of a migration.
type event struct {
	at time.Time
	m  *migration
}

func simulate(b *testing.B, n int, mode simMode) simResult {
	rng := rand.New(rand.NewPCG(uint64(n), 2026))
	clk := &clock{now: t0}
	f := newFake(b)
	migrations := make([]*migration, n)
	byTask := make(map[string]*migration, n)
	f.tableStats = map[string][]dmstypes.TableStatistics{}
	for i := range migrations {
		m := &migration{
			arn:     arnOf(i),
			taskID:  fmt.Sprintf("TASK%04d", i),
			phase:   time.Duration(i) * sampleEvery / time.Duration(n),
			publish: time.Duration(rng.Int64N(int64(sampleEvery))),
			// Late enough for the gate to have opened, early enough to be seen.
			breachMinute: 16 + rng.IntN(40),
		}
		m.breach = t0.Add(time.Duration(m.breachMinute)*sampleEvery + m.publish)
		migrations[i], byTask[m.taskID] = m, m
		f.tasks[m.arn] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(m.arn), Status: aws.String("running")}
		for _, table := range []string{"payments", "transactions", "refunds", "payment_methods"} {
			f.tableStats[m.arn] = append(f.tableStats[m.arn], dmstypes.TableStatistics{
				SchemaName: aws.String("public"), TableName: aws.String(table), ValidationState: aws.String("Validated")})
		}
	}
	f.lag = func(_, taskID, _ string, start, end time.Time) ([]time.Time, []float64) {
		return publishedLag(byTask[taskID], start, end, clk.Now())
	}

	shared := f.client()
	shared.Now = clk.Now
	clients := make([]*replicationaws.Client, n)
	for i := range clients {
		clients[i] = shared
		if mode == modeUnbatched {
			clients[i] = f.client()
			clients[i].Now = clk.Now
		}
	}

	// The requeues of every migration, and the poller's ticks on the
	// multiples of its interval.
	var events []event
	samples := 1 + int(simulated/sampleEvery)
	for k := range samples {
		for _, m := range migrations {
			events = append(events, event{at: t0.Add(time.Duration(k)*sampleEvery + m.phase), m: m})
		}
	}
	if mode == modePolled {
		for at := t0; at.Before(t0.Add(simulated + sampleEvery)); at = at.Add(replicationaws.DefaultPollInterval) {
			events = append(events, event{at: at})
		}
	}
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })

	ctx := context.Background()
	var woken []*migration
	reconcile := func(i int, m *migration) {
		c := clients[i]
		if _, err := c.Task(ctx, m.arn); err != nil {
			b.Fatal(err)
		}
		sample, err := c.Lag(ctx, "ri-"+m.taskID, m.taskID)
		if err != nil {
			b.Fatal(err)
		}
		now := clk.Now()
		v := replication.EvaluateLagAt(m.state, sample, replication.LagGate{ThresholdSeconds: lagThreshold, Required: lagRequired}, now)
		m.state = v.State
		if m.within && !v.Within && m.flipped.IsZero() && !now.Before(m.breach) {
			m.flipped = now
		}
		m.within = v.Within
		if m.validatedAt.IsZero() || now.Sub(m.validatedAt) >= replication.ValidationReadInterval(m.validation, validationEvery) {
			stats, err := c.TableStatistics(ctx, m.arn)
			if err != nil {
				b.Fatal(err)
			}
			m.validatedAt, m.validation = now, replication.AggregateValidation(stats, true).Reason
		}
		if mode == modePolled {
			c.WatchTask(m.arn, "ri-"+m.taskID, m.taskID, func() { woken = append(woken, m) })
		}
	}
	index := make(map[*migration]int, n)
	for i, m := range migrations {
		index[m] = i
	}
	// The first minute, in which each task is read for the first time, is the
	// manager starting up, not steady replication: it is counted apart.
	warmup, counting := 0, false
	for _, e := range events {
		if e.at.After(t0.Add(simulated + sampleEvery)) {
			break
		}
		if !counting && !e.at.Before(t0.Add(sampleEvery)) {
			warmup, counting = f.total(), true
			f.reset()
		}
		clk.Set(e.at)
		if e.m != nil {
			reconcile(index[e.m], e.m)
			continue
		}
		woken = woken[:0]
		if err := shared.Poll(ctx); err != nil {
			b.Fatal(err)
		}
		// The reconciles woken run at once (the workers are idle between
		// samples), on the poller's cache; each is woken once per change.
		seen := map[*migration]bool{}
		for _, m := range slices.Clone(woken) {
			if !seen[m] {
				seen[m] = true
				reconcile(index[m], m)
			}
		}
	}

	res := simResult{n: n, warmup: warmup, calls: map[string]int{}}
	f.mu.Lock()
	for op, c := range f.calls {
		res.calls[op] = c
	}
	f.mu.Unlock()
	for _, m := range migrations {
		if m.flipped.IsZero() {
			b.Fatalf("task %s (mode %d): the lag gate never closed after the breach published at %s (state %+v, within %v)", m.taskID, mode, m.breach.Sub(t0), m.state, m.within)
		}
		res.breach = append(res.breach, m.flipped.Sub(m.breach))
	}
	return res
}

// publishedLag is what CloudWatch serves for a task at now: one datapoint a
// minute, stamped with the start of its minute and served from the task's
// publishing moment in it, newest first; from the breach minute on they show
// the breach.
func publishedLag(m *migration, start, end, now time.Time) ([]time.Time, []float64) {
	var kept []time.Time
	var values []float64
	for k := int(simulated/sampleEvery) + 2; k >= 0; k-- {
		at := t0.Add(time.Duration(k) * sampleEvery)
		if at.Before(start) || !at.Before(end) || at.Add(m.publish).After(now) {
			continue
		}
		v := normalLag
		if k >= m.breachMinute {
			v = breachLag
		}
		kept, values = append(kept, at), append(values, v)
	}
	return kept, values
}
