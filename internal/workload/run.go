package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Retry pacing: the first retry after ~10 ms (a terminated session reconnects
// at once), doubling to 1 s (a fence lasts seconds; hammering it helps no
// one).
const (
	retryBase = 10 * time.Millisecond
	retryMax  = time.Second
	// refundQueue bounds the acknowledged payments kept for later refunds.
	refundQueue = 4096
	// closeTimeout bounds closing a session being discarded.
	closeTimeout = time.Second
)

// Run drives the workload until cfg.Duration, cfg.Count or the end of ctx,
// whichever first, and reports what it did. Payments in flight when offering
// stops finish (within their retry budget); when ctx ends they are cut short
// and reported as interrupted. Run fails only when it cannot start (invalid
// settings, no payment methods); errors of payments are retried, counted and
// reported, never returned.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	poolCfg, err := cfg.Conn.PoolConfig()
	if err != nil {
		return Report{}, err
	}
	poolCfg.MaxConns = int32(cfg.Workers)
	// A bounded lifetime renews every connection, resolving the host again,
	// even when the cutover does not terminate the sessions; the jitter keeps
	// them from all reconnecting at once.
	poolCfg.MaxConnLifetime = cfg.ConnLifetime
	poolCfg.MaxConnLifetimeJitter = cfg.ConnLifetime / 5
	poolCfg.HealthCheckPeriod = min(cfg.ConnLifetime/2, 5*time.Second)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return Report{}, fmt.Errorf("run: connection pool: %w", err)
	}
	defer pool.Close()

	r := &runner{cfg: cfg, pool: pool}
	setupRng := rand.New(rand.NewPCG(rand.Uint64(), 0))
	if err := r.retry(ctx, setupRng, func(ctx context.Context) error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		r.methods, err = paymentMethodIDs(ctx, conn)
		return err
	}); err != nil {
		return Report{}, fmt.Errorf("run: %w", err)
	}
	return r.run(ctx), nil
}

// runner is one run's shared state.
type runner struct {
	cfg     Config
	pool    *pgxpool.Pool
	methods []int64
	pacer   *pacer
	start   time.Time

	mu         sync.Mutex // guards avail, refundable, lastOffer
	avail      availability
	refundable []string
	lastOffer  time.Time

	attempted, acknowledged, alreadyPresent, failed, interrupted atomic.Int64
	refunds, refundsFailed, refundsSkipped, retries              atomic.Int64
	errorsByKind                                                 [numErrorKinds]atomic.Int64
}

// worker is one worker's own state: merged into the report at the end, so
// the hot path shares nothing but the counters.
type worker struct {
	rng       *rand.Rand
	outcomes  []outcome
	latencies []time.Duration
}

type outcome struct {
	seq   int64
	acked bool
}

// payResult is how a payment's attempts ended.
type payResult int

const (
	resultAcked    payResult = iota
	resultGaveUp             // not retriable, or out of retry budget
	resultCutShort           // ctx ended
)

func (r *runner) run(ctx context.Context) Report {
	r.start = time.Now()
	r.pacer = newPacer(r.start, r.cfg.Rate, r.cfg.MaxBacklog, r.cfg.Count)
	offerCtx, stopOffering := context.WithCancel(ctx)
	defer stopOffering()
	if r.cfg.Duration > 0 {
		var cancel context.CancelFunc
		offerCtx, cancel = context.WithDeadline(offerCtx, r.start.Add(r.cfg.Duration))
		defer cancel()
	}
	progressDone := make(chan struct{})
	var progress sync.WaitGroup
	if r.cfg.Progress != nil {
		progress.Go(func() { r.printProgress(progressDone) })
	}

	workers := make([]*worker, r.cfg.Workers)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))}
		workers[i] = w
		wg.Go(func() { r.work(ctx, offerCtx, w) })
	}
	wg.Wait()
	close(progressDone)
	progress.Wait()
	return r.report(workers, time.Now())
}

// work takes payment slots until offering stops.
func (r *runner) work(ctx, offerCtx context.Context, w *worker) {
	for offerCtx.Err() == nil {
		seq, due, ok := r.pacer.take(time.Now())
		if !ok || !sleepUntil(offerCtx, due) {
			return
		}
		key := PaymentKey(r.cfg.RunID, seq)
		w.outcomes = append(w.outcomes, outcome{seq: seq})
		r.attempted.Add(1)
		began := time.Now()
		r.mu.Lock()
		r.avail.begin(began)
		if began.After(r.lastOffer) {
			r.lastOffer = began
		}
		r.mu.Unlock()

		res, present := r.pay(ctx, w, key)
		now := time.Now()
		r.mu.Lock()
		switch res {
		case resultAcked:
			r.avail.acknowledged(now)
			if len(r.refundable) < refundQueue {
				r.refundable = append(r.refundable, key)
			}
		default:
			r.avail.failed()
		}
		r.mu.Unlock()
		switch res {
		case resultAcked:
			w.outcomes[len(w.outcomes)-1].acked = true
			w.latencies = append(w.latencies, now.Sub(began))
			r.acknowledged.Add(1)
			if present {
				r.alreadyPresent.Add(1)
			}
		case resultGaveUp:
			r.failed.Add(1)
		case resultCutShort:
			r.interrupted.Add(1)
			return
		}
		if every := r.cfg.RefundEvery; every > 0 && seq%int64(every) == int64(every)-1 {
			r.refundOne(ctx, w)
		}
	}
}

// pay writes one payment, retrying with the same key; present says the
// acknowledged payment was found already committed by an earlier attempt.
func (r *runner) pay(ctx context.Context, w *worker, key string) (res payResult, present bool) {
	doc, amount, err := newDetails(w.rng)
	if err != nil { // cannot happen with the fixed document type; count it rather than hide it
		r.errorsByKind[KindOther].Add(1)
		return resultGaveUp, false
	}
	method := r.methods[w.rng.IntN(len(r.methods))]
	err = r.retry(ctx, w.rng, func(ctx context.Context) error {
		var err error
		present, err = r.payOnce(ctx, key, method, amount, doc)
		return err
	})
	switch {
	case err == nil:
		return resultAcked, present
	case ctx.Err() != nil:
		return resultCutShort, false
	default:
		return resultGaveUp, false
	}
}

// payOnce is one attempt: one transaction inserting the payment and its
// transactions row. A key already there means an earlier attempt committed
// and its acknowledgement was lost: acknowledged, no second row.
func (r *runner) payOnce(ctx context.Context, key string, method, amount int64, doc []byte) (present bool, err error) {
	err = r.withConn(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = tx.Rollback(ctx) }() // after Commit, a no-op
		var id int64
		err = tx.QueryRow(ctx, insertPaymentSQL, key, method, amount, "USD", doc).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			present = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("insert payment %s: %w", key, err)
		}
		if _, err := tx.Exec(ctx, insertCaptureSQL, id, amount, "USD"); err != nil {
			return fmt.Errorf("insert transaction of payment %s: %w", key, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit payment %s: %w", key, err)
		}
		return nil
	})
	return present, err
}

// refundOne refunds the oldest acknowledged payment not refunded yet, in its
// own transaction (its own request, in a service), with its own key.
func (r *runner) refundOne(ctx context.Context, w *worker) {
	r.mu.Lock()
	if len(r.refundable) == 0 {
		r.mu.Unlock()
		return
	}
	key := r.refundable[0]
	r.refundable = r.refundable[1:]
	r.mu.Unlock()
	var skipped bool
	err := r.retry(ctx, w.rng, func(ctx context.Context) error {
		skipped = false
		return r.withConn(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				var paymentID, amount int64
				var currency string
				err := tx.QueryRow(ctx, insertRefundSQL, key, RefundKey(key)).Scan(&paymentID, &amount, &currency)
				if errors.Is(err, pgx.ErrNoRows) {
					// Refunded by an earlier attempt, or the payment is not on
					// this database (which the ledger check will say).
					var exists bool
					if err := tx.QueryRow(ctx, refundExistsSQL, RefundKey(key)).Scan(&exists); err != nil {
						return fmt.Errorf("look up refund of %s: %w", key, err)
					}
					skipped = !exists
					return nil
				}
				if err != nil {
					return fmt.Errorf("insert refund of %s: %w", key, err)
				}
				if _, err := tx.Exec(ctx, insertRefundTransactionSQL, paymentID, amount, currency); err != nil {
					return fmt.Errorf("insert refund transaction of %s: %w", key, err)
				}
				if _, err := tx.Exec(ctx, markRefundedSQL, paymentID); err != nil {
					return fmt.Errorf("mark %s refunded: %w", key, err)
				}
				return nil
			})
		})
	})
	switch {
	case err != nil:
		r.refundsFailed.Add(1)
	case skipped:
		r.refundsSkipped.Add(1)
	default:
		r.refunds.Add(1)
	}
}

// withConn runs f on a pooled connection within the attempt timeout. A
// session that failed in a way that leaves it useless or misleading (dead,
// terminated, read-only, timed out) is closed rather than returned: the next
// attempt gets a new session, which resolves the host again and reads the
// role's settings again.
func (r *runner) withConn(ctx context.Context, f func(context.Context, *pgxpool.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
	defer cancel()
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	err = f(ctx, conn)
	if err != nil && Classify(err).dropsSession() {
		closeSession(ctx, conn)
	}
	return err
}

// retry calls attempt until it succeeds, fails in a way not worth retrying,
// or the retry budget (cfg.RetryFor from the first attempt) would be
// exceeded; every failure is counted by kind.
func (r *runner) retry(ctx context.Context, rng *rand.Rand, attempt func(context.Context) error) error {
	deadline := time.Now().Add(r.cfg.RetryFor)
	// The budget bounds the attempts too, not only the waits between them.
	budget, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for n := 1; ; n++ {
		err := attempt(budget)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
		}
		kind := Classify(err)
		r.errorsByKind[kind].Add(1)
		if !kind.Retriable() {
			return err
		}
		wait := backoff(n, retryBase, retryMax, rng.Float64())
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("gave up after %d attempts in %s: %w", n, r.cfg.RetryFor, err)
		}
		r.retries.Add(1)
		if !sleepUntil(ctx, time.Now().Add(wait)) {
			return fmt.Errorf("%w (stopped: %w)", err, ctx.Err())
		}
	}
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func (r *runner) printProgress(done <-chan struct{}) {
	ticker := time.NewTicker(r.cfg.ProgressEvery)
	defer ticker.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-ticker.C:
			errs := map[ErrorKind]int64{}
			for k := range r.errorsByKind {
				errs[ErrorKind(k)] = r.errorsByKind[k].Load()
			}
			elapsed := now.Sub(r.start)
			fmt.Fprintf(r.cfg.Progress, "%6s attempted %d (%.0f/s) acknowledged %d failed %d retries %d errors: %s\n",
				elapsed.Round(time.Second), r.attempted.Load(), float64(r.attempted.Load())/elapsed.Seconds(),
				r.acknowledged.Load(), r.failed.Load(), r.retries.Load(), formatErrors(errs))
		}
	}
}

func (r *runner) report(workers []*worker, end time.Time) Report {
	rep := Report{
		RunID: r.cfg.RunID, RateAsked: r.cfg.Rate, Workers: r.cfg.Workers, Elapsed: end.Sub(r.start),
		Attempted: r.attempted.Load(), Acknowledged: r.acknowledged.Load(), AcknowledgedAlreadyPresent: r.alreadyPresent.Load(),
		Failed: r.failed.Load(), Interrupted: r.interrupted.Load(),
		Refunds: r.refunds.Load(), RefundsFailed: r.refundsFailed.Load(), RefundsSkipped: r.refundsSkipped.Load(), Retries: r.retries.Load(),
		Errors: map[ErrorKind]int64{},
	}
	for k := range r.errorsByKind {
		if n := r.errorsByKind[k].Load(); n > 0 {
			rep.Errors[ErrorKind(k)] = n
		}
	}
	_, rep.SlotsDropped = r.pacer.counts()
	r.mu.Lock()
	rep.LongestUnavailable = r.avail.end(end)
	lastOffer := r.lastOffer
	r.mu.Unlock()
	// Offering time runs to the last payment offered plus its share of the
	// schedule, so N payments at rate R offered in N/R seconds read as R.
	if rep.Attempted > 0 {
		rep.OfferingTime = min(lastOffer.Sub(r.start)+r.pacer.interval, rep.Elapsed)
		rep.RateAchieved = float64(rep.Attempted) / rep.OfferingTime.Seconds()
		rep.RateAcknowledged = float64(rep.Acknowledged) / rep.OfferingTime.Seconds()
	}
	var latencies []time.Duration
	rep.Ledger = NewLedger(r.cfg.RunID)
	for _, w := range workers {
		latencies = append(latencies, w.latencies...)
		for _, o := range w.outcomes {
			key := PaymentKey(r.cfg.RunID, o.seq)
			if o.acked {
				rep.Ledger.Acknowledge(key)
			} else {
				rep.Ledger.Attempt(key)
			}
		}
	}
	rep.Latency = summarise(latencies)
	return rep
}
