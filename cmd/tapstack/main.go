// Command tapstack prints the CloudFormation template the operator deploys for a
// PaymentMigration, so people can review the exact template before applying,
// and the IAM policy the operator's manager needs:
//
//	tapstack synth -f paymentmigration.yaml [-o FILE] [--format json|yaml] [--region REGION]
//	tapstack policy [-f paymentmigration.yaml] [--stack-role-arn ARN | --stack-role] ...
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
  tapstack policy [-f FILE] [--account ID] [--region REGION] [--partition P]
                  [--stack-role-arn ARN | --stack-role] [--permissions-boundary-arn ARN]
                  [--split DIR]

synth prints the CloudFormation template of the PaymentMigration in FILE ("-"
reads standard input). The region is spec.region, else --region, else
AWS_REGION, else us-east-1 (the operator's rule).

policy prints the IAM policy document (JSON) the manager needs: its own AWS
calls, each scoped to the TapStack* stacks and their names where the service
allows it. --account, --region and --partition pin the ARNs (* when omitted:
any account, region, partition); the stack names are wildcards, so one policy
serves every migration. The resource types, roles and secrets come from the
template of FILE (its spec.region and spec.iam too), or, without -f, of a
migration with every optional part of the stack.

  CloudFormation creates the stack's resources (VPC, databases, DMS, roles...)
  with the credentials of the stack operation:
  (default)                     no service role: the policy adds what
                                CloudFormation needs for them, admitted only
                                through CloudFormation (aws:CalledVia)
  --stack-role-arn ARN          spec.iam.stackRoleARN is ARN: the manager only
                                passes that role to CloudFormation (the
                                least-privilege setup)
  --stack-role                  the service role's own permissions policy;
                                the role must trust cloudformation.amazonaws.com
  --permissions-boundary-arn ARN
                                spec.iam.permissionsBoundaryARN: roles are
                                created, and their policies changed, only with
                                that boundary on them
  --split DIR                   write the policy as DIR/tapstack-manager-N.json
                                (tapstack-stack-role-N.json), each within IAM's
                                6,144 characters of a managed policy, to attach
                                together; the manager's with a stack role fits
                                one, the others do not
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
	case "policy":
		return policy(ctx, args[1:], stdin, stdout)
	case "-h", "--help", "help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
}
