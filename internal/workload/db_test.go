package workload_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tapstack/payment-migration-operator/internal/workload"
	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

// appRole is the payment service's own role, the one the cutover fences.
const (
	appRole     = "payments_app"
	appPassword = "app-password"
)

// startSeeded starts a server with the workload's schema, seeded, and the
// application role able to write it.
func startSeeded(t *testing.T, rows int64) (*pgtest.Server, *pgxpool.Pool) {
	t.Helper()
	srv := pgtest.Start(t, pgtest.Options{})
	pool := srv.Pool(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := workload.Seed(ctx, pool, workload.SeedOptions{Rows: rows}); err != nil {
		t.Fatal(err)
	}
	srv.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s';
		GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO %[1]s;
		GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %[1]s`, appRole, appPassword))
	return srv, pool
}

// appConn is how the workload reaches srv as the application role.
func appConn(srv *pgtest.Server) workload.Conn {
	return workload.Conn{Host: srv.Host, Port: srv.Port, User: appRole, Password: appPassword, Database: srv.Database, SSLMode: "prefer"}
}

func check(t *testing.T, pool *pgxpool.Pool, ledger *workload.Ledger) workload.LedgerReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	rep, err := workload.Check(ctx, pool, ledger)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.Print(&b)
	t.Logf("check in %s:\n%s", time.Since(start).Round(time.Millisecond), b.String())
	return rep
}

func run(t *testing.T, ctx context.Context, cfg workload.Config) workload.Report {
	t.Helper()
	rep, err := workload.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.Print(&b)
	t.Logf("run:\n%s", b.String())
	return rep
}

// mustBeClean fails t unless the database holds every acknowledged payment
// exactly once and the report's counts agree with the ledger.
func mustBeClean(t *testing.T, rep workload.Report, lr workload.LedgerReport) {
	t.Helper()
	if !lr.OK() {
		t.Fatalf("ledger check failed: %q", lr.Problems())
	}
	if lr.Acknowledged != rep.Acknowledged || lr.Attempted != rep.Attempted || lr.AcknowledgedPresent != rep.Acknowledged {
		t.Fatalf("ledger: %d attempted, %d acknowledged, %d present; run: %d attempted, %d acknowledged",
			lr.Attempted, lr.Acknowledged, lr.AcknowledgedPresent, rep.Attempted, rep.Acknowledged)
	}
	if rep.Acknowledged == 0 {
		t.Fatal("nothing acknowledged")
	}
}

// terminateWriters ends the workload's sessions, as the cutover's fence does.
func terminateWriters(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'paymentload' AND pid <> pg_backend_pid()`).Scan(&n)
	return n, err
}

// TestRunRates is the workload at 200/s and 1000/s for a few seconds: the
// figures are printed (not asserted: this machine is shared), the ledger is
// asserted clean.
func TestRunRates(t *testing.T) {
	srv, pool := startSeeded(t, 0)
	for _, rate := range []float64{200, 1000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep := run(t, ctx, workload.Config{Conn: appConn(srv), Rate: rate, Duration: 3 * time.Second})
			t.Logf("rate %g/s: achieved %.1f/s, commit p50 %s p99 %s max %s", rate, rep.RateAchieved, rep.Latency.P50, rep.Latency.P99, rep.Latency.Max)
			lr := check(t, pool, rep.Ledger)
			mustBeClean(t, rep, lr)
			if rep.Failed != 0 || rep.Interrupted != 0 {
				t.Errorf("%d failed, %d interrupted on a healthy server", rep.Failed, rep.Interrupted)
			}
			if rep.Refunds == 0 {
				t.Errorf("no refunds in %d payments", rep.Attempted)
			}
			// The in-memory comparison agrees with the database's.
			if got := workload.Compare(rep.Ledger, rowsOf(t, pool, rep.RunID)); fmt.Sprint(got) != fmt.Sprint(lr) {
				t.Errorf("Compare and Check disagree:\n%+v\n%+v", got, lr)
			}
		})
	}
}

// rowsOf reads a run's payment rows, for the in-memory comparison.
func rowsOf(t *testing.T, pool *pgxpool.Pool, runIDs ...string) map[string]workload.Rows {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := pool.Query(ctx, `
		SELECT p.idempotency_key, count(*),
		       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.payment_id = p.id))
		FROM payments p WHERE split_part(p.idempotency_key, '-', 1) = ANY ($1) GROUP BY 1`, runIDs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]workload.Rows{}
	var key string
	var r workload.Rows
	if _, err := pgx.ForEachRow(rows, []any{&key, &r.Count, &r.WithoutTransaction}, func() error {
		prev := out[key]
		out[key] = workload.Rows{Count: prev.Count + r.Count, WithoutTransaction: prev.WithoutTransaction + r.WithoutTransaction}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTerminatedSessions kills the workload's sessions repeatedly mid-run:
// retries with the same key neither lose nor duplicate a payment.
func TestTerminatedSessions(t *testing.T) {
	srv, pool := startSeeded(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var killed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(time.Second)
		for range 6 {
			n, err := terminateWriters(ctx, pool)
			if err != nil {
				t.Error(err)
				return
			}
			killed.Add(int64(n))
			time.Sleep(300 * time.Millisecond)
		}
	})
	rep := run(t, ctx, workload.Config{Conn: appConn(srv), Rate: 500, Duration: 4 * time.Second})
	wg.Wait()
	t.Logf("terminated %d sessions", killed.Load())
	mustBeClean(t, rep, check(t, pool, rep.Ledger))
	if killed.Load() == 0 || rep.Errors[workload.KindTerminated]+rep.Errors[workload.KindConnection] == 0 || rep.Retries == 0 {
		t.Errorf("terminating sessions caused no retried errors: %v, %d retries", rep.Errors, rep.Retries)
	}
	if rep.Failed != 0 {
		t.Errorf("%d payments failed; terminations should be retried through", rep.Failed)
	}
}

// TestResolverFlip points the host name at a second server mid-run and ends
// the sessions on the first, as the cutover's flip does: every acknowledged
// key is on exactly one of the two servers.
func TestResolverFlip(t *testing.T) {
	source, sourcePool := startSeeded(t, 0)
	target, targetPool := startSeeded(t, 0)
	var writer atomic.Value
	writer.Store(fmt.Sprintf("127.0.0.1:%d", source.Port))
	var lookups atomic.Int64
	conn := appConn(source)
	conn.Host = "db.payments.test" // not a real name: only the resolver knows it
	conn.Resolver = workload.ResolverFunc(func(_ context.Context, host string) ([]string, error) {
		if host != conn.Host {
			return nil, fmt.Errorf("unexpected host %q", host)
		}
		lookups.Add(1)
		return []string{writer.Load().(string)}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(1500 * time.Millisecond)
		writer.Store(fmt.Sprintf("127.0.0.1:%d", target.Port))
		if _, err := terminateWriters(ctx, sourcePool); err != nil {
			t.Error(err)
		}
	})
	rep := run(t, ctx, workload.Config{Conn: conn, Rate: 500, Duration: 3500 * time.Millisecond})
	wg.Wait()

	onSource, onTarget := rowsOf(t, sourcePool, rep.RunID), rowsOf(t, targetPool, rep.RunID)
	t.Logf("%d lookups; %d payments on the source, %d on the target", lookups.Load(), len(onSource), len(onTarget))
	if len(onSource) == 0 || len(onTarget) == 0 {
		t.Fatal("the flip did not move the writes")
	}
	both := map[string]workload.Rows{}
	for _, side := range []map[string]workload.Rows{onSource, onTarget} {
		for k, r := range side {
			prev := both[k]
			both[k] = workload.Rows{Count: prev.Count + r.Count, WithoutTransaction: prev.WithoutTransaction + r.WithoutTransaction}
		}
	}
	lr := workload.Compare(rep.Ledger, both)
	var b strings.Builder
	_ = lr.Print(&b)
	t.Logf("across both servers:\n%s", b.String())
	mustBeClean(t, rep, lr)
	for name, pool := range map[string]*pgxpool.Pool{"source": sourcePool, "target": targetPool} {
		if r := check(t, pool, rep.Ledger); r.DuplicatedKeys != 0 || r.NeverAttempted != 0 || r.WithoutTransaction != 0 {
			t.Errorf("%s: %q", name, r.Problems())
		}
	}
}

// TestFence is the cutover's fence on the application's role: read-only
// errors, retried; after the reset the workload carries on, nothing lost.
func TestFence(t *testing.T) {
	srv, pool := startSeeded(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		// Not srv.Exec: t.Fatal belongs to the test's goroutine.
		time.Sleep(time.Second)
		if _, err := pool.Exec(ctx, "ALTER ROLE "+appRole+" SET default_transaction_read_only = on"); err != nil {
			t.Error(err)
		}
		if _, err := terminateWriters(ctx, pool); err != nil {
			t.Error(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if _, err := pool.Exec(ctx, "ALTER ROLE "+appRole+" RESET default_transaction_read_only"); err != nil {
			t.Error(err)
		}
	})
	rep := run(t, ctx, workload.Config{Conn: appConn(srv), Rate: 300, Duration: 4500 * time.Millisecond})
	wg.Wait()
	mustBeClean(t, rep, check(t, pool, rep.Ledger))
	if rep.Errors[workload.KindReadOnly] == 0 {
		t.Errorf("no read-only errors under the fence: %v", rep.Errors)
	}
	if rep.Failed != 0 {
		t.Errorf("%d payments failed; a 1.5 s fence is within the retry budget", rep.Failed)
	}
	if d := rep.LongestUnavailable.Duration(); d < time.Second {
		t.Errorf("longest write-unavailable window %s, want about the fence's 1.5 s", d)
	}
	// Payments were acknowledged after the fence was lifted.
	var after int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE split_part(idempotency_key, '-', 1) = $1 AND created_at > $2`,
		rep.RunID, rep.LongestUnavailable.To).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after == 0 {
		t.Error("nothing committed after the fence was lifted")
	}
}

// TestCheckFindsLostAndDuplicated damages a database the way a bad migration
// would (a payment deleted, a key written twice on a table that lost its
// unique constraint, a row nobody attempted) and expects the check to fail.
func TestCheckFindsLostAndDuplicated(t *testing.T) {
	srv, pool := startSeeded(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep := run(t, ctx, workload.Config{Conn: appConn(srv), Rate: 2000, Count: 300, RefundEvery: -1})
	mustBeClean(t, rep, check(t, pool, rep.Ledger))

	lost, dup := workload.PaymentKey(rep.RunID, 10), workload.PaymentKey(rep.RunID, 20)
	stray := workload.PaymentKey(rep.RunID, 1_000_000)
	srv.Exec(t, `DELETE FROM transactions WHERE payment_id = (SELECT id FROM payments WHERE idempotency_key = $1)`, lost)
	srv.Exec(t, `DELETE FROM payments WHERE idempotency_key = $1`, lost)
	srv.Exec(t, `ALTER TABLE payments DROP CONSTRAINT payments_idempotency_key_key`)
	srv.Exec(t, `INSERT INTO payments (idempotency_key, payment_method_id, amount_cents)
		SELECT idempotency_key, payment_method_id, amount_cents FROM payments WHERE idempotency_key = $1`, dup)
	srv.Exec(t, `WITH p AS (INSERT INTO payments (idempotency_key, payment_method_id, amount_cents)
		SELECT $1, min(id), 100 FROM payment_methods RETURNING id)
		INSERT INTO transactions (payment_id, amount_cents) SELECT id, 100 FROM p`, stray)

	lr := check(t, pool, rep.Ledger)
	if lr.OK() || lr.Lost != 1 || lr.DuplicatedKeys != 1 || lr.DuplicateRows != 1 || lr.NeverAttempted != 1 || lr.WithoutTransaction != 1 {
		t.Fatalf("check of the damaged database: %+v", lr)
	}
	problems := strings.Join(lr.Problems(), "; ")
	for _, want := range []string{lost, dup, stray} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems %q do not name %s", problems, want)
		}
	}
}

// TestSeed pre-fills 100k payments (COPY), seeds again (nothing added), and
// checks the seed's ledger.
func TestSeed(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	pool := srv.Pool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := workload.Seed(ctx, pool, workload.SeedOptions{Rows: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d payments in %s", res.PaymentsAdded, time.Since(start).Round(time.Millisecond))
	again, err := workload.Seed(ctx, pool, workload.SeedOptions{Rows: 100_000})
	if err != nil || again.PaymentsAdded != 0 || again.Seeded != 100_000 {
		t.Fatalf("seeding again: %+v, %v", again, err)
	}
	more, err := workload.Seed(ctx, pool, workload.SeedOptions{Rows: 100_010})
	if err != nil || more.PaymentsAdded != 10 {
		t.Fatalf("seeding 10 more: %+v, %v", more, err)
	}
	var methods, tables int
	var avgDoc float64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM payment_methods),
		(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'payment_%'),
		(SELECT avg(pg_column_size(details)) FROM payments)`).Scan(&methods, &tables, &avgDoc); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d payment methods, %d tables matching payment_%%, details %.0f bytes on average", methods, tables, avgDoc)
	if methods != 20 {
		t.Errorf("%d payment methods, want 20", methods)
	}
	lr := check(t, pool, more.Ledger)
	if !lr.OK() || lr.AcknowledgedPresent != 100_010 {
		t.Errorf("seed ledger: %+v", lr)
	}
}

// TestCancel stops a run without -duration or -count the way SIGINT does:
// the report and the ledger are still complete.
func TestCancel(t *testing.T) {
	srv, pool := startSeeded(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rep := run(t, ctx, workload.Config{Conn: appConn(srv), Rate: 500})
	lr := check(t, pool, rep.Ledger)
	if !lr.OK() || rep.Attempted == 0 || lr.Attempted != rep.Attempted || lr.AcknowledgedPresent != rep.Acknowledged {
		t.Fatalf("after cancel: run %+v, check %+v", rep, lr)
	}
	if rep.Acknowledged+rep.Failed+rep.Interrupted != rep.Attempted {
		t.Errorf("%d acknowledged + %d failed + %d interrupted != %d attempted", rep.Acknowledged, rep.Failed, rep.Interrupted, rep.Attempted)
	}
}
