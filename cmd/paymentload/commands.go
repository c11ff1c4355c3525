package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/workload"
)

func seedCommand(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet("seed", "seed [connection flags] [-rows N] [-methods N] [-keys-out FILE] [-timeout D]", env.stdout)
	var cf connFlags
	cf.register(fs)
	var opts workload.SeedOptions
	fs.Int64Var(&opts.Rows, "rows", 0, "pre-fill payments up to `N` seeded ones (keys seed-1..seed-N; already seeded ones are kept)")
	fs.IntVar(&opts.PaymentMethods, "methods", 20, "sample payment methods to create")
	keysOut := fs.String("keys-out", "", "write the seeded keys as a ledger to `FILE` (to check a target after full load)")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the whole seed")
	if err := fs.parse(args); err != nil {
		return helpIsDone(err)
	}
	conn, err := cf.resolve(fs, env.getenv)
	if err != nil {
		return err
	}
	conn.ApplicationName = "paymentload-seed"
	if err := positive("timeout", *timeout); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pool, err := workload.OpenPool(ctx, conn, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	start := time.Now()
	res, err := workload.Seed(ctx, pool, opts)
	if err != nil {
		return flagError(err)
	}
	fmt.Fprintf(env.stdout, "seeded %s: schema ready, %d payments added, seed-1..seed-%d present, in %s\n",
		conn.Database, res.PaymentsAdded, res.Seeded, time.Since(start).Round(time.Millisecond))
	if *keysOut != "" {
		if err := writeLedger(*keysOut, res.Ledger); err != nil {
			return err
		}
	}
	return nil
}

func runCommand(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet("run", "run [connection flags] [-route53-zone ID [-addr-port ADDRESS=PORT ...]] [-rate R] [-workers N] [-duration D] [-count N] [-keys-out FILE] ...", env.stdout)
	var cf connFlags
	cf.register(fs)
	var rf route53Flags
	rf.register(fs)
	var cfg workload.Config
	fs.Float64Var(&cfg.Rate, "rate", 200, "`payments` per second offered, on a schedule shared by the workers")
	fs.IntVar(&cfg.Workers, "workers", 16, "concurrent payments (and pooled connections)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop offering payments after this long (0: until -count or SIGINT/SIGTERM)")
	fs.Int64Var(&cfg.Count, "count", 0, "stop after `N` payments (0: no limit)")
	fs.DurationVar(&cfg.RetryFor, "retry-for", 30*time.Second, "give a payment up as failed after retrying it this long")
	fs.DurationVar(&cfg.AttemptTimeout, "attempt-timeout", 5*time.Second, "bound on one attempt (connect, insert, commit)")
	fs.DurationVar(&cfg.ConnLifetime, "conn-lifetime", 10*time.Second, "renew pooled connections (resolving -host again) after this long")
	fs.IntVar(&cfg.RefundEvery, "refund-every", 50, "refund an earlier payment once every `N` payments (-1: never)")
	fs.DurationVar(&cfg.MaxBacklog, "max-backlog", time.Second, "drop schedule slots older than this while every worker is blocked")
	fs.StringVar(&cfg.RunID, "run-id", "", "idempotency key prefix (letters, digits, _ and .; default random)")
	fs.DurationVar(&cfg.ProgressEvery, "progress", 5*time.Second, "print a progress line this often (0: never)")
	keysOut := fs.String("keys-out", "", "write the attempted and acknowledged keys to `FILE`, for check")
	if err := fs.parse(args); err != nil {
		return helpIsDone(err)
	}
	conn, err := cf.resolve(fs, env.getenv)
	if err != nil {
		return err
	}
	if err := rf.apply(ctx, &conn); err != nil {
		return err
	}
	cfg.Conn = conn
	if err := positive("rate", cfg.Rate); err != nil {
		return err
	}
	if cfg.Workers <= 0 {
		return fmt.Errorf("%w -workers: must be at least 1, got %d", errFlag, cfg.Workers)
	}
	if cfg.ProgressEvery > 0 {
		cfg.Progress = env.stderr
	}
	if cfg.RefundEvery == 0 {
		cfg.RefundEvery = -1 // the flag's 0 means none too
	}
	rep, err := workload.Run(ctx, cfg)
	if err != nil {
		return flagError(err)
	}
	if err := rep.Print(env.stdout); err != nil {
		return err
	}
	if *keysOut != "" {
		if err := writeLedger(*keysOut, rep.Ledger); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "keys written to %s\n", *keysOut)
	}
	return nil
}

func checkCommand(ctx context.Context, env environment, args []string) error {
	fs := newFlagSet("check", "check [connection flags] -keys FILE [-keys FILE ...] [-wait D] [-timeout D]", env.stdout)
	var cf connFlags
	cf.register(fs)
	var keys stringsFlag
	fs.Var(&keys, "keys", "ledger `FILE` written by run or seed -keys-out (repeat for several runs)")
	wait := fs.Duration("wait", 0, "wait up to this long for every acknowledged payment to arrive (after replication)")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the check, waiting excluded")
	if err := fs.parse(args); err != nil {
		return helpIsDone(err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w -keys: required", errFlag)
	}
	conn, err := cf.resolve(fs, env.getenv)
	if err != nil {
		return err
	}
	conn.ApplicationName = "paymentload-check"
	if err := positive("timeout", *timeout); err != nil {
		return err
	}
	if *wait < 0 {
		return fmt.Errorf("%w -wait: must not be negative, got %s", errFlag, *wait)
	}
	ledger, err := readLedgers(keys)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout+*wait)
	defer cancel()
	pool, err := workload.OpenPool(ctx, conn, 1)
	if err != nil {
		return err
	}
	defer pool.Close()
	start := time.Now()
	rep, err := workload.CheckWait(ctx, pool, ledger, *wait)
	if err != nil {
		return err
	}
	if err := rep.Print(env.stdout); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "checked in %s\n", time.Since(start).Round(time.Millisecond))
	if !rep.OK() {
		return errCheckFailed
	}
	return nil
}

// helpIsDone turns -h into success.
func helpIsDone(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func positive[T int | int64 | float64 | time.Duration](name string, v T) error {
	if v <= 0 {
		return fmt.Errorf("%w -%s: must be positive, got %v", errFlag, name, v)
	}
	return nil
}
