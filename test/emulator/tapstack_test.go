package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/crdschema"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// CloudFormation takes at most this much as TemplateBody; bigger templates go
// through S3 and TemplateURL, as the operator must do with the real TapStack.
const maxTemplateBody = 51200

// TestSampleTapStackRoundTrip synthesizes the TapStack of the sample
// PaymentMigration, deploys it unchanged through the emulator's CloudFormation,
// runs the runbook commands of its outputs as printed, deletes it and checks
// that nothing of it is left in any service.
func TestSampleTapStackRoundTrip(t *testing.T) {
	requireCLI(t)
	manifest, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "payments_v1alpha1_paymentmigration.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := crdschema.DecodePaymentMigration(context.Background(), manifest)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := tapstack.Synthesize(pm.Spec, pm.Spec.Region)
	if err != nil {
		t.Fatal(err)
	}
	body := tmpl.JSON()
	var parsed struct {
		Resources map[string]struct{ Type string }
		Outputs   map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &parsed); err != nil {
		t.Fatal(err)
	}
	stack := "TapStack" + pm.Spec.EnvironmentSuffix
	t.Logf("%s: %d resources, %d outputs, %d bytes", stack, len(parsed.Resources), len(parsed.Outputs), len(body))

	e := StartT(t)
	file := filepath.Join(t.TempDir(), "tapstack.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	source := []string{"--template-body", "file://" + file}
	if len(body) > maxTemplateBody {
		run(t, e, nil, "s3api", "create-bucket", "--bucket", "tapstack-templates")
		run(t, e, nil, "s3api", "put-object", "--bucket", "tapstack-templates", "--key", "tapstack.json", "--body", file)
		source = []string{"--template-url", "https://tapstack-templates.s3.amazonaws.com/tapstack.json"}
	}

	// The template's one parameter, looked up as its description says (and as
	// the operator does): the Route 53 health checkers' AWS-managed prefix list.
	prefixListName := tapstack.Route53HealthChecksPrefixList(pm.Spec.Region)
	var prefixListIDs []string
	run(t, e, &prefixListIDs, "ec2", "describe-managed-prefix-lists", "--region", pm.Spec.Region,
		"--filters", "Name=prefix-list-name,Values="+prefixListName, "--query", "PrefixLists[?OwnerId=='AWS'].PrefixListId")
	if len(prefixListIDs) != 1 || !strings.HasPrefix(prefixListIDs[0], "pl-") {
		t.Fatalf("prefix list %s: ids %v, want one", prefixListName, prefixListIDs)
	}
	source = append(source, "--parameters", "ParameterKey="+tapstack.ParamRoute53HealthCheckPrefixList+",ParameterValue="+prefixListIDs[0])

	began := time.Now()
	run(t, e, nil, append([]string{"cloudformation", "create-stack", "--stack-name", stack, "--capabilities", "CAPABILITY_NAMED_IAM"}, source...)...)
	stackID := waitStack(t, e, stack, "CREATE_COMPLETE")
	t.Logf("CREATE_COMPLETE after %s", time.Since(began).Round(time.Millisecond))

	// Every resource of the template exists, with a physical id.
	var resources []struct{ LogicalResourceId, ResourceType, PhysicalResourceId string }
	run(t, e, &resources, "cloudformation", "describe-stack-resources", "--stack-name", stack, "--query", "StackResources")
	seen := map[string]bool{}
	for _, r := range resources {
		seen[r.LogicalResourceId] = true
		if r.PhysicalResourceId == "" && r.ResourceType != "AWS::EC2::SecurityGroupIngress" {
			t.Errorf("%s (%s) has no physical id", r.LogicalResourceId, r.ResourceType)
		}
	}
	var missing []string
	for id, r := range parsed.Resources {
		if !seen[id] {
			missing = append(missing, id+" ("+r.Type+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("resources the emulator did not create: %v", missing)
	}

	// Every output resolved to a value, none to a raw intrinsic function.
	out := outputs(t, e, stack)
	if len(out) != len(parsed.Outputs) {
		t.Errorf("%d outputs, template has %d", len(out), len(parsed.Outputs))
	}
	for k, v := range out {
		if v == "" || strings.Contains(v, "Fn::") || strings.Contains(v, `"Ref"`) {
			t.Errorf("output %s = %q is not resolved", k, v)
		}
	}

	// The ALB admits the service port from the health checkers' prefix list and
	// the VPC only.
	var albIngress []struct {
		FromPort      int
		IpRanges      []struct{ CidrIp string }
		PrefixListIds []struct{ PrefixListId string }
	}
	run(t, e, &albIngress, "ec2", "describe-security-groups", "--filters", "Name=group-name,Values=alb-sg-"+pm.Spec.EnvironmentSuffix,
		"--query", "SecurityGroups[0].IpPermissions")
	if len(albIngress) != 1 || albIngress[0].FromPort != 80 || len(albIngress[0].IpRanges) != 1 || albIngress[0].IpRanges[0].CidrIp != pm.Spec.Network.VPCCIDR ||
		len(albIngress[0].PrefixListIds) != 1 || albIngress[0].PrefixListIds[0].PrefixListId != prefixListIDs[0] {
		t.Errorf("ALB ingress = %+v, want 80 from %s and %s only", albIngress, pm.Spec.Network.VPCCIDR, prefixListIDs[0])
	}

	// The task's tables exist on the source (the emulated task replicates them
	// for real, and fails when its selection rules find none).
	createMappedTables(t, e, out)

	// The runbook commands work as printed, in the order an operator runs them.
	for _, key := range []string{
		"DMSTaskStatusCommand", "DMSStartTaskCommand", "HealthCheckStatusCommand",
		"Route53Step10PercentCommand", "Route53Step25PercentCommand", "Route53Step50PercentCommand",
		"Route53Step100PercentCommand", "Route53RollbackToSourceCommand", "DMSStopTaskCommand",
	} {
		if out[key] == "" {
			t.Errorf("output %s missing", key)
			continue
		}
		runPrinted(t, e, key, out[key])
	}
	var weights []struct {
		SetIdentifier string
		Weight        int
	}
	run(t, e, &weights, "route53", "list-resource-record-sets", "--hosted-zone-id", out["HostedZoneId"],
		"--query", "ResourceRecordSets[?SetIdentifier!=null]")
	for _, w := range weights {
		if want := map[string]int{"source": 100, "target": 0}[w.SetIdentifier]; w.Weight != want {
			t.Errorf("after rollback, %s weight %d, want %d", w.SetIdentifier, w.Weight, want)
		}
	}

	began = time.Now()
	run(t, e, nil, "cloudformation", "delete-stack", "--stack-name", stack)
	waitStack(t, e, stackID, "DELETE_COMPLETE")
	t.Logf("DELETE_COMPLETE after %s", time.Since(began).Round(time.Millisecond))
	for _, c := range [][]string{
		{"ec2", "describe-vpcs", "--query", "Vpcs[?!IsDefault]"},
		{"ec2", "describe-subnets", "--query", "Subnets[?!DefaultForAz]"},
		{"ec2", "describe-nat-gateways", "--query", "NatGateways[?State!='deleted']"},
		{"ec2", "describe-addresses", "--query", "Addresses"},
		{"ec2", "describe-internet-gateways", "--query", "InternetGateways"},
		{"ec2", "describe-security-groups", "--query", "SecurityGroups[?GroupName!='default']"},
		{"iam", "list-roles", "--query", "Roles"},
		{"rds", "describe-db-instances", "--query", "DBInstances"},
		{"secretsmanager", "list-secrets", "--query", "SecretList"},
		{"dms", "describe-replication-tasks", "--query", "ReplicationTasks"},
		{"dms", "describe-replication-instances", "--query", "ReplicationInstances"},
		{"dms", "describe-endpoints", "--query", "Endpoints"},
		{"s3api", "list-buckets", "--query", "Buckets[?Name!='tapstack-templates']"},
		{"elbv2", "describe-load-balancers", "--query", "LoadBalancers"},
		{"elbv2", "describe-target-groups", "--query", "TargetGroups"},
		{"route53", "list-hosted-zones", "--query", "HostedZones"},
		{"route53", "list-health-checks", "--query", "HealthChecks"},
		{"cloudwatch", "describe-alarms", "--query", "MetricAlarms"},
		{"cloudwatch", "list-dashboards", "--query", "DashboardEntries"},
		{"sns", "list-topics", "--query", "Topics"},
		{"sns", "list-subscriptions", "--query", "Subscriptions"},
		{"logs", "describe-log-groups", "--query", "logGroups"},
		{"application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs", "--query", "ScalableTargets"},
		{"ecs", "describe-clusters", "--clusters", out["EcsClusterName"], "--query", "clusters[?status=='ACTIVE']"},
	} {
		expectCount(t, e, 0, c...)
	}
}

// runPrinted runs a command exactly as a stack output prints it, through the
// shell, with only the environment pointing it at the emulator.
func runPrinted(t *testing.T, e *Emulator, name, command string) {
	t.Helper()
	if !strings.HasPrefix(command, "aws ") {
		t.Errorf("%s = %q is not an aws command", name, command)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(withoutAWS(os.Environ()), e.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s as printed failed: %v\n%s\n%s", name, err, command, out)
	}
}

// TestFailedCreateRollsBack checks the stack lifecycle the operator relies on:
// a resource that fails makes the stack ROLLBACK_COMPLETE with the failing
// resource and its reason in the events, nothing created stays behind, and
// the rolled-back stack can be deleted.
func TestFailedCreateRollsBack(t *testing.T) {
	requireCLI(t)
	e := StartT(t)
	const template = `{"Resources":{
	  "Secret":{"Type":"AWS::SecretsManager::Secret","Properties":{"Name":"rollback-secret","GenerateSecretString":{}}},
	  "Attachment":{"Type":"AWS::SecretsManager::SecretTargetAttachment","Properties":{
	    "SecretId":{"Ref":"Secret"},"TargetId":"rds-does-not-exist","TargetType":"AWS::RDS::DBInstance"}}}}`
	run(t, e, nil, "cloudformation", "create-stack", "--stack-name", "TapStackfail", "--template-body", template)
	stackID := waitStack(t, e, "TapStackfail", "ROLLBACK_COMPLETE")

	var events []struct{ LogicalResourceId, ResourceStatus, ResourceStatusReason string }
	run(t, e, &events, "cloudformation", "describe-stack-events", "--stack-name", "TapStackfail", "--query", "StackEvents")
	found := false
	for _, ev := range events {
		if ev.LogicalResourceId == "Attachment" && ev.ResourceStatus == "CREATE_FAILED" &&
			strings.Contains(ev.ResourceStatusReason, "rds-does-not-exist") {
			found = true
		}
	}
	if !found {
		t.Errorf("no CREATE_FAILED event naming Attachment and its reason: %+v", events)
	}
	expectCount(t, e, 0, "secretsmanager", "list-secrets", "--query", "SecretList")

	run(t, e, nil, "cloudformation", "delete-stack", "--stack-name", "TapStackfail")
	waitStack(t, e, stackID, "DELETE_COMPLETE")
}

// createMappedTables creates, on the source database, one table for each
// selection rule of the stack's task (a % becomes "01"), as the workload's
// schema would be.
func createMappedTables(t *testing.T, e *Emulator, out map[string]string) {
	t.Helper()
	var mappings []string
	run(t, e, &mappings, "dms", "describe-replication-tasks", "--filters", "Name=replication-task-arn,Values="+out[tapstack.OutputDMSTaskArn],
		"--query", "ReplicationTasks[].TableMappings")
	if len(mappings) != 1 {
		t.Fatalf("table mappings = %v, want one task", mappings)
	}
	var parsed struct {
		Rules []struct {
			RuleType      string `json:"rule-type"`
			RuleAction    string `json:"rule-action"`
			ObjectLocator struct {
				Schema string `json:"schema-name"`
				Table  string `json:"table-name"`
			} `json:"object-locator"`
		}
	}
	if err := json.Unmarshal([]byte(mappings[0]), &parsed); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(secretValue(t, e, out["SourceDbSecretArn"]))
	var sec dbSecret
	if err := json.Unmarshal(raw, &sec); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, sec)
	for _, r := range parsed.Rules {
		if r.RuleType != "selection" || r.RuleAction == "exclude" {
			continue
		}
		schema := strings.ReplaceAll(r.ObjectLocator.Schema, "%", "public")
		table := strings.ReplaceAll(r.ObjectLocator.Table, "%", "01")
		execSQL(t, conn, fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %q; CREATE TABLE IF NOT EXISTS %q.%q (id bigint PRIMARY KEY, v text)`, schema, schema, table))
	}
}
