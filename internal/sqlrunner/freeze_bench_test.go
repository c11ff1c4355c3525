package sqlrunner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/workload"
	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

// BenchmarkFreeze measures the forward freeze end to end: the payment
// workload writes through a writer "record" (an in-memory address the
// workload's resolver reads on every new connection), the real decision
// (cutover.Decide and cutover.Complete) drives the real SQL steps of Direct
// on two servers replicating by logical replication, and the flip moves the
// in-memory record, a router that costs nothing. What is left is the
// databases' share and the operator's.
//
// Every iteration starts a fresh pair of servers (outside the measured
// window), so run it with a small fixed count: -benchtime 5x.
//
// Per iteration:
//   - window: the longest time the workload could not write
//     (Report.LongestUnavailable), which is the freeze as the service sees it:
//     from the first payment refused after the fence to the first one
//     acknowledged on the target;
//   - sql: the time spent inside the Direct calls of the freeze;
//   - operator: the freeze loop's time (first decision to the writer on the
//     target) minus sql: deciding, recording, and the bookkeeping between
//     two actions. Not included: the status patches of the actions that ask
//     to be persisted (an API server round trip each) and the logging.
//
// Targets (not asserted): window at most 100 ms p50 and 250 ms p99 at
// 1000/s; operator at most 10 ms.
func BenchmarkFreeze(b *testing.B) {
	for _, rate := range []float64{200, 1000} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) { benchFreeze(b, rate) })
	}
}

// freezeRun is what one iteration measured.
type freezeRun struct {
	window, loop, sql time.Duration
	// fenceToWindow: from the fence set to the start of the workload's
	// longest gap (a sanity check that the gap is the freeze's).
	fenceToWindow time.Duration
	steps         []string
	report        workload.Report
	onTarget      int64
}

func (r freezeRun) operator() time.Duration { return r.loop - r.sql }

func benchFreeze(b *testing.B, rate float64) {
	var runs []freezeRun
	for b.Loop() {
		runs = append(runs, freezeOnce(b, rate))
	}
	if len(runs) == 0 {
		return
	}
	pick := func(f func(freezeRun) time.Duration) (p50, p99 time.Duration) {
		ds := make([]time.Duration, len(runs))
		for i, r := range runs {
			ds[i] = f(r)
		}
		slices.Sort(ds)
		return nearestRank(ds, 0.50), nearestRank(ds, 0.99)
	}
	w50, w99 := pick(func(r freezeRun) time.Duration { return r.window })
	o50, o99 := pick(func(r freezeRun) time.Duration { return r.operator() })
	s50, s99 := pick(func(r freezeRun) time.Duration { return r.sql })
	l50, l99 := pick(func(r freezeRun) time.Duration { return r.loop })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(w50), "window-p50-ms")
	b.ReportMetric(ms(w99), "window-p99-ms")
	b.ReportMetric(ms(o50), "operator-p50-ms")
	b.ReportMetric(ms(o99), "operator-p99-ms")
	b.ReportMetric(ms(s50), "sql-p50-ms")
	b.ReportMetric(ms(l50), "loop-p50-ms")
	// ns/op would be the setup of two servers: report the freeze loop.
	b.ReportMetric(float64(l50), "ns/op")

	var t strings.Builder
	fmt.Fprintf(&t, "%d iterations (p99 of so few is their maximum)\n", len(runs))
	fmt.Fprintf(&t, "%4s %10s %10s %10s %10s %12s %8s %8s\n", "run", "window", "loop", "sql", "operator", "fence->gap", "acked", "retries")
	for i, r := range runs {
		fmt.Fprintf(&t, "%4d %10s %10s %10s %10s %12s %8d %8d\n", i, rd(r.window), rd(r.loop), rd(r.sql), rd(r.operator()), rd(r.fenceToWindow),
			r.report.Acknowledged, r.report.Retries)
	}
	fmt.Fprintf(&t, "%4s %10s %10s %10s %10s\n", "p50", rd(w50), rd(l50), rd(s50), rd(o50))
	fmt.Fprintf(&t, "%4s %10s %10s %10s %10s\n", "p99", rd(w99), rd(l99), rd(s99), rd(o99))
	fmt.Fprintf(&t, "steps of the median loop: %s", strings.Join(medianLoop(runs).steps, ", "))
	b.Log(t.String())
}

// medianLoop is the run whose freeze loop took the median time.
func medianLoop(runs []freezeRun) freezeRun {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b freezeRun) int { return int(a.loop - b.loop) })
	return sorted[len(sorted)/2]
}

func rd(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }

func nearestRank(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// freezeOnce sets up a replicating pair with the workload writing into the
// source, runs the freeze through the decision, and reports what it cost.
func freezeOnce(b *testing.B, rate float64) freezeRun {
	b.StopTimer()
	defer b.StartTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := func() *pgtest.Server {
		s, err := pgtest.StartServer(ctx, pgtest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	src, dst := start(), start()
	defer func() { _ = src.Stop() }()
	defer func() { _ = dst.Stop() }()
	pool := func(s *pgtest.Server) *pgxpool.Pool {
		p, err := pgxpool.New(ctx, s.URL())
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	srcPool, dstPool := pool(src), pool(dst)
	defer srcPool.Close()
	defer dstPool.Close()

	const appPass, appSecret, schema = "app-password", "app", "public"
	secrets := fakeSecrets{"src": secretOf(src), "dst": secretOf(dst), appSecret: appSecretOf(appUser, appPass)}
	setup := &Direct{Secrets: secrets, SSLMode: "disable"}
	defer func() { _ = setup.Close() }()
	source, target := Database{Side: "source", SecretARN: "src"}, Database{Side: "target", SecretARN: "dst"}
	// The same schema and payment methods on both (the methods get the same
	// ids on two fresh servers), so the subscription copies nothing.
	for _, side := range []struct {
		pool *pgxpool.Pool
		db   Database
	}{{srcPool, source}, {dstPool, target}} {
		if _, err := workload.Seed(ctx, side.pool, workload.SeedOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := setup.EnsureWatermarkTable(ctx, side.db, schema); err != nil {
			b.Fatal(err)
		}
		if err := setup.EnsureAppRole(ctx, side.db, AppRole{Name: appUser, SecretARN: appSecret, Schema: schema, Tables: workload.Tables}); err != nil {
			b.Fatal(err)
		}
	}
	tables := make([]string, 0, len(workload.Tables)+1)
	for _, t := range append(slices.Clone(workload.Tables), naming.WatermarkTable) {
		tables = append(tables, "public."+t)
	}
	exec := func(p *pgxpool.Pool, sql string) {
		if _, err := p.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	exec(srcPool, `CREATE PUBLICATION forward FOR TABLE `+strings.Join(tables, ", "))
	exec(dstPool, fmt.Sprintf(`CREATE SUBSCRIPTION forward CONNECTION 'host=%s port=%d user=%s password=%s dbname=%s' PUBLICATION forward
		WITH (copy_data = false, synchronous_commit = 'on')`, src.Host, src.Port, src.User, src.Password, src.Database))
	for deadline := time.Now().Add(30 * time.Second); ; {
		var streaming int
		if err := srcPool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&streaming); err != nil {
			b.Fatal(err)
		}
		if streaming > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the subscription is not streaming after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The writer record.
	addr := func(s *pgtest.Server) string { return fmt.Sprintf("%s:%d", s.Host, s.Port) }
	var writer atomic.Value
	writer.Store(addr(src))
	conn := workload.Conn{Host: "db.payments.test", Port: src.Port, User: appUser, Password: appPass, Database: src.Database, SSLMode: "disable",
		Resolver: workload.ResolverFunc(func(context.Context, string) ([]string, error) { return []string{writer.Load().(string)}, nil })}
	const warmup, run = time.Second, 3 * time.Second
	var rep workload.Report
	var runErr error
	var wg sync.WaitGroup
	wg.Go(func() { rep, runErr = workload.Run(ctx, workload.Config{Conn: conn, Rate: rate, Duration: run}) })
	time.Sleep(warmup)

	// The runner as the reconciler has it when the freeze begins: the
	// observation of the world (the fences) just used its sessions.
	r := &Direct{Secrets: secrets, SSLMode: "disable"}
	defer func() { _ = r.Close() }()
	slot := naming.New("bench").ReverseSlot()
	// The slot is made before the freeze, in the last step's interval.
	if _, err := r.CreateSlot(ctx, target, slot, "test_decoding"); err != nil {
		b.Fatal(err)
	}
	world := cutover.World{Routes: cutover.SourceRoutes, Fenced: map[naming.Side]bool{}, SlotExists: true}
	for side, db := range map[naming.Side]Database{naming.Source: source, naming.Target: target} {
		on, err := r.FenceState(ctx, db, appUser)
		if err != nil {
			b.Fatal(err)
		}
		world.Fenced[side] = on
	}
	spec := cutover.Spec{Steps: []int32{100}, FreezeTimeout: 30 * time.Second, FenceGrace: 5 * time.Second, ReversePath: true, AutoRollback: true, Approved: true}
	now := time.Now()
	rec := cutover.Record{State: cutover.Freezing, Direction: cutover.Forward, Attempt: 1, Step: -1, Steps: []int32{100}, ReversePath: true,
		FreezeStartedAt: now, WatermarkID: fmt.Sprintf("a1-forward-%d", now.UnixNano())}
	dbOf := func(s naming.Side) Database {
		if s == naming.Source {
			return source
		}
		return target
	}
	var out freezeRun
	var fencedAt time.Time
	loopStart := time.Now()
	for i := 0; world.Routes.Writer != naming.Target; i++ {
		if i >= 64 {
			b.Fatalf("no flip after %d decisions; last record: %s %s", i, rec.Reason, rec.Message)
		}
		d := cutover.Decide(spec, rec, nil, world, time.Now())
		rec = d.Record
		if d.Action.Op == cutover.OpWait {
			b.Fatalf("the freeze waits: %s %s", rec.Reason, rec.Message)
		}
		if d.Action.Op == cutover.OpRecord {
			continue
		}
		if rec.State != cutover.Freezing {
			b.Fatalf("the freeze left for %s: %s %s", rec.State, rec.Reason, rec.Message)
		}
		var res cutover.Result
		a := d.Action
		sqlStart := time.Now()
		switch a.Op {
		case cutover.OpSetRoutes:
			// The router that costs nothing.
			writer.Store(addr(dbServer(a.Routes.Writer, src, dst)))
		case cutover.OpSetFence:
			res.Err = r.SetFence(ctx, dbOf(a.Side), appUser, a.On)
			if a.On && a.Side == naming.Source && fencedAt.IsZero() {
				fencedAt = time.Now()
			}
		case cutover.OpConfirmFence:
			res.Confirmed, res.Err = r.ConfirmFence(ctx, dbOf(a.Side), appSecret)
		case cutover.OpDrainSessions:
			grace := spec.FenceGrace
			if a.NoGrace {
				grace = 0
			}
			var dr DrainResult
			dr, res.Err = r.DrainSessions(ctx, dbOf(a.Side), appUser, grace)
			res.OpenWritesWaited, res.SessionsTerminated = dr.OpenWritesWaited, dr.SessionsTerminated
		case cutover.OpWriteWatermark:
			res.Err = r.WriteWatermark(ctx, dbOf(a.Side), schema, a.Watermark)
		case cutover.OpAwaitWatermark:
			res.Found, res.Err = r.WaitWatermark(ctx, dbOf(a.Side), schema, a.Watermark, a.Timeout)
		case cutover.OpSyncSequences:
			res.Sequences, res.Err = r.SyncSequences(ctx, dbOf(a.From), dbOf(a.To), schema, 1000)
		case cutover.OpMarkFlipPoint:
			res.LSN, res.Err = r.MarkFlipPoint(ctx, target, slot, "test_decoding")
		default:
			res.Err = fmt.Errorf("the benchmark does not carry out %s", a.Op)
		}
		took := time.Since(sqlStart)
		if a.Op != cutover.OpSetRoutes {
			out.sql += took
		}
		out.steps = append(out.steps, fmt.Sprintf("%s %s", a.Op, rd(took)))
		if res.Err != nil {
			b.Fatalf("%s: %v", a, res.Err)
		}
		rec = cutover.Complete(rec, a, res, time.Now())
		world = cutover.After(world, a, cutover.Result{})
	}
	out.loop = time.Since(loopStart)
	if flipBy := time.Until(loopStart) + run - warmup; flipBy < 500*time.Millisecond {
		b.Fatalf("the flip came too late in the workload's run to see writes on the target (loop %s)", out.loop)
	}
	wg.Wait()
	if runErr != nil {
		b.Fatal(runErr)
	}
	out.report = rep
	out.window = rep.LongestUnavailable.Duration()
	out.fenceToWindow = rep.LongestUnavailable.From.Sub(fencedAt)
	if err := dstPool.QueryRow(ctx, `SELECT count(*) FROM public.payments WHERE idempotency_key LIKE $1`, rep.RunID+"%").Scan(&out.onTarget); err != nil {
		b.Fatal(err)
	}
	var onSource int64
	if err := srcPool.QueryRow(ctx, `SELECT count(*) FROM public.payments WHERE idempotency_key LIKE $1`, rep.RunID+"%").Scan(&onSource); err != nil {
		b.Fatal(err)
	}
	// The source's payments replicated, and the target took the rest.
	if out.onTarget <= onSource {
		b.Fatalf("no payment written on the target: %d on the source, %d on the target", onSource, out.onTarget)
	}
	if rep.Failed != 0 {
		b.Logf("workload: %d acknowledged, %d failed", rep.Acknowledged, rep.Failed)
	}
	return out
}

func dbServer(s naming.Side, src, dst *pgtest.Server) *pgtest.Server {
	if s == naming.Source {
		return src
	}
	return dst
}
