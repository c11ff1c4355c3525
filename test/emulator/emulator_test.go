package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartServesAndCloseStopsTheProcessGroup(t *testing.T) {
	e, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ready at %s in %s", e.Endpoint(), e.StartupTime())
	if !strings.HasPrefix(e.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("endpoint %q is not on 127.0.0.1", e.Endpoint())
	}
	var health struct{ OK bool }
	if err := e.Control(context.Background(), "GET", "health", nil, &health); err != nil || !health.OK {
		t.Fatalf("control health: %v %+v", err, health)
	}
	env := strings.Join(e.Env(), " ")
	for _, want := range []string{"AWS_ENDPOINT_URL=" + e.Endpoint(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_REGION=us-east-1"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %s", want)
		}
	}
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		t.Error("Start set AWS_ENDPOINT_URL in the test process")
	}

	pid := e.Pid()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Close (kill -0: %v)", pid, err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestGapTemplateRoundTrip deploys testdata/gaps.yaml - every resource type and
// attribute moto's CloudFormation lacks on its own - through the real
// CloudFormation API, checks each resource through its own service's API,
// updates it through a change set, deletes it and checks the objects are gone.
func TestGapTemplateRoundTrip(t *testing.T) {
	requireCLI(t)
	e := StartT(t)
	const stack = "TapStackharness"

	began := time.Now()
	run(t, e, nil, "cloudformation", "create-stack", "--stack-name", stack,
		"--capabilities", "CAPABILITY_NAMED_IAM", "--template-body", "file://testdata/gaps.yaml")
	stackID := waitStack(t, e, stack, "CREATE_COMPLETE")
	t.Logf("CREATE_COMPLETE after %s", time.Since(began).Round(time.Millisecond))
	out := outputs(t, e, stack)

	// DMS: Ref is the ARN, ending in a resource id rather than the identifier.
	for _, key := range []string{"DmsTaskArn", "DmsInstanceArn"} {
		arn := out[key]
		if !strings.HasPrefix(arn, "arn:aws:dms:us-east-1:") || strings.Contains(arn, "harness") {
			t.Errorf("%s = %q, want an ARN ending in a resource id", key, arn)
		}
	}
	var tasks []struct {
		ReplicationTaskArn, Status, MigrationType, ReplicationInstanceArn string
	}
	run(t, e, &tasks, "dms", "describe-replication-tasks", "--query", "ReplicationTasks")
	if len(tasks) != 1 || tasks[0].ReplicationTaskArn != out["DmsTaskArn"] || tasks[0].Status != "ready" ||
		tasks[0].MigrationType != "full-load-and-cdc" || tasks[0].ReplicationInstanceArn != out["DmsInstanceArn"] {
		t.Errorf("replication tasks = %+v, want the stack's task, ready", tasks)
	}
	var endpoints []struct {
		EndpointType, Status string
		PostgreSQLSettings   struct{ SecretsManagerSecretId string }
	}
	run(t, e, &endpoints, "dms", "describe-endpoints", "--query", "Endpoints")
	if len(endpoints) != 2 {
		t.Errorf("endpoints = %+v, want source and target", endpoints)
	}
	for _, ep := range endpoints {
		if ep.Status != "active" || ep.PostgreSQLSettings.SecretsManagerSecretId != out["SecretArn"] {
			t.Errorf("endpoint %+v: want active, credentials from %s", ep, out["SecretArn"])
		}
	}
	expectCount(t, e, 1, "dms", "describe-replication-instances", "--query", "ReplicationInstances")
	expectCount(t, e, 1, "dms", "describe-replication-subnet-groups", "--query", "ReplicationSubnetGroups")

	// Secrets Manager: generated password, connection fields from the attachment,
	// and the same credentials resolved into the instance by dynamic references.
	// The instance is a real PostgreSQL server on its own loopback address
	// (127.0.0.2 onwards, never 127.0.0.1, the emulator's): the secret, the
	// endpoint and GetAtt name its address and port.
	server, err := e.Server(context.Background(), "rds-source-harness")
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(server.Host); ip == nil || ip.To4() == nil || !ip.IsLoopback() || server.Host == "127.0.0.1" || server.Port == 0 || !server.Running || server.DBName != "payments" || server.MasterUsername != "paymentsadmin" {
		t.Errorf("database server = %+v, want a running server on its own 127.0.0.0/8 address with database payments", server)
	}
	secret := secretValue(t, e, out["SecretArn"])
	if len(secret["password"].(string)) != 32 || secret["username"] != "paymentsadmin" ||
		secret["host"] != out["DbEndpoint"] || secret["host"] != server.Host || secret["port"] != float64(server.Port) ||
		secret["dbname"] != "payments" || secret["engine"] != "postgres" {
		t.Errorf("secret = %v, want generated password and host/port/dbname", secret)
	}
	if out["AttachedSecretArn"] != out["SecretArn"] {
		t.Errorf("Ref SecretTargetAttachment = %q, want the secret ARN", out["AttachedSecretArn"])
	}
	var db []struct {
		MasterUsername string
		Endpoint       struct {
			Address string
			Port    int
		}
		DBParameterGroups []struct{ DBParameterGroupName string }
	}
	run(t, e, &db, "rds", "describe-db-instances", "--query", "DBInstances")
	if len(db) != 1 || db[0].MasterUsername != "paymentsadmin" || db[0].Endpoint.Port != server.Port || db[0].Endpoint.Address != server.Host ||
		len(db[0].DBParameterGroups) != 1 || db[0].DBParameterGroups[0].DBParameterGroupName != out["DbParameterGroupName"] {
		t.Errorf("db instances = %+v, want user from the secret, %s:%d, parameter group %s", db, server.Host, server.Port, out["DbParameterGroupName"])
	}

	// S3 bucket policy.
	var policy string
	run(t, e, &policy, "s3api", "get-bucket-policy", "--bucket", out["BucketName"], "--query", "Policy")
	if !strings.Contains(policy, "aws:SecureTransport") {
		t.Errorf("bucket policy = %s, want the TLS-only statement", policy)
	}

	// Application Auto Scaling.
	var policies []struct {
		PolicyName                               string
		TargetTrackingScalingPolicyConfiguration struct{ TargetValue float64 }
	}
	run(t, e, &policies, "application-autoscaling", "describe-scaling-policies", "--service-namespace", "ecs", "--query", "ScalingPolicies")
	if got := targets(policies); got != "cpu-harness=70 memory-harness=80" {
		t.Errorf("scaling policies = %s, want cpu 70 and memory 80", got)
	}
	var scalable []struct{ MinCapacity, MaxCapacity int }
	run(t, e, &scalable, "application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs", "--query", "ScalableTargets")
	if len(scalable) != 1 || scalable[0].MinCapacity != 2 || scalable[0].MaxCapacity != 10 {
		t.Errorf("scalable targets = %+v, want 2..10", scalable)
	}

	// CloudWatch alarm: dimension is the task ARN's resource id.
	alarm := lagAlarm(t, e)
	taskID := out["DmsTaskArn"][strings.LastIndex(out["DmsTaskArn"], ":")+1:]
	if alarm.AlarmArn != out["AlarmArn"] || alarm.Threshold != 60 || !strings.Contains(alarm.Dimensions, taskID) {
		t.Errorf("alarm = %+v, want threshold 60 on task %s", alarm, taskID)
	}

	// SNS subscription.
	var subs []struct{ SubscriptionArn, Protocol, Endpoint string }
	run(t, e, &subs, "sns", "list-subscriptions", "--query", "Subscriptions")
	if len(subs) != 1 || subs[0].SubscriptionArn != out["SubscriptionArn"] || subs[0].Protocol != "email" {
		t.Errorf("subscriptions = %+v, want the e-mail subscription", subs)
	}

	// ELBv2 GetAtt values match what the ELB API reports.
	var lbs []struct{ CanonicalHostedZoneId, LoadBalancerArn string }
	run(t, e, &lbs, "elbv2", "describe-load-balancers", "--query", "LoadBalancers")
	if len(lbs) != 1 || lbs[0].CanonicalHostedZoneId != out["AlbCanonicalHostedZoneId"] ||
		!strings.HasSuffix(lbs[0].LoadBalancerArn, "loadbalancer/"+out["AlbFullName"]) {
		t.Errorf("load balancers = %+v, outputs %s / %s", lbs, out["AlbCanonicalHostedZoneId"], out["AlbFullName"])
	}
	if !strings.HasPrefix(out["TargetGroupFullName"], "targetgroup/tg-target-harness/") || out["TargetGroupName"] != "tg-target-harness" {
		t.Errorf("target group attributes = %q, %q", out["TargetGroupFullName"], out["TargetGroupName"])
	}

	// Route 53: private zone, records with the trailing dot, one per set id.
	var zone struct {
		HostedZone struct{ Config struct{ PrivateZone bool } }
		VPCs       []struct{ VPCId string }
	}
	run(t, e, &zone, "route53", "get-hosted-zone", "--id", out["HostedZoneId"])
	if !zone.HostedZone.Config.PrivateZone || len(zone.VPCs) != 1 {
		t.Errorf("hosted zone = %+v, want private with the VPC", zone)
	}
	if got := records(t, e, out["HostedZoneId"]); got != "api.payments-harness.internal./CNAME/source/100 api.payments-harness.internal./CNAME/target/0 target.payments-harness.internal./A//0" {
		t.Errorf("record sets = %s", got)
	}
	// The API can UPSERT a record the stack created (same name, trailing dot).
	shift := `{"Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"api.payments-harness.internal","Type":"CNAME","SetIdentifier":"target","Weight":10,"TTL":60,"HealthCheckId":"` +
		out["HealthCheckId"] + `","ResourceRecords":[{"Value":"target.payments-harness.internal"}]}}]}`
	run(t, e, nil, "route53", "change-resource-record-sets", "--hosted-zone-id", out["HostedZoneId"], "--change-batch", shift)
	if got := records(t, e, out["HostedZoneId"]); !strings.Contains(got, "/target/10") || strings.Count(got, "api.") != 2 {
		t.Errorf("after UPSERT record sets = %s, want target at weight 10 and no duplicate", got)
	}

	// UPDATE through a change set: in-place changes keep the task's identity.
	updated := readTemplate(t, map[string]string{
		"Threshold: 60":                             "Threshold: 120",
		`"table-name":"payments"`:                   `"table-name":"payment_%"`,
		"TargetValue: 70":                           "TargetValue: 65",
		"Description: generated master credentials": "Description: rotated by the operator",
	})
	run(t, e, nil, "cloudformation", "create-change-set", "--stack-name", stack, "--change-set-name", "update1",
		"--capabilities", "CAPABILITY_NAMED_IAM", "--template-body", updated)
	run(t, e, nil, "cloudformation", "execute-change-set", "--stack-name", stack, "--change-set-name", "update1")
	waitStack(t, e, stack, "UPDATE_COMPLETE")
	after := outputs(t, e, stack)
	if after["DmsTaskArn"] != out["DmsTaskArn"] || after["DbEndpoint"] != out["DbEndpoint"] {
		t.Errorf("update replaced the task or lost the DB: %v -> %v", out, after)
	}
	var mappings []string
	run(t, e, &mappings, "dms", "describe-replication-tasks", "--query", "ReplicationTasks[].TableMappings")
	if len(mappings) != 1 || !strings.Contains(mappings[0], "payment_%") {
		t.Errorf("table mappings after update = %v", mappings)
	}
	if a := lagAlarm(t, e); a.Threshold != 120 {
		t.Errorf("alarm threshold after update = %v, want 120", a.Threshold)
	}
	run(t, e, &policies, "application-autoscaling", "describe-scaling-policies", "--service-namespace", "ecs", "--query", "ScalingPolicies")
	if got := targets(policies); got != "cpu-harness=65 memory-harness=80" {
		t.Errorf("scaling policies after update = %s", got)
	}
	if s := secretValue(t, e, out["SecretArn"]); s["password"] != secret["password"] || s["host"] != secret["host"] {
		t.Errorf("a description change regenerated or detached the secret: %v", s)
	}

	// DELETE removes every object from its service.
	run(t, e, nil, "cloudformation", "delete-stack", "--stack-name", stack)
	waitStack(t, e, stackID, "DELETE_COMPLETE")
	for _, c := range [][]string{
		{"dms", "describe-replication-tasks", "--query", "ReplicationTasks"},
		{"dms", "describe-replication-instances", "--query", "ReplicationInstances"},
		{"dms", "describe-endpoints", "--query", "Endpoints"},
		{"dms", "describe-replication-subnet-groups", "--query", "ReplicationSubnetGroups"},
		{"secretsmanager", "list-secrets", "--query", "SecretList"},
		{"rds", "describe-db-instances", "--query", "DBInstances"},
		{"s3api", "list-buckets", "--query", "Buckets"},
		{"cloudwatch", "describe-alarms", "--query", "MetricAlarms"},
		{"application-autoscaling", "describe-scaling-policies", "--service-namespace", "ecs", "--query", "ScalingPolicies"},
		{"application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs", "--query", "ScalableTargets"},
		{"sns", "list-subscriptions", "--query", "Subscriptions"},
		{"sns", "list-topics", "--query", "Topics"},
		{"route53", "list-hosted-zones", "--query", "HostedZones"},
		{"route53", "list-health-checks", "--query", "HealthChecks"},
		{"elbv2", "describe-load-balancers", "--query", "LoadBalancers"},
		{"elbv2", "describe-target-groups", "--query", "TargetGroups"},
		{"ecs", "describe-services", "--cluster", "ecs-target-harness", "--services", "svc-target-harness", "--query", "services[?status!='INACTIVE']"},
		{"iam", "list-roles", "--query", "Roles[?starts_with(RoleName, 'dms-') || starts_with(RoleName, 'TapStack')]"},
	} {
		expectCount(t, e, 0, c...)
	}
	var clusters []string
	run(t, e, &clusters, "ecs", "describe-clusters", "--clusters", "ecs-target-harness", "--query", "clusters[].status")
	if len(clusters) != 0 && (len(clusters) != 1 || clusters[0] != "INACTIVE") {
		t.Errorf("cluster status after delete = %v, want INACTIVE (as AWS)", clusters)
	}
}

func requireCLI(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the AWS CLI is not installed; this test drives the emulator through it")
	}
}

// run executes an aws command and decodes its JSON output into out (if non-nil).
func run(t *testing.T, e *Emulator, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data, err := e.CLI(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("aws %s: decoding %q: %v", strings.Join(args, " "), data, err)
		}
	}
}

func expectCount(t *testing.T, e *Emulator, want int, args ...string) {
	t.Helper()
	var items []json.RawMessage
	run(t, e, &items, args...)
	if len(items) != want {
		t.Errorf("aws %s: %d items, want %d: %s", strings.Join(args, " "), len(items), want, items)
	}
}

// waitStack waits for the stack to reach status; moto is synchronous, but the
// loop keeps the test right for an emulator that is not.
func waitStack(t *testing.T, e *Emulator, stack, status string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var stacks []struct{ StackId, StackStatus, StackStatusReason string }
		run(t, e, &stacks, "cloudformation", "describe-stacks", "--stack-name", stack, "--query", "Stacks")
		if len(stacks) == 1 && stacks[0].StackStatus == status {
			return stacks[0].StackId
		}
		if len(stacks) == 1 && !strings.HasSuffix(stacks[0].StackStatus, "_IN_PROGRESS") || time.Now().After(deadline) {
			var events json.RawMessage
			run(t, e, &events, "cloudformation", "describe-stack-events", "--stack-name", stack, "--query", "StackEvents[:10]")
			t.Fatalf("stack %s: %+v, want %s; events: %s", stack, stacks, status, events)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func outputs(t *testing.T, e *Emulator, stack string) map[string]string {
	t.Helper()
	var list []struct{ OutputKey, OutputValue string }
	run(t, e, &list, "cloudformation", "describe-stacks", "--stack-name", stack, "--query", "Stacks[0].Outputs")
	out := map[string]string{}
	for _, o := range list {
		out[o.OutputKey] = o.OutputValue
	}
	return out
}

func secretValue(t *testing.T, e *Emulator, id string) map[string]any {
	t.Helper()
	var text string
	run(t, e, &text, "secretsmanager", "get-secret-value", "--secret-id", id, "--query", "SecretString")
	value := map[string]any{}
	if err := json.Unmarshal([]byte(text), &value); err != nil {
		t.Fatalf("secret string %q: %v", text, err)
	}
	return value
}

type alarmView struct {
	AlarmArn   string
	Threshold  float64
	Dimensions string
}

func lagAlarm(t *testing.T, e *Emulator) alarmView {
	t.Helper()
	var alarms []struct {
		AlarmArn   string
		Threshold  float64
		Dimensions json.RawMessage
	}
	run(t, e, &alarms, "cloudwatch", "describe-alarms", "--alarm-names", "dms-lag-target-harness", "--query", "MetricAlarms")
	if len(alarms) != 1 {
		t.Fatalf("alarms = %+v, want dms-lag-target-harness", alarms)
	}
	return alarmView{alarms[0].AlarmArn, alarms[0].Threshold, string(alarms[0].Dimensions)}
}

func targets(policies []struct {
	PolicyName                               string
	TargetTrackingScalingPolicyConfiguration struct{ TargetValue float64 }
}) string {
	var parts []string
	for _, p := range policies {
		parts = append(parts, p.PolicyName+"="+jsonNumber(p.TargetTrackingScalingPolicyConfiguration.TargetValue))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func records(t *testing.T, e *Emulator, zoneID string) string {
	t.Helper()
	var sets []struct {
		Name, Type, SetIdentifier string
		Weight                    int
	}
	run(t, e, &sets, "route53", "list-resource-record-sets", "--hosted-zone-id", zoneID, "--query", "ResourceRecordSets[?Type!='NS' && Type!='SOA']")
	var parts []string
	for _, s := range sets {
		parts = append(parts, s.Name+"/"+s.Type+"/"+s.SetIdentifier+"/"+jsonNumber(float64(s.Weight)))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// readTemplate returns testdata/gaps.yaml with each old string replaced once.
func readTemplate(t *testing.T, replace map[string]string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/gaps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for old, repl := range replace {
		if strings.Count(text, old) != 1 {
			t.Fatalf("testdata/gaps.yaml: %q occurs %d times, want 1", old, strings.Count(text, old))
		}
		text = strings.Replace(text, old, repl, 1)
	}
	return text
}

func jsonNumber(f float64) string {
	data, _ := json.Marshal(f)
	return string(data)
}
