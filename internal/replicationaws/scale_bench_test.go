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
// one region, on a fake clock, against a fake AWS that counts calls. Each
// migration samples Task and Lag every minute, its phase spread evenly over
// the minute, and TableStatistics every five. DMS publishes each task's
// latency once a minute; at a random moment one datapoint shows a breach, and
// the benchmark measures how long until that migration's lag gate closes.
//
// It reports calls per migration-hour with the shared, batched client and
// with one client per migration (what one call per migration per sample
// costs), and the breach-to-condition time of both.
//
//	go test -run '^$' -bench SteadyReplication -benchtime 1x ./internal/replicationaws/
func BenchmarkSteadyReplication(b *testing.B) {
	for _, n := range []int{1, 10, 100, 500} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var batched, unbatched simResult
			for b.Loop() {
				batched = simulate(b, n, true)
				unbatched = simulate(b, n, false)
			}
			b.ReportMetric(batched.perMigrationHour(), "calls/migration-hour")
			b.ReportMetric(unbatched.perMigrationHour(), "unbatched-calls/migration-hour")
			b.ReportMetric(batched.breachMean(), "s-breach-to-condition")
			b.ReportMetric(batched.breachMax(), "s-breach-to-condition-max")
			b.Logf("\n%-10s %8s %s\n%-10s %8.1f %s\n%-10s %8.1f %s",
				"N="+fmt.Sprint(n), "calls/mh", "breach→condition mean/max, calls by operation",
				"batched", batched.perMigrationHour(), batched.describe(),
				"unbatched", unbatched.perMigrationHour(), unbatched.describe())
		})
	}
}

type simResult struct {
	n      int
	warmup int // calls in the first minute
	calls  map[string]int
	breach []time.Duration // per migration, breach to the gate closing
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
	return fmt.Sprintf("%.0fs/%.0fs, %s; start-up minute %.1f calls/migration",
		r.breachMean(), r.breachMax(), strings.Join(ops, ", "), float64(r.warmup)/float64(r.n))
}

// migration is one simulated reconciler's view of its migration.
type migration struct {
	arn, taskID string
	// phase is when in each minute it samples; publish is when in each
	// minute DMS publishes its latency.
	phase, publish time.Duration
	breach         time.Time
	state          replication.LagState
	within         bool
	flipped        time.Time
}

func simulate(b *testing.B, n int, batched bool) simResult {
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
			breach: t0.Add(16*time.Minute + time.Duration(rng.Int64N(int64(40*time.Minute)))),
		}
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
		if !batched {
			clients[i] = f.client()
			clients[i].Now = clk.Now
		}
	}

	ctx := context.Background()
	// The first minute, in which each task is read for the first time, is the
	// manager starting up, not steady replication: it is counted apart.
	samples := 1 + int(simulated/sampleEvery)
	perValidation := int(validationEvery / sampleEvery)
	warmup := 0
	for k := range samples {
		if k == 1 {
			warmup = f.total()
			f.reset()
		}
		for i, m := range migrations {
			clk.Set(t0.Add(time.Duration(k)*sampleEvery + m.phase))
			c := clients[i]
			if _, err := c.Task(ctx, m.arn); err != nil {
				b.Fatal(err)
			}
			sample, err := c.Lag(ctx, "ri-"+m.taskID, m.taskID)
			if err != nil {
				b.Fatal(err)
			}
			v := replication.EvaluateLag(m.state, sample, lagThreshold, lagRequired)
			m.state = v.State
			if m.within && !v.Within && m.flipped.IsZero() && !clk.Now().Before(m.breach) {
				m.flipped = clk.Now()
			}
			m.within = v.Within
			if (k+i)%perValidation == 0 {
				if _, err := c.TableStatistics(ctx, m.arn); err != nil {
					b.Fatal(err)
				}
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
			b.Fatalf("task %s: the lag gate never closed after the breach at %s", m.taskID, m.breach.Sub(t0))
		}
		res.breach = append(res.breach, m.flipped.Sub(m.breach))
	}
	return res
}

// publishedLag is what CloudWatch holds for a task at now: a datapoint a
// minute at the task's publishing phase, plus the one that first shows the
// breach, newest first.
func publishedLag(m *migration, start, end, now time.Time) ([]time.Time, []float64) {
	var times []time.Time
	first := t0.Add(m.publish)
	for at := first.Add(start.Sub(first).Truncate(sampleEvery)); at.Before(end); at = at.Add(sampleEvery) {
		times = append(times, at)
	}
	times = append(times, m.breach)
	slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) })
	var kept []time.Time
	var values []float64
	for _, at := range times {
		if at.Before(start) || !at.Before(end) || at.After(now) {
			continue
		}
		v := normalLag
		if !at.Before(m.breach) {
			v = breachLag
		}
		kept, values = append(kept, at), append(values, v)
	}
	return kept, values
}
