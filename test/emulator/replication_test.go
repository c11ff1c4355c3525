package emulator

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
)

// The tables the task's selection rules include: three named ones and two for
// the payment_% wildcard.
var paymentTables = []string{"payments", "transactions", "refunds", "payment_01", "payment_02"}

// replicationStack is testdata/replication.yaml deployed in an emulator, with
// the operator's replication client over the SDK clients it uses.
type replicationStack struct {
	e   *Emulator
	out map[string]string
	rc  *replicationaws.Client
	dms *dms.Client
	cw  *cloudwatch.Client
	cfn *cloudformation.Client
	sm  *secretsmanager.Client
}

func (s *replicationStack) taskARN() string     { return s.out["DmsTaskArn"] }
func (s *replicationStack) instanceARN() string { return s.out["DmsInstanceArn"] }

func (s *replicationStack) targets() replication.PreflightTargets {
	return replication.PreflightTargets{
		SourceDBInstanceID: s.out["DbInstanceId"],
		ParameterGroup:     s.out["DbParameterGroupName"],
		RoleNames:          []string{s.out["DmsVpcRoleName"]},
		InstanceARN:        s.instanceARN(),
		Endpoints: []replication.EndpointRef{
			{Side: "source", ARN: s.out["DmsSourceEndpointArn"]},
			{Side: "target", ARN: s.out["DmsTargetEndpointArn"]},
		},
	}
}

// sdkConfig is an SDK configuration for the emulator built from nothing on the
// machine: static test credentials, the emulator as the endpoint.
func sdkConfig(e *Emulator) aws.Config {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(e.Endpoint()),
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "emulator"}, nil
		})),
		// The SDK's standard retryer, as the operator has it: on a loaded
		// 2-core machine a response was once cut mid-read ("use of closed
		// network connection"), which one attempt turned into a failed test.
		RetryMaxAttempts: 3,
	}
}

func deployReplicationStack(t testing.TB) *replicationStack {
	t.Helper()
	return deployReplicationStackWith(t, nil)
}

// deployReplicationStackWith deploys testdata/replication.yaml with these
// template parameters (MigrationType, TargetTablePrepMode, FullLobMode,
// LobMaxSize, TableMappings).
func deployReplicationStackWith(t testing.TB, params map[string]string) *replicationStack {
	t.Helper()
	e := StartT(t)
	ctx := context.Background()
	cfg := sdkConfig(e)
	body, err := os.ReadFile("testdata/replication.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfn := cloudformation.NewFromConfig(cfg)
	var parameters []cfntypes.Parameter
	for k, v := range params {
		parameters = append(parameters, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	began := time.Now()
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String("TapStackrepl"),
		TemplateBody: aws.String(string(body)),
		Parameters:   parameters,
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
	}); err != nil {
		t.Fatal(err)
	}
	waiter := cloudformation.NewStackCreateCompleteWaiter(cfn, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	stacks, err := waiter.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("TapStackrepl")}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CREATE_COMPLETE after %s (two database servers among its resources)", time.Since(began).Round(time.Millisecond))
	s := &replicationStack{e: e, cfn: cfn, sm: secretsmanager.NewFromConfig(cfg), out: map[string]string{}, dms: dms.NewFromConfig(cfg), cw: cloudwatch.NewFromConfig(cfg, awscfg.CloudWatchJSON)}
	for _, o := range stacks.Stacks[0].Outputs {
		s.out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	s.rc = replicationaws.New(s.dms, s.cw, rds.NewFromConfig(cfg), iam.NewFromConfig(cfg))
	s.rc.MaxAge = time.Nanosecond // every read fresh: the test watches transitions
	// Fast transitions; the metric period stays at its default (1 s).
	if err := e.SetTimings(ctx, Timings{Transition: 300 * time.Millisecond, FullLoad: 1500 * time.Millisecond, ConnectionTest: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return s
}

// poll calls read until done says so, or fails the test after 15 s.
func poll[T any](t testing.TB, what string, read func() (T, error), done func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := read()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if done(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %+v", what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func wantStateFault(t *testing.T, what string, err error) {
	t.Helper()
	var fault *dmstypes.InvalidResourceStateFault
	if !errors.As(err, &fault) {
		t.Errorf("%s: error %v, want InvalidResourceStateFault", what, err)
	}
}

// TestReplicationPreflight runs the operator's preflight reads against the
// emulated RDS, IAM and DMS: connection tests that succeed and one made to
// fail, a parameter pending a reboot and the reboot that applies it.
func TestReplicationPreflight(t *testing.T) {
	s := deployReplicationStack(t)
	ctx := context.Background()
	preflight := func() (replication.PreflightObservation, error) { return s.rc.Preflight(ctx, s.targets()) }

	obs, err := preflight()
	if err != nil {
		t.Fatal(err)
	}
	if obs.SourceDBStatus != "available" || obs.ParameterApplyStatus != "in-sync" || obs.LogicalReplication != "1" ||
		obs.InstanceStatus != "available" || len(obs.Roles) != 1 || !obs.Roles[0].Exists || !obs.Roles[0].TrustsDMS {
		t.Errorf("observation = %+v, want an available source in sync with logical replication on, the role trusting DMS, an available instance", obs)
	}
	for _, c := range obs.Connections {
		if c.Status != "" {
			t.Errorf("connection %+v before any test, want no status", c)
		}
	}
	res := replication.EvaluatePreflight(obs, false)
	if res.Passed || len(res.TestConnections) != 2 {
		t.Fatalf("preflight before tests = %+v, want two connections to test", res)
	}

	// Connection tests: testing, then successful.
	for _, arn := range res.TestConnections {
		if err := s.rc.TestConnection(ctx, s.instanceARN(), arn); err != nil {
			t.Fatal(err)
		}
	}
	if obs, err = preflight(); err != nil {
		t.Fatal(err)
	}
	for _, c := range obs.Connections {
		if c.Status != "testing" {
			t.Errorf("connection %+v right after TestConnection, want testing", c)
		}
	}
	obs = poll(t, "connection tests", preflight, func(o replication.PreflightObservation) bool {
		return o.Connections[0].Status == "successful" && o.Connections[1].Status == "successful"
	})
	if res := replication.EvaluatePreflight(obs, false); !passedButDatabases(res) {
		t.Errorf("preflight after successful tests = %+v, want passed", res)
	}

	// A target that refuses connections: the next test fails with its message.
	const refused = "Test connection failed for endpoint 'dms-target-repl': connection refused"
	target := s.out["DmsTargetEndpointArn"]
	if err := s.e.FailConnection(ctx, target, refused); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a retest while one is running is not an error
		if err := s.rc.TestConnection(ctx, s.instanceARN(), target); err != nil {
			t.Fatal(err)
		}
	}
	obs = poll(t, "failing connection test", preflight, func(o replication.PreflightObservation) bool {
		return o.Connections[1].Status == "failed"
	})
	if obs.Connections[1].Message != refused || obs.Connections[0].Status != "successful" {
		t.Errorf("connections = %+v, want the target failed with %q, the source still successful", obs.Connections, refused)
	}
	if res := replication.EvaluatePreflight(obs, false); res.Passed || !strings.Contains(res.Message, "connection refused") {
		t.Errorf("preflight with a failed connection = %+v, want not passed, naming the failure", res)
	}
	// DescribeConnections filters by endpoint as AWS does.
	conns, err := s.dms.DescribeConnections(ctx, &dms.DescribeConnectionsInput{
		Filters: []dmstypes.Filter{{Name: aws.String("endpoint-arn"), Values: []string{target}}},
	})
	if err != nil || len(conns.Connections) != 1 || aws.ToString(conns.Connections[0].EndpointArn) != target {
		t.Errorf("DescribeConnections(endpoint-arn=target) = %+v, %v; want the target's connection only", conns, err)
	}
	if err := s.e.PassConnection(ctx, target); err != nil {
		t.Fatal(err)
	}
	if err := s.rc.TestConnection(ctx, s.instanceARN(), target); err != nil {
		t.Fatal(err)
	}
	obs = poll(t, "connection test after the fix", preflight, func(o replication.PreflightObservation) bool {
		return o.Connections[1].Status == "successful"
	})
	if obs.Connections[1].Message != "" {
		t.Errorf("successful connection still says %q", obs.Connections[1].Message)
	}

	// The logical replication parameter pending a reboot; the reboot applies it.
	if err := s.e.SetParameterApplyStatus(ctx, s.out["DbInstanceId"], "pending-reboot"); err != nil {
		t.Fatal(err)
	}
	if obs, err = preflight(); err != nil {
		t.Fatal(err)
	}
	res = replication.EvaluatePreflight(obs, true)
	if obs.ParameterApplyStatus != "pending-reboot" || res.Passed || !res.RebootSource {
		t.Fatalf("pending reboot: observation %+v, result %+v; want a reboot asked for", obs, res)
	}
	// The server runs without the group's values until the reboot.
	walLevel := func() string {
		srv, err := s.e.Server(ctx, s.out["DbInstanceId"])
		if err != nil {
			t.Fatal(err)
		}
		return queryText(t, s.db(t, "source"), "select current_setting('wal_level')") + "/" + srv.WalLevel
	}
	if got := walLevel(); got != "replica/replica" {
		t.Errorf("wal_level while pending a reboot = %s, want replica", got)
	}
	if err := s.rc.RebootDB(ctx, s.out["DbInstanceId"]); err != nil {
		t.Fatal(err)
	}
	if obs, err = preflight(); err != nil {
		t.Fatal(err)
	}
	if obs.SourceDBStatus != "rebooting" {
		t.Errorf("source after RebootDBInstance: %q, want rebooting", obs.SourceDBStatus)
	}
	if err := s.rc.RebootDB(ctx, s.out["DbInstanceId"]); err == nil || !strings.Contains(err.Error(), "InvalidDBInstanceState") {
		t.Errorf("second reboot while rebooting: %v, want InvalidDBInstanceState", err)
	}
	obs = poll(t, "reboot", preflight, func(o replication.PreflightObservation) bool { return o.SourceDBStatus == "available" })
	if obs.ParameterApplyStatus != "in-sync" {
		t.Errorf("after the reboot the parameter group is %q, want in-sync", obs.ParameterApplyStatus)
	}
	if got := walLevel(); got != "logical/logical" {
		t.Errorf("wal_level after the reboot = %s, want logical", got)
	}
	if res := replication.EvaluatePreflight(obs, true); !passedButDatabases(res) {
		t.Errorf("preflight after the reboot = %+v, want passed", res)
	}
}

// passedButDatabases: the preflight passed, or failed only because this test
// does not read the databases (the operator's SQL runner does that; the AWS
// side is what is under test here).
func passedButDatabases(res replication.PreflightResult) bool {
	return res.Passed || (res.Reason == "DatabasesUnread" && strings.Count(res.Message, "FAIL") == 1)
}

// TestReplicationTaskLifecycle drives the task as the operator does: start,
// full load to 100 %, table statistics, CDC latency from CloudWatch, stop,
// resume, and a failure.
func TestReplicationTaskLifecycle(t *testing.T) {
	s := deployReplicationStack(t)
	ctx := context.Background()
	arn := s.taskARN()
	task := func() (replication.Task, error) { return s.rc.Task(ctx, arn) }

	tk, err := task()
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != "ready" || tk.EverStarted {
		t.Fatalf("new task = %+v, want ready, never started", tk)
	}
	if d := replication.DecideTask(replication.TaskInputs{Task: tk, PreflightPassed: true}); d.Action != replication.StartReplication {
		t.Fatalf("decision on the ready task = %+v, want start-replication", d)
	}
	// AWS refuses these on a task that never ran.
	err = s.rc.StartTask(ctx, arn, replication.ResumeProcessing)
	wantStateFault(t, "resume-processing before any start", err)
	if !replicationaws.Refused(err) {
		t.Errorf("DMS refusing resume-processing is not read as a refusal: %v", err)
	}
	// The first-start tag, written before the first start, read back, and
	// taken back as after a refused start.
	if tag, err := s.rc.StartTag(ctx, arn); err != nil || tag != "" {
		t.Errorf("first-start tag of a new task = %q, %v; want none", tag, err)
	}
	const tagValue = "2026-12-02T10:00:00Z default/lifecycle 0b9c6f3e-1f6a-4c55-9a0e-3c2f1d7e8a41"
	if err := s.rc.TagStart(ctx, arn, tagValue); err != nil {
		t.Fatal(err)
	}
	if tag, err := s.rc.StartTag(ctx, arn); err != nil || tag != tagValue {
		t.Errorf("first-start tag = %q, %v; want %q", tag, err, tagValue)
	}
	if d := replication.DecideTask(replication.TaskInputs{Task: tk, PreflightPassed: true, Recorded: true, StartTag: tagValue}); d.Action != replication.NoAction || d.Reason != "StartUnconfirmed" {
		t.Errorf("decision on a tagged task DMS shows never ran = %+v, want the hold StartUnconfirmed", d)
	}
	if err := s.rc.UntagStart(ctx, arn); err != nil {
		t.Fatal(err)
	}
	if tag, err := s.rc.StartTag(ctx, arn); err != nil || tag != "" {
		t.Errorf("first-start tag after UntagStart = %q, %v; want none", tag, err)
	}
	if err := s.rc.TagStart(ctx, arn+"X", tagValue); err == nil || !replicationaws.Refused(err) {
		t.Errorf("tagging a task DMS does not know: %v, want a refusal", err)
	}
	_, err = s.dms.StopReplicationTask(ctx, &dms.StopReplicationTaskInput{ReplicationTaskArn: aws.String(arn)})
	wantStateFault(t, "stop of a ready task", err)
	if stats, err := s.rc.TableStatistics(ctx, arn); err != nil || len(stats) != 0 {
		t.Errorf("table statistics before the start = %+v, %v; want none", stats, err)
	}
	src := s.db(t, "source")
	createPaymentTables(t, src)
	// Samples often enough to watch the (minimum 1.5 s) full load advance.
	if err := s.e.SetSampling(ctx, 200*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}

	// Start: starting, then running with the full load advancing to 100 %.
	began := time.Now()
	if err := s.rc.StartTask(ctx, arn, replication.StartReplication); err != nil {
		t.Fatal(err)
	}
	if tk, err = task(); err != nil {
		t.Fatal(err)
	}
	if tk.Status != "starting" || !tk.EverStarted {
		t.Errorf("right after the start: %+v, want starting with a start date", tk)
	}
	_, err = s.dms.StartReplicationTask(ctx, &dms.StartReplicationTaskInput{
		ReplicationTaskArn: aws.String(arn), StartReplicationTaskType: dmstypes.StartReplicationTaskTypeValueStartReplication,
	})
	wantStateFault(t, "start of a starting task", err)
	tk = poll(t, "running", task, func(tk replication.Task) bool { return tk.Status != "starting" })
	if tk.Status != "running" {
		t.Fatalf("after starting: %+v, want running", tk)
	}
	t.Logf("running after %s", time.Since(began).Round(time.Millisecond))

	var percents []int32
	sawLoading := false
	tk = poll(t, "full load", task, func(tk replication.Task) bool {
		percents = append(percents, tk.FullLoadPercent)
		if tk.TablesLoaded+tk.TablesLoading+tk.TablesQueued+tk.TablesErrored != int32(len(paymentTables)) {
			t.Errorf("table counts %+v do not add up to %d", tk, len(paymentTables))
		}
		if tk.FullLoadPercent > 0 && tk.FullLoadPercent < 100 && !sawLoading {
			sawLoading = true
			stats, err := s.rc.TableStatistics(ctx, arn)
			if err != nil {
				t.Fatal(err)
			}
			v := replication.AggregateValidation(stats, true)
			if v.Validated || len(stats) != len(paymentTables) {
				t.Errorf("validation during the full load = %+v over %+v, want not validated", v, stats)
			}
			for _, st := range stats {
				if st.TableState == "Full load" && st.ValidationState != "Pending records" {
					t.Errorf("table in full load: %+v, want pending records", st)
				}
			}
		}
		return replication.FullLoadDone(tk)
	})
	t.Logf("full load percents seen: %v", percents)
	if !sawLoading {
		t.Error("never saw the full load between 0 and 100 %")
	}
	for i := 1; i < len(percents); i++ {
		if percents[i] < percents[i-1] {
			t.Errorf("full load went back: %v", percents)
			break
		}
	}
	if tk.FullLoadPercent != 100 || tk.TablesLoaded != int32(len(paymentTables)) || tk.TablesLoading+tk.TablesQueued+tk.TablesErrored != 0 {
		t.Errorf("after the full load: %+v, want 100 %% and %d tables loaded", tk, len(paymentTables))
	}
	if d := replication.DecideTask(replication.TaskInputs{Task: tk, PreflightPassed: true}); !d.Running || d.Action != replication.NoAction {
		t.Errorf("decision on the running task = %+v, want running, no action", d)
	}

	// Table statistics: every payment table completed and, once validation
	// went over it, validated...
	stats := poll(t, "validation", func() ([]replication.TableStats, error) { return s.rc.TableStatistics(ctx, arn) },
		func(stats []replication.TableStats) bool {
			return replication.AggregateValidation(stats, true).Validated
		})
	var names []string
	for _, st := range stats {
		names = append(names, st.Table)
		if st.Schema != "public" || st.TableState != "Table completed" || st.ValidationState != "Validated" || st.Failed+st.Pending+st.Suspended != 0 {
			t.Errorf("table after the full load: %+v, want completed and validated", st)
		}
	}
	if strings.Join(names, " ") != strings.Join(paymentTables, " ") {
		t.Errorf("tables = %v, want %v", names, paymentTables)
	}
	if v := replication.AggregateValidation(stats, true); !v.Validated {
		t.Errorf("validation = %+v, want validated", v)
	}
	// ...until a test says otherwise.
	if err := s.e.SetTableStatistics(ctx, arn, TableStatistics{Table: "refunds", ValidationState: "Mismatched records", Failed: 3, Pending: 7}); err != nil {
		t.Fatal(err)
	}
	stats, err = s.rc.TableStatistics(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	v := replication.AggregateValidation(stats, true)
	if v.Validated || v.State != "Mismatched records" || v.Failed != 3 || v.Pending != 7 || !strings.Contains(v.Message, "refunds") {
		t.Errorf("validation with a mismatched table = %+v, want mismatched records, 3 failed, 7 pending, naming refunds", v)
	}
	// Pages: 20 more tables, read 20 at a time.
	var extra []TableStatistics
	for i := range 20 {
		extra = append(extra, TableStatistics{Schema: "archive", Table: "t" + string(rune('a'+i)), ValidationState: "Validated"})
	}
	if err := s.e.SetTableStatistics(ctx, arn, extra...); err != nil {
		t.Fatal(err)
	}
	pages, total := 0, 0
	for p := dms.NewDescribeTableStatisticsPaginator(s.dms, &dms.DescribeTableStatisticsInput{ReplicationTaskArn: aws.String(arn), MaxRecords: aws.Int32(20)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages, total = pages+1, total+len(page.TableStatistics)
	}
	if pages != 2 || total != len(paymentTables)+20 {
		t.Errorf("%d pages, %d tables; want 2 pages, %d tables", pages, total, len(paymentTables)+20)
	}
	if stats, err = s.rc.TableStatistics(ctx, arn); err != nil || len(stats) != len(paymentTables)+20 {
		t.Errorf("TableStatistics: %d tables, %v", len(stats), err)
	}

	// CDC latency: published while the task runs, read as the operator does.
	instanceID, taskID := "dms-instance-repl", arn[strings.LastIndex(arn, ":")+1:]
	lag := poll(t, "measured lag", func() (replication.LagSample, error) { return s.rc.Lag(ctx, instanceID, taskID) },
		func(l replication.LagSample) bool { return l.Source != nil && l.Target != nil })
	if *lag.Source < 0 || *lag.Source > 5 || *lag.Target < 0 || *lag.Target > 5 {
		t.Errorf("measured lag of an idle task = %v/%v, want a few seconds at most", *lag.Source, *lag.Target)
	}
	t.Logf("measured lag of the idle task: source %.3fs, target %.3fs", *lag.Source, *lag.Target)
	if err := s.e.SetTaskLag(ctx, arn, 4.5, 12); err != nil {
		t.Fatal(err)
	}
	lag = poll(t, "controlled lag", func() (replication.LagSample, error) { return s.rc.Lag(ctx, instanceID, taskID) },
		func(l replication.LagSample) bool { return *l.Source == 4.5 && *l.Target == 12 })
	now := time.Now()
	if lag.Time.Second() != 0 || lag.Time.Nanosecond() != 0 || lag.Time.After(now) || now.Sub(lag.Time) > 2*time.Minute {
		t.Errorf("datapoint time %s (now %s), want the start of a recent minute", lag.Time, now)
	}
	again, err := s.rc.Lag(ctx, instanceID, taskID)
	if err != nil {
		t.Fatal(err)
	}
	if d := again.Time.Sub(lag.Time); d != 0 && d != time.Minute {
		t.Errorf("a second read moved the datapoint from %s to %s; CloudWatch keeps it on its minute", lag.Time, again.Time)
	}
	verdict := replication.EvaluateLag(replication.LagState{}, again, 10, 3)
	if verdict.Within || !verdict.Known {
		t.Errorf("lag verdict at 12 s over a 10 s threshold = %+v, want known and not within", verdict)
	}
	// The raw query: the operator's shape, other dimensions see nothing.
	out, err := s.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now.Add(time.Minute)),
		ScanBy: cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			metricQuery("ours", "CDCLatencyTarget", instanceID, taskID),
			metricQuery("other", "CDCLatencyTarget", instanceID, "NOSUCHTASK"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.MetricDataResults {
		want := map[string]bool{"ours": true, "other": false}[aws.ToString(r.Id)]
		if (len(r.Values) > 0) != want || (want && r.Values[0] != 12) {
			t.Errorf("query %s: values %v at %v", aws.ToString(r.Id), r.Values, r.Timestamps)
		}
	}

	// Stop: stopping, then stopped by the user; a second stop is refused.
	if err := s.rc.StopTask(ctx, arn); err != nil {
		t.Fatal(err)
	}
	if tk, err = task(); err != nil || tk.Status != "stopping" {
		t.Errorf("right after the stop: %+v, %v; want stopping", tk, err)
	}
	tk = poll(t, "stopped", task, func(tk replication.Task) bool { return tk.Status != "stopping" })
	if tk.Status != "stopped" || tk.StopReason != "Stop Reason NORMAL" {
		t.Errorf("after stopping: %+v, want stopped with Stop Reason NORMAL", tk)
	}
	wantStateFault(t, "stop of a stopped task", s.rc.StopTask(ctx, arn))
	if d := replication.DecideTask(replication.TaskInputs{Task: tk, PreflightPassed: true}); d.Action != replication.NoAction || d.Reason != "TaskRanBefore" {
		t.Errorf("decision on the stopped task without a record of its start = %+v, want the hold TaskRanBefore", d)
	}
	d := replication.DecideTask(replication.TaskInputs{Task: tk, PreflightPassed: true, Recorded: true})
	if d.Action != replication.ResumeProcessing {
		t.Fatalf("decision on the stopped task = %+v, want resume-processing", d)
	}

	// Resume: where it stopped, the full load stays done.
	if err := s.rc.StartTask(ctx, arn, d.Action); err != nil {
		t.Fatal(err)
	}
	tk = poll(t, "resumed", task, func(tk replication.Task) bool { return tk.Status == "running" })
	if tk.FullLoadPercent != 100 || tk.TablesLoaded != int32(len(paymentTables))+20 {
		t.Errorf("resumed task = %+v, want the full load still complete", tk)
	}

	// A failure: failed, with DMS's message, and the operator gives up.
	const why = "Last Error Replication task out of memory. Stop Reason FATAL_ERROR Error Level FATAL"
	if err := s.e.FailTask(ctx, arn, why); err != nil {
		t.Fatal(err)
	}
	if tk, err = task(); err != nil {
		t.Fatal(err)
	}
	if tk.Status != "failed" || tk.LastFailureMessage != why {
		t.Errorf("after FailTask: %+v, want failed with %q", tk, why)
	}
	if d := replication.DecideTask(replication.TaskInputs{Task: tk, PreflightPassed: true, Recorded: true}); !d.Failed {
		t.Errorf("decision on the failed task = %+v, want failed", d)
	}
}

func metricQuery(id, metric, instanceID, taskID string) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{
				Namespace:  aws.String("AWS/DMS"),
				MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{
					{Name: aws.String("ReplicationInstanceIdentifier"), Value: aws.String(instanceID)},
					{Name: aws.String("ReplicationTaskIdentifier"), Value: aws.String(taskID)},
				},
			},
			Period: aws.Int32(60),
			Stat:   aws.String("Maximum"),
		},
		ReturnData: aws.Bool(true),
	}
}
