package iampolicy

import (
	"strings"
	"testing"
)

// managerPackage is the manager binary: what it links is what its role runs.
const managerPackage = "github.com/tapstack/payment-migration-operator/cmd/manager"

// servicePrefixes maps an SDK service package to its IAM service prefix. A
// package missing here fails the test, so a new service is mapped by
// someone who looked its prefix up.
var servicePrefixes = map[string]string{
	"applicationautoscaling":   "application-autoscaling",
	"cloudformation":           "cloudformation",
	"cloudwatch":               "cloudwatch",
	"cloudwatchlogs":           "logs",
	"databasemigrationservice": "dms",
	"ec2":                      "ec2",
	"ecs":                      "ecs",
	"elasticloadbalancingv2":   "elasticloadbalancing",
	"iam":                      "iam",
	"kms":                      "kms",
	"rds":                      "rds",
	"route53":                  "route53",
	"s3":                       "s3",
	"secretsmanager":           "secretsmanager",
	"sns":                      "sns",
	"sts":                      "sts",
}

// actionsOf are the operations whose IAM actions are not their API name
// (the service authorization reference's "API operations" tables). An entry
// the manager no longer calls fails the test, so the table stays true.
var actionsOf = map[string][]string{
	// S3 authorizes bucket reads as ListBucket and version listings as
	// ListBucketVersions; a multi-object delete is authorized per object, as
	// DeleteObject and, for the version ids the emptier always sends,
	// DeleteObjectVersion.
	"s3:HeadBucket":           {"s3:ListBucket"},
	"s3:ListObjectVersions":   {"s3:ListBucketVersions"},
	"s3:DeleteObjects":        {"s3:DeleteObject", "s3:DeleteObjectVersion"},
	"s3:PutBucketEncryption":  {"s3:PutEncryptionConfiguration"},
	"s3:PutPublicAccessBlock": {"s3:PutBucketPublicAccessBlock"},
	// STS answers GetCallerIdentity to every caller; no policy can deny it.
	"sts:GetCallerIdentity": {},
}

// testStackRole stands for spec.iam.stackRoleARN, so that the manager's
// policy holds every statement it can hold.
const testStackRole = "arn:aws:iam::123456789012:role/tapstack-cloudformation"

// The manager's policy allows exactly what the manager's code calls, found
// by static analysis of every package the manager links, plus the actions AWS
// authorizes on its behalf (ImplicitActions): a call added anywhere without
// its action, or an action left behind by a removed call, fails here, naming
// it.
func TestManagerPolicyAllowsExactlyWhatTheManagerCalls(t *testing.T) {
	calls, err := sdkCallsOf(managerPackage)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 {
		t.Fatal("static analysis found no AWS call in the manager; the analysis is broken")
	}

	needed := map[string]string{} // action → why
	used := map[string]bool{}
	for _, key := range sortedKeys(calls) {
		c := calls[key]
		prefix, ok := servicePrefixes[c.Service]
		if !ok {
			t.Errorf("%s.%s (%s): no IAM prefix for SDK package %s; add it to servicePrefixes", c.Service, c.Operation, c.Where, c.Service)
			continue
		}
		op := prefix + ":" + c.Operation
		actions, renamed := actionsOf[op]
		if !renamed {
			actions = []string{op}
		}
		used[op] = true
		for _, a := range actions {
			needed[a] = c.Service + "." + c.Operation + " at " + c.Where
		}
	}
	for a, why := range ImplicitActions {
		needed[a] = why
	}

	allowed := map[string]bool{}
	for _, a := range Manager(Scope{}, testStackRole).Actions() {
		allowed[a] = true
	}
	for _, a := range sortedKeys(needed) {
		if !allowed[a] {
			t.Errorf("the policy does not allow %s, which the manager needs: %s", a, needed[a])
		}
	}
	for _, a := range sortedKeys(allowed) {
		if _, ok := needed[a]; !ok {
			t.Errorf("the policy allows %s, which no call of the manager needs; remove it, or name it in ImplicitActions with the reason", a)
		}
	}
	for _, op := range sortedKeys(actionsOf) {
		if !used[op] {
			t.Errorf("actionsOf maps %s, which the manager does not call; remove the entry", op)
		}
	}
}

// The analysis finds calls through the project's narrow interfaces and the
// SDK's paginators, not only on concrete clients: the interface call of the
// emptier and the paginators of the stack events and the DMS tasks are among
// what it reports.
func TestStaticAnalysisSeesInterfaceAndPaginatorCalls(t *testing.T) {
	calls, err := sdkCallsOf(managerPackage)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ key, dir string }{
		{"s3.DeleteObjects", "internal/buckets/"},                                         // buckets.API, an interface
		{"cloudformation.DescribeStackEvents", "internal/cfnstack/"},                      // NewDescribeStackEventsPaginator
		{"databasemigrationservice.DescribeReplicationTasks", "internal/replicationaws/"}, // NewDescribeReplicationTasksPaginator
		{"secretsmanager.GetSecretValue", "internal/existingsource/"},                     // existingsource's interface
	} {
		c, ok := calls[want.key]
		if !ok {
			t.Errorf("%s not found", want.key)
			continue
		}
		if !strings.HasPrefix(c.Where, want.dir) {
			t.Errorf("%s found at %s, want in %s", want.key, c.Where, want.dir)
		}
	}
}

// The manager passes two roles, each to one service only: the stack's task
// execution role to ECS (the in-VPC SQL runner's RunTask), and, with a
// stack role, that role to CloudFormation.
func TestManagerPassesOnlyTheStackRoleToCloudFormationOnly(t *testing.T) {
	passes := func(d Document) map[string]Statement {
		out := map[string]Statement{}
		for _, s := range d.Statement {
			for _, a := range s.Action {
				if a == "iam:PassRole" {
					out[s.Sid] = s
				}
			}
		}
		return out
	}
	check := func(p Statement, role, service string) {
		t.Helper()
		if len(p.Resource) != 1 || p.Resource[0] != role {
			t.Errorf("%s: PassRole on %v, want only %s", p.Sid, p.Resource, role)
		}
		if got := p.Condition["StringEquals"]["iam:PassedToService"]; len(got) != 1 || got[0] != service {
			t.Errorf("%s: PassRole to %v, want %s only", p.Sid, got, service)
		}
	}
	executionRole := Scope{}.iamRole(every.ExecutionRole())
	without := passes(Manager(Scope{}, ""))
	if len(without) != 1 {
		t.Fatalf("without a stack role %d statements allow iam:PassRole, want 1 (the task execution role): %v", len(without), without)
	}
	check(without["PassTaskExecutionRoleToECS"], executionRole, "ecs-tasks.amazonaws.com")
	with := passes(Manager(Scope{}, testStackRole))
	if len(with) != 2 {
		t.Fatalf("%d statements allow iam:PassRole, want 2", len(with))
	}
	check(with["PassStackRoleToCloudFormation"], testStackRole, "cloudformation.amazonaws.com")
	check(with["PassTaskExecutionRoleToECS"], executionRole, "ecs-tasks.amazonaws.com")
}

// No statement of the manager is unscoped unless the service has no
// resource-level permissions for every action in it.
func TestManagerWildcardResourcesOnlyWhereTheServiceAllowsNoOther(t *testing.T) {
	unscopable := map[string]bool{
		"dms:DescribeReplicationTasks": true, "dms:DescribeReplicationInstances": true, "dms:DescribeConnections": true,
		"cloudwatch:GetMetricData": true, "ec2:DescribeManagedPrefixLists": true,
	}
	for _, s := range Manager(Scope{}, testStackRole).Statement {
		for _, r := range s.Resource {
			if r != "*" {
				continue
			}
			for _, a := range s.Action {
				if !unscopable[a] {
					t.Errorf("%s: %s on every resource", s.Sid, a)
				}
			}
		}
	}
}
