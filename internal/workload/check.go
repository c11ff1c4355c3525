package workload

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// waitPoll is how often a waiting check looks again.
const waitPoll = 250 * time.Millisecond

// Check compares ledger with the payments of the database behind pool (see
// LedgerReport). The keys go into a temporary table by COPY and the
// comparison is one set-based query, so a million keys check in seconds.
func Check(ctx context.Context, pool *pgxpool.Pool, ledger *Ledger) (LedgerReport, error) {
	return CheckWait(ctx, pool, ledger, 0)
}

// CheckWait is Check for right after replication: it looks again until every
// acknowledged payment is present with its transactions row, for up to wait,
// then reports (LedgerReport.Waited: how long it took). A report with
// problems after wait is a report, not an error.
func CheckWait(ctx context.Context, pool *pgxpool.Pool, ledger *Ledger, wait time.Duration) (LedgerReport, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return LedgerReport{}, fmt.Errorf("check: acquire connection: %w", err)
	}
	defer conn.Release()
	if err := loadLedger(ctx, conn, ledger); err != nil {
		// The session may hold a half-made temporary table: do not pool it.
		closeSession(ctx, conn)
		return LedgerReport{}, fmt.Errorf("check: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(ctx, dropLedgerTableSQL); err != nil {
			closeSession(ctx, conn)
		}
	}()

	start := time.Now()
	deadline := start.Add(wait)
	for {
		rep, err := compareInDB(ctx, conn, ledger)
		if err != nil {
			return LedgerReport{}, fmt.Errorf("check: %w", err)
		}
		if wait <= 0 {
			return rep, nil
		}
		rep.Waited = time.Since(start)
		complete := rep.Lost == 0 && rep.WithoutTransaction == 0
		remaining := time.Until(deadline)
		if complete || remaining <= 0 {
			return rep, nil
		}
		if !sleepUntil(ctx, time.Now().Add(min(waitPoll, remaining))) {
			return LedgerReport{}, fmt.Errorf("check: waiting for %d acknowledged payments: %w", rep.Lost, ctx.Err())
		}
	}
}

// loadLedger copies the ledger's keys into the session's temporary table.
// The transaction is READ WRITE explicitly: the check may run as a role the
// cutover fenced with default_transaction_read_only, and a temporary table is
// the only thing it writes.
func loadLedger(ctx context.Context, conn *pgxpool.Conn, ledger *Ledger) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, dropLedgerTableSQL); err != nil {
		return fmt.Errorf("drop old ledger table: %w", err)
	}
	if _, err := tx.Exec(ctx, createLedgerTableSQL); err != nil {
		return fmt.Errorf("create ledger table: %w", err)
	}
	keys := make([]string, 0, len(ledger.keys))
	for k := range ledger.keys {
		keys = append(keys, k)
	}
	i := 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(keys) {
			return nil, nil
		}
		k := keys[i]
		i++
		return []any{k, ledger.keys[k]}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{ledgerTable}, ledgerCopyColumns, rows); err != nil {
		return fmt.Errorf("copy %d keys: %w", len(keys), err)
	}
	// Without statistics the planner guesses a tiny table and may pick a
	// nested loop over a million keys.
	if _, err := tx.Exec(ctx, analyzeLedgerSQL); err != nil {
		return fmt.Errorf("analyze ledger table: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit ledger table: %w", err)
	}
	return nil
}

// compareInDB runs the comparison: one statement, so one snapshot.
func compareInDB(ctx context.Context, conn *pgxpool.Conn, ledger *Ledger) (LedgerReport, error) {
	var r LedgerReport
	attempted, acknowledged := ledger.Counts()
	r.Attempted, r.Acknowledged = int64(attempted), int64(acknowledged)
	err := conn.QueryRow(ctx, checkLedgerSQL, ledger.RunIDs(), sampleSize).Scan(
		&r.AcknowledgedPresent,
		&r.Lost, &r.LostSample,
		&r.DuplicatedKeys, &r.DuplicateRows, &r.DuplicatedSample,
		&r.UnacknowledgedPresent, &r.UnacknowledgedPresentSample,
		&r.NeverAttempted, &r.NeverAttemptedSample,
		&r.WithoutTransaction, &r.WithoutTransactionSample,
	)
	if err != nil {
		return LedgerReport{}, fmt.Errorf("compare ledger with %s: %w", TablePayments, err)
	}
	return r, nil
}

// closeSession closes a session that must not go back to the pool.
func closeSession(ctx context.Context, conn *pgxpool.Conn) {
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	_ = conn.Conn().Close(closeCtx) // an error still leaves it closed; Release then destroys it
}
