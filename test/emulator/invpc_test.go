package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/crdschema"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// The in-VPC runner through the emulator's ECS: RunTask runs the runner's
// script with the secrets the task definition names, its output lands in
// CloudWatch Logs, DescribeTasks shows the exit code. The databases are
// the emulated instances' real servers, and the watermark crosses by the
// DMS task's logical replication.
func TestInVPCRunnerThroughECSRunTask(t *testing.T) {
	mappings := `{"rules":[
	{"rule-type":"selection","rule-id":"1","rule-name":"payments","object-locator":{"schema-name":"public","table-name":"payments"},"rule-action":"include"},
	{"rule-type":"selection","rule-id":"2","rule-name":"watermark","object-locator":{"schema-name":"public","table-name":"` + naming.WatermarkTable + `"},"rule-action":"include"}]}`
	s := deployReplicationStackWith(t, map[string]string{"TableMappings": mappings})
	ctx := context.Background()
	cfg := sdkConfig(s.e)
	tables := `CREATE TABLE payments (id bigserial PRIMARY KEY, amount_cents bigint NOT NULL);
		CREATE TABLE ` + naming.WatermarkTable + ` (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now());`
	src, dst := s.db(t, "source"), s.db(t, "target")
	execSQL(t, src, tables+` INSERT INTO payments (amount_cents) SELECT g FROM generate_series(1, 77) g;`)
	execSQL(t, dst, tables)
	s.startTask(t, dmstypes.StartReplicationTaskTypeValueStartReplication)

	const role = "payments_app"
	appSecret, err := s.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app-db-invpc"),
		SecretString: aws.String(`{"username":"` + role + `","password":"app-pw-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	appARN := aws.ToString(appSecret.ARN)
	from := sqlrunner.Database{Side: "source", SecretARN: s.out["SourceSecretArn"]}
	to := sqlrunner.Database{Side: "target", SecretARN: s.out["TargetSecretArn"]}
	direct := &sqlrunner.Direct{Secrets: s.sm}
	t.Cleanup(func() { _ = direct.Close() })

	// The stack's own runner task definition (internal/tapstack), with this
	// test's secrets and log group for the stack's.
	ecsc, logs := ecs.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg)
	if _, err := ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("invpc")}); err != nil {
		t.Fatal(err)
	}
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/ecs/invpc")}); err != nil {
		t.Fatal(err)
	}
	td, err := ecsc.RegisterTaskDefinition(ctx, stackRunnerTaskDefinition(t, map[string]string{
		"SourceDatabaseSecret": from.SecretARN, "TargetDatabaseSecret": to.SecretARN, "AppDatabaseSecret": appARN, "ServiceLogGroup": "/ecs/invpc",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ec2c := ec2.NewFromConfig(cfg)
	subnets, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("subnets: %v", err)
	}
	groups, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil || len(groups.SecurityGroups) == 0 {
		t.Fatalf("security groups: %v", err)
	}
	tasks := &sqlrunner.ECSTasks{ECS: ecsc, Logs: logs, Cluster: "invpc", TaskDefinition: aws.ToString(td.TaskDefinition.TaskDefinitionArn),
		Container: tapstack.SQLRunnerContainer, Subnets: []string{aws.ToString(subnets.Subnets[0].SubnetId)}, SecurityGroups: []string{aws.ToString(groups.SecurityGroups[0].GroupId)}, LogGroup: "/ecs/invpc", StreamPrefix: tapstack.SQLRunnerStreamPrefix,
		Poll: 20 * time.Millisecond, LogSettle: 5 * time.Second}
	v := &sqlrunner.InVPC{Tasks: tasks, SourceSecretARN: from.SecretARN, TargetSecretARN: to.SecretARN, AppSecretARN: appARN}

	// The preflight's calls through RunTask: the application role from the
	// secret the task holds, and the catalog as Direct reads it.
	if err := v.EnsureAppRole(ctx, from, sqlrunner.AppRole{Name: role, SecretARN: appARN, Schema: "public", Tables: []string{"payments"}}); err != nil {
		t.Fatal(err)
	}
	req := sqlrunner.InspectRequest{Schema: "public", Patterns: []string{"pay%", "missing"}, MeasureLOBs: true}
	got, err := v.Inspect(ctx, from, req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := direct.Inspect(ctx, from, req)
	if err != nil || !reflect.DeepEqual(got, want) || len(got.Tables) != 1 || len(got.Unmatched) != 1 {
		t.Fatalf("the catalog through RunTask:\n%+v\ndirect (%v):\n%+v", got, err, want)
	}

	// One call, one task; the task is RUNNING while its script runs.
	res, err := tasks.RunScript(ctx, "echo 'TAPSTACK step=s begin'; sleep 1; echo 'TAPSTACK step=s ms=1'; echo 'TAPSTACK end'")
	if err != nil || res.ExitCode != 0 || !strings.Contains(strings.Join(res.Lines, "\n"), "TAPSTACK end") {
		t.Fatalf("a script: %+v %v", res, err)
	}
	fenced, err := v.FenceState(ctx, from, role)
	if err != nil || fenced {
		t.Fatalf("fence before the freeze: %t %v", fenced, err)
	}
	if res, err := tasks.RunScript(ctx, "echo bad; exit 3"); err != nil || res.ExitCode != 3 {
		t.Fatalf("a failing script: %+v %v", res, err)
	}
	if err := v.SetFence(ctx, from, "nobody_at_all", true); err == nil || !strings.Contains(err.Error(), "step s failed") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a failing step's error does not name it with the log: %v", err)
	}

	began := time.Now()
	rep, err := v.Freeze(ctx, sqlrunner.FreezePlan{From: from, To: to, AppSecretARN: appARN, Role: role, Schema: "public",
		Watermark: "invpc-1", Grace: time.Second, Timeout: 30 * time.Second, SequenceMargin: 1000})
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := json.Marshal(rep.Steps)
	t.Logf("one-task freeze: %s from RunTask to the logs read, %s inside the task; watermark seen after %s; steps %s", took.Round(time.Millisecond), rep.Took.Round(time.Millisecond), rep.WatermarkWait, steps)
	if !rep.Fenced || !rep.Confirmed || !rep.Drained || !rep.WatermarkWritten || !rep.Found || !rep.SequencesSynced || rep.Sequences != 1 {
		t.Fatalf("report %+v", rep)
	}
	if got := queryInt(t, dst, "SELECT last_value FROM payments_id_seq"); got != 77+1000 {
		t.Errorf("target sequence at %d, want %d", got, 77+1000)
	}
	if fenced, err := direct.FenceState(ctx, from, role); err != nil || !fenced {
		t.Errorf("the source's role is not fenced after the freeze: %t %v", fenced, err)
	}
	// The task's log is where the operator read it from.
	out, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/ecs/invpc"),
		LogStreamName: aws.String("sql-runner/sql-runner/" + lastPart(res.ID)), StartFromHead: aws.Bool(true)})
	if err != nil || len(out.Events) == 0 {
		t.Errorf("the first task's log stream: %v (%d events)", err, len(out.Events))
	}
}

func lastPart(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// stackRunnerTaskDefinition is the SQL runner's task definition as the
// TapStack of the sample with spec.sqlRunner.mode InVPC renders it, its
// references to the stack's resources replaced by refs (logical id ->
// value), as RegisterTaskDefinition input.
func stackRunnerTaskDefinition(t *testing.T, refs map[string]string) *ecs.RegisterTaskDefinitionInput {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "payments_v1alpha1_paymentmigration.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := crdschema.DecodePaymentMigration(context.Background(), manifest)
	if err != nil {
		t.Fatal(err)
	}
	pm.Spec.SQLRunner.Mode = v1alpha1.SQLRunnerInVPC
	tmpl, err := tapstack.Synthesize(pm.Spec, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(tmpl.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	var props map[string]any
	for _, r := range doc.Resources {
		if r.Type == "AWS::ECS::TaskDefinition" && strings.HasSuffix(fmt.Sprint(r.Properties["Family"]), "-sql-runner") {
			props = r.Properties
		}
	}
	if props == nil {
		t.Fatal("the TapStack with the in-VPC runner has no runner task definition")
	}
	delete(props, "ExecutionRoleArn") // the emulator's ECS resolves secrets itself
	resolved := resolveRefs(t, props, refs)
	raw, err := json.Marshal(resolved)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK's field names are CloudFormation's, up to case.
	var in ecs.RegisterTaskDefinitionInput
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	return &in
}

// resolveRefs replaces Ref and Fn::Sub of the given logical ids.
func resolveRefs(t *testing.T, v any, refs map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		if id, ok := v["Ref"].(string); ok && len(v) == 1 {
			if r, ok := refs[id]; ok {
				return r
			}
			t.Fatalf("no value for Ref %s", id)
		}
		if f, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
			for id, r := range refs {
				f = strings.ReplaceAll(f, "${"+id+"}", r)
			}
			if strings.Contains(f, "${") {
				t.Fatalf("unresolved reference in %q", f)
			}
			return f
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = resolveRefs(t, x, refs)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = resolveRefs(t, x, refs)
		}
		return out
	}
	return v
}
