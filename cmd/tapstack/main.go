// Command tapstack prints the CloudFormation template the operator deploys for a
// PaymentMigration, so people can review the exact template before applying:
//
//	tapstack synth -f paymentmigration.yaml [-o FILE] [--format json|yaml] [--region REGION]
//
// The manifest is the very YAML users `kubectl apply`; it is defaulted and
// validated by the CRD's own schema (as the API server does) before synthesis.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `Usage:
  tapstack synth -f FILE [-o FILE] [--format json|yaml] [--region REGION]

Prints the CloudFormation template of the PaymentMigration in FILE ("-" reads
standard input). The region is spec.region, else --region, else AWS_REGION,
else us-east-1 (the operator's rule).
`

// errUsage marks command-line mistakes, reported with the usage text.
var errUsage = errors.New("usage")

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "tapstack:", err)
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing command", errUsage)
	}
	switch args[0] {
	case "synth":
		return synth(ctx, args[1:], stdin, stdout, getenv)
	case "-h", "--help", "help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
}
