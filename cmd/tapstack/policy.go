package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/crdschema"
	"github.com/tapstack/payment-migration-operator/internal/iampolicy"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// everyPart is the migration whose template the policy covers without -f:
// the defaults hold every optional part of the stack (the DMS service roles,
// the reverse path) but the alert e-mail's subscription, added here.
const everyPart = `apiVersion: payments.tapstack.io/v1alpha1
kind: PaymentMigration
metadata: {name: policy}
spec:
  environmentSuffix: policy
  alerts: {email: alerts@example.com}
`

type policyOptions struct {
	file, partition, region, account string
	stackRoleARN, boundaryARN        string
	forStackRole                     bool
	splitDir                         string
}

var (
	accountID = regexp.MustCompile(`^[0-9]{12}$`)
	partition = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	region    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`) // spec.region's pattern
)

func parsePolicyFlags(args []string) (policyOptions, error) {
	var o policyOptions
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.file, "f", "", "PaymentMigration manifest whose template, region and spec.iam the policy follows")
	fs.StringVar(&o.partition, "partition", "", "partition of the ARNs (aws, aws-cn, aws-us-gov...); * when omitted")
	fs.StringVar(&o.region, "region", "", "region of the ARNs; spec.region with -f, else *")
	fs.StringVar(&o.account, "account", "", "account id of the ARNs; * when omitted")
	fs.StringVar(&o.stackRoleARN, "stack-role-arn", "", "spec.iam.stackRoleARN: the manager passes this role instead of creating the resources")
	fs.StringVar(&o.boundaryARN, "permissions-boundary-arn", "", "spec.iam.permissionsBoundaryARN: roles are created only under it")
	fs.BoolVar(&o.forStackRole, "stack-role", false, "print the stack role's permissions policy instead of the manager's")
	fs.StringVar(&o.splitDir, "split", "", "write the policy as managed policies of at most 6,144 characters into this directory")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case o.account != "" && !accountID.MatchString(o.account):
		return o, fmt.Errorf("%w: --account must be a 12-digit account id, got %q", errUsage, o.account)
	case o.region != "" && !region.MatchString(o.region):
		return o, fmt.Errorf("%w: --region must be a region name such as us-east-1, got %q", errUsage, o.region)
	case o.partition != "" && !partition.MatchString(o.partition):
		return o, fmt.Errorf("%w: --partition must be aws or aws-<name>, got %q", errUsage, o.partition)
	case o.forStackRole && o.stackRoleARN != "":
		return o, fmt.Errorf("%w: --stack-role prints the role's own policy, --stack-role-arn the manager's; give one", errUsage)
	}
	return o, nil
}

// policy prints the manager's policy, or the stack role's with --stack-role.
func policy(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	o, err := parsePolicyFlags(args)
	if err != nil {
		return err
	}
	spec, err := policySpec(ctx, o, stdin)
	if err != nil {
		return err
	}
	if o.region == "" {
		o.region = spec.Region
	}
	roleARN := spec.IAM.StackRoleARN
	scope := iampolicy.Scope{Partition: o.partition, Region: o.region, Account: o.account}

	// The template's resource types, roles and references do not depend on
	// the region; a region is needed to synthesize it.
	synthRegion := o.region
	if synthRegion == "" {
		synthRegion = defaultRegion
	}
	t, err := tapstack.Synthesize(spec, synthRegion)
	if err != nil {
		return fmt.Errorf("synthesizing the template the policy covers: %w", err)
	}
	stack, err := iampolicy.Stack(scope, t.JSON(), iampolicy.StackOptions{
		ThroughCloudFormation:  !o.forStackRole,
		PermissionsBoundaryARN: spec.IAM.PermissionsBoundaryARN,
	})
	if err != nil {
		return err
	}

	var doc iampolicy.Document
	switch {
	case o.forStackRole:
		doc = stack
	case roleARN != "":
		doc = iampolicy.Manager(scope, roleARN)
	default:
		// No service role: CloudFormation creates the resources with the
		// manager's credentials, through the stack only.
		doc = iampolicy.Manager(scope, "")
		doc.Statement = append(doc.Statement, stack.Statement...)
	}
	if o.splitDir != "" {
		name := "tapstack-manager"
		if o.forStackRole {
			name = "tapstack-stack-role"
		}
		return writeParts(doc, o.splitDir, name, stdout)
	}
	b, err := doc.JSON()
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// writeParts writes doc as managed policies that each fit IAM's limit, as
// dir/name-1.json, name-2.json..., and prints their paths.
func writeParts(doc iampolicy.Document, dir, name string, stdout io.Writer) error {
	parts, err := doc.Split(iampolicy.ManagedPolicyMaxSize)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for i, p := range parts {
		b, err := p.JSON()
		if err != nil {
			return err
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.json", name, i+1))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("writing policy: %w", err)
		}
		if _, err := fmt.Fprintln(stdout, path); err != nil {
			return err
		}
	}
	return nil
}

// policySpec is the defaulted spec of -f, or of everyPart, with the
// spec.iam fields the flags name: the CRD's own rules validate them.
func policySpec(ctx context.Context, o policyOptions, stdin io.Reader) (v1alpha1.PaymentMigrationSpec, error) {
	manifest, source := []byte(everyPart), "the built-in migration"
	if o.file != "" {
		var err error
		if manifest, err = readManifest(o.file, stdin); err != nil {
			return v1alpha1.PaymentMigrationSpec{}, err
		}
		source = o.file
	}
	manifest, err := withIAM(manifest, o.stackRoleARN, o.boundaryARN)
	if err != nil {
		return v1alpha1.PaymentMigrationSpec{}, fmt.Errorf("%s: %w", source, err)
	}
	pm, err := crdschema.DecodePaymentMigration(ctx, manifest)
	if err != nil {
		return v1alpha1.PaymentMigrationSpec{}, fmt.Errorf("%s: %w", source, err)
	}
	return pm.Spec, nil
}

// withIAM sets spec.iam.stackRoleARN and spec.iam.permissionsBoundaryARN of
// manifest to the values that are not empty.
func withIAM(manifest []byte, roleARN, boundaryARN string) ([]byte, error) {
	if roleARN == "" && boundaryARN == "" {
		return manifest, nil
	}
	var obj map[string]any
	if err := yaml.Unmarshal(manifest, &obj); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	for field, value := range map[string]string{"stackRoleARN": roleARN, "permissionsBoundaryARN": boundaryARN} {
		if value == "" {
			continue
		}
		if err := unstructured.SetNestedField(obj, value, "spec", "iam", field); err != nil {
			return nil, fmt.Errorf("setting spec.iam.%s: %w", field, err)
		}
	}
	return yaml.Marshal(obj)
}
