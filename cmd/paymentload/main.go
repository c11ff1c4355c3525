// Command paymentload is the payment workload of the migration tests and the
// demo: it seeds the sample schema, writes payments at a fixed rate through
// the writer host name (resolved on every new connection, so a cutover's flip
// is followed), and checks the ledger of acknowledged payments against a
// database:
//
//	paymentload seed  -host H -user U -dbname D [-rows N] [-keys-out FILE]
//	paymentload run   -host H -user U -dbname D [-rate 200] [-duration 1m] [-keys-out FILE]
//	paymentload check -host H -user U -dbname D -keys FILE [-wait 2m]
//
// check exits 1 when an acknowledged payment is lost or duplicated.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage:
  paymentload seed  [connection flags] [-rows N] [-methods N] [-keys-out FILE] [-timeout D]
  paymentload run   [connection flags] [-rate R] [-workers N] [-duration D] [-count N] [-keys-out FILE] ...
  paymentload check [connection flags] -keys FILE [-keys FILE ...] [-wait D] [-timeout D]

seed   creates the sample payments schema (idempotent) and pre-fills payments.
run    writes payments at a fixed rate, retrying like a real service with the
       same idempotency key, and prints its figures (rate, latency, errors,
       longest write-unavailable window); SIGINT/SIGTERM stop it.
check  compares a ledger of keys (from run or seed -keys-out) with a database:
       exits 1 on any lost or duplicated payment.

"paymentload COMMAND -h" explains each flag.
`

// errUsage marks command-line mistakes, reported with the usage text.
var errUsage = errors.New("usage")

// errCheckFailed is a ledger check that found a problem (already printed).
var errCheckFailed = errors.New("ledger check failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "paymentload:", err)
		fmt.Fprint(stderr, usage)
		return 2
	case errors.Is(err, errFlag):
		fmt.Fprintln(stderr, "paymentload:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "paymentload:", err)
		return 1
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing command", errUsage)
	}
	env := environment{stdout: stdout, stderr: stderr, getenv: getenv}
	switch args[0] {
	case "seed":
		return seedCommand(ctx, env, args[1:])
	case "run":
		return runCommand(ctx, env, args[1:])
	case "check":
		return checkCommand(ctx, env, args[1:])
	case "-h", "--help", "help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
}

// environment is what a command reads and writes besides its flags.
type environment struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}
