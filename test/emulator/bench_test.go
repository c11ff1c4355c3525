package emulator

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// BenchmarkRealReplication measures the local replication the e2e suite and
// the demo run on: the emulator's start-up with the stack's two database
// servers, the full load of 100k payments, and the CDC lag of payments
// written at 200/s and 1000/s (from the source's commit to the row being
// visible on the target). It prints figures; nothing is asserted on them.
//
//	go test ./test/emulator/ -run '^$' -bench RealReplication -benchtime 1x
func BenchmarkRealReplication(b *testing.B) {
	for range b.N {
		began := time.Now()
		s := deployReplicationStack(b)
		b.ReportMetric(s.e.StartupTime().Seconds(), "emulator-start-s")
		b.ReportMetric(time.Since(began).Seconds(), "emulator+stack-with-2-servers-s")
		ctx := context.Background()
		source, target := s.pool(b, "source"), s.pool(b, "target")

		seedStarted := time.Now()
		if _, err := workload.Seed(ctx, source, workload.SeedOptions{Rows: 100_000}); err != nil {
			b.Fatal(err)
		}
		seeded := time.Since(seedStarted)
		s.createTargetSchema(b)

		loadStarted := time.Now()
		s.startTask(b, dmstypes.StartReplicationTaskTypeValueStartReplication)
		fullLoad := time.Since(loadStarted)
		b.ReportMetric(fullLoad.Seconds(), "full-load-100k-s")
		b.Logf("seeded 100k payments in %s; the full load took %s (start-replication to every table loaded)", seeded.Round(time.Millisecond), fullLoad.Round(time.Millisecond))

		for _, rate := range []float64{200, 1000} {
			p50, p99, n := cdcLag(b, s, target, rate, 10*time.Second)
			b.ReportMetric(float64(p50.Milliseconds()), fmt.Sprintf("cdc-lag-p50-ms@%.0f/s", rate))
			b.ReportMetric(float64(p99.Milliseconds()), fmt.Sprintf("cdc-lag-p99-ms@%.0f/s", rate))
			b.Logf("CDC lag at %.0f payments/s over %d payments: p50 %s, p99 %s", rate, n, p50, p99)
		}
	}
}

// cdcLag writes payments to the source at rate for d while polling the
// target every 2 ms; a payment's lag is when it was first seen on the target
// minus its created_at (set by the source at insert, a millisecond or so
// before the commit).
func cdcLag(b *testing.B, s *replicationStack, target *pgxpool.Pool, rate float64, d time.Duration) (p50, p99 time.Duration, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last int64 // the highest id seen; rows before the run are not counted
	if err := target.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM public.payments`).Scan(&last); err != nil {
		b.Fatal(err)
	}
	var lags []time.Duration
	seen := map[int64]bool{}
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		// Ids are taken at insert and rows become visible at commit, so a
		// lower id can arrive after a higher one: look back a window of ids
		// and count each row once.
		const window = 500 // far more than the workers in flight
		start := last
		for ctx.Err() == nil {
			rows, err := target.Query(ctx, `SELECT id, clock_timestamp() - created_at FROM public.payments WHERE id > $1`, last-window)
			if err != nil {
				return
			}
			for rows.Next() {
				var id int64
				var lag time.Duration
				if rows.Scan(&id, &lag) == nil && id > start && !seen[id] {
					seen[id], lags = true, append(lags, lag)
					last = max(last, id)
				}
			}
			rows.Close()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	sec := s.secret(b, "source")
	report, err := workload.Run(ctx, workload.Config{
		Conn:        workload.Conn{Host: sec.Host, Port: sec.Port, User: sec.Username, Password: sec.Password, Database: sec.DBName, SSLMode: "require"},
		Rate:        rate,
		Duration:    d,
		RefundEvery: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second) // the last payments reach the target
	cancel()
	<-polled
	if len(lags) == 0 {
		b.Fatalf("no payment reached the target (%d acknowledged)", report.Acknowledged)
	}
	slices.Sort(lags)
	return lags[len(lags)/2], lags[len(lags)*99/100], len(lags)
}

// pool opens a pool on one side's database, through its secret.
func (s *replicationStack) pool(tb testing.TB, side string) *pgxpool.Pool {
	tb.Helper()
	sec := s.secret(tb, side)
	pool, err := workload.OpenPool(context.Background(), workload.Conn{Host: sec.Host, Port: sec.Port, User: sec.Username,
		Password: sec.Password, Database: sec.DBName, SSLMode: "require"}, 4)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// createTargetSchema does what the operator's preflight does: the target's
// tables from the source's schema, through the SQL runner.
func (s *replicationStack) createTargetSchema(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	r := &sqlrunner.Direct{Secrets: s.sm}
	src := sqlrunner.Database{Side: "source", SecretARN: s.out["SourceSecretArn"]}
	dst := sqlrunner.Database{Side: "target", SecretARN: s.out["TargetSecretArn"]}
	sc, err := r.Inspect(ctx, src, sqlrunner.InspectRequest{Schema: "public", Patterns: []string{"payments", "transactions", "refunds", "payment_%"}})
	if err != nil {
		tb.Fatal(err)
	}
	tc, err := r.Inspect(ctx, dst, sqlrunner.InspectRequest{Schema: "public", Tables: sc.TableNames()})
	if err != nil {
		tb.Fatal(err)
	}
	plan := pgcatalog.PlanTarget(sc, tc)
	if len(plan.Problems) > 0 {
		tb.Fatalf("target schema: %v", plan.Problems)
	}
	if err := r.ApplyDDL(ctx, dst, plan.Statements); err != nil {
		tb.Fatal(err)
	}
}
