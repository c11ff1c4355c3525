package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SeedOptions shape Seed.
type SeedOptions struct {
	// Rows pre-fills payments up to this many seeded ones (keys seed-1 to
	// seed-Rows, each with its transactions row), for full-load tests. Rows
	// already seeded are kept: seeding again with the same Rows adds nothing.
	Rows int64
	// PaymentMethods is the number of sample payment methods; 0 means 20.
	PaymentMethods int
}

// SeedResult is what Seed did.
type SeedResult struct {
	// PaymentsAdded is the payments this call added; the seeded ones are
	// seed-1 to seed-Seeded.
	PaymentsAdded, Seeded int64
	// Ledger holds every seeded key, acknowledged (they are committed): check
	// it against a target after full load.
	Ledger *Ledger
}

// Seed creates the workload's schema (idempotent), its sample payment
// methods, and pre-fills opts.Rows payments, all in one transaction, so a
// seed is all there or not at all.
func Seed(ctx context.Context, pool *pgxpool.Pool, opts SeedOptions) (SeedResult, error) {
	if opts.Rows < 0 {
		return SeedResult{}, fieldErr("rows", "must not be negative, got %d", opts.Rows)
	}
	if opts.PaymentMethods < 0 {
		return SeedResult{}, fieldErr("methods", "must not be negative, got %d", opts.PaymentMethods)
	}
	var res SeedResult
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, seedLockSQL, int64(seedLockKey)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, schemaSQL); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		for _, m := range sampleMethods(orDefault(opts.PaymentMethods, 20)) {
			if _, err := tx.Exec(ctx, insertMethodSQL, m.customerRef, m.kind, nullIfEmpty(m.network), nullIfEmpty(m.last4), m.fingerprint); err != nil {
				return fmt.Errorf("insert payment method %s: %w", m.fingerprint, err)
			}
		}
		methods, err := paymentMethodIDs(ctx, tx)
		if err != nil {
			return err
		}
		var seeded int64
		if err := tx.QueryRow(ctx, maxSeedSeqSQL, SeedRunID).Scan(&seeded); err != nil {
			return fmt.Errorf("find seeded payments: %w", err)
		}
		res.Seeded = max(seeded, opts.Rows)
		if opts.Rows <= seeded {
			return nil
		}
		// Seeded data is reproducible: the same rows for the same Rows.
		rng := rand.New(rand.NewPCG(uint64(seeded), 2026))
		seq := seeded
		var rowErr error
		rows := pgx.CopyFromFunc(func() ([]any, error) {
			if seq >= opts.Rows {
				return nil, nil
			}
			seq++
			doc, amount, err := newDetails(rng)
			if err != nil {
				return nil, err
			}
			return []any{PaymentKey(SeedRunID, seq), methods[int(seq)%len(methods)], amount, "USD", "captured", doc}, nil
		})
		if res.PaymentsAdded, rowErr = tx.CopyFrom(ctx, pgx.Identifier{"public", TablePayments}, paymentCopyColumns, rows); rowErr != nil {
			return fmt.Errorf("copy payments: %w", rowErr)
		}
		if _, err := tx.Exec(ctx, seedTransactionsSQL, SeedRunID); err != nil {
			return fmt.Errorf("insert transactions of seeded payments: %w", err)
		}
		return nil
	})
	if err != nil {
		return SeedResult{}, fmt.Errorf("seed: %w", err)
	}
	res.Ledger = NewLedger(SeedRunID)
	for seq := int64(1); seq <= res.Seeded; seq++ {
		res.Ledger.Acknowledge(PaymentKey(SeedRunID, seq))
	}
	return res, nil
}

// querier is what paymentMethodIDs needs: a pool, a connection or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// paymentMethodIDs lists the payment methods payments are made with.
func paymentMethodIDs(ctx context.Context, q querier) ([]int64, error) {
	rows, err := q.Query(ctx, listMethodsSQL)
	if err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("no payment methods: seed the database first")
	}
	return ids, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
