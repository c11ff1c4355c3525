package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// TestCutoverThroughTheInVPCRunner: a migration with spec.sqlRunner.mode
// InVPC runs its SQL as one-off tasks of the stack's runner task definition
// (the emulator's RunTask runs them on the real local databases): the
// preflight (catalogs, target schema, application role), the gates, and
// the whole freeze in one task, while the payment workload writes at 200/s
// through the writer record. Nothing acknowledged is lost or written twice.
func TestCutoverThroughTheInVPCRunner(t *testing.T) {
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: "invpc", Namespace: "default"},
		Spec: paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "cutvpc"}}
	pm.Spec.SQLRunner.Mode = paymentsv1alpha1.SQLRunnerInVPC
	pm.Spec.Traffic.RecordTTLSeconds = 1
	pm.Spec.Cutover.StepIntervalSeconds = 3
	pm.Spec.Cutover.Steps = []int32{50, 100}
	pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	key, out, _, target, seeded := replicatingMigration(t, pm)
	for _, k := range []string{tapstack.OutputSQLRunnerTaskDefinitionArn, tapstack.OutputSQLRunnerCluster, tapstack.OutputSQLRunnerSubnets,
		tapstack.OutputSQLRunnerSecurityGroup, tapstack.OutputSQLRunnerLogGroup, tapstack.OutputSQLRunnerStreamPrefix} {
		if out[k] == "" {
			t.Fatalf("the stack has no %s output", k)
		}
	}
	// The preflight ran through the runner: its tasks' logs are in the
	// stack's log group under the runner's prefix.
	logs := cloudwatchlogs.NewFromConfig(awsCfg)
	streams := func() []string {
		var names []string
		p := cloudwatchlogs.NewDescribeLogStreamsPaginator(logs, &cloudwatchlogs.DescribeLogStreamsInput{
			LogGroupName: aws.String(out[tapstack.OutputSQLRunnerLogGroup]), LogStreamNamePrefix: aws.String(out[tapstack.OutputSQLRunnerStreamPrefix] + "/")})
		for p.HasMorePages() {
			page, err := p.NextPage(callCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.LogStreams {
				names = append(names, aws.ToString(s.LogStreamName))
			}
		}
		return names
	}
	beforeCutover := len(streams())
	if beforeCutover == 0 {
		t.Fatal("no runner task logged before the cutover: the preflight did not run through the in-VPC runner")
	}
	td, err := ecs.NewFromConfig(awsCfg).DescribeTaskDefinition(callCtx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(out[tapstack.OutputSQLRunnerTaskDefinitionArn])})
	if err != nil {
		t.Fatal(err)
	}
	if img := aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image); img != "public.ecr.aws/docker/library/postgres:15-alpine" {
		t.Errorf("runner image %s", img)
	}

	conn := appConn(t, out)
	payments := startAppWorkload(t, conn, 200)
	time.Sleep(3 * time.Second) // the service is writing before the approval
	approved := time.Now()
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	pm = waitFor(t, key, 4*time.Minute, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "Completed" || cutoverState(pm) == "RolledBack"
	})
	if cutoverState(pm) != "Completed" {
		t.Fatalf("the cutover rolled back: %s: %s", pm.Status.Cutover.Reason, pm.Status.Cutover.Message)
	}
	time.Sleep(3 * time.Second) // writes on the target after the flip
	report := payments.stop(t)
	c := pm.Status.Cutover
	tasks := len(streams())
	t.Logf("through the in-VPC runner: %d runner tasks in all, %d of them from the approval on; approval to Completed %s",
		tasks, tasks-beforeCutover, time.Since(approved).Round(time.Millisecond))
	if c.FreezeMillis == nil || c.Ledger == nil {
		t.Fatalf("the completed cutover recorded no freeze (%v) or ledger (%+v)", c.FreezeMillis, c.Ledger)
	}
	// The drain is the in-task wait for the watermark: none recorded when
	// the row was on the target at the first look.
	drain := "under 1ms"
	if c.Ledger.DrainMillis != nil {
		drain = fmt.Sprintf("%dms", *c.Ledger.DrainMillis)
	}
	t.Logf("freeze (operator: fence requested to writer in sync) %dms; drain %s; sessions ended %d; sequences set %d",
		*c.FreezeMillis, drain, c.Ledger.SessionsTerminated, c.Ledger.SequencesSet)
	t.Logf("write-unavailable window seen by the workload at 200/s: %s (%d acknowledged, %d failed)",
		report.LongestUnavailable.Duration(), report.Acknowledged, report.Failed)
	ledger := seeded.Ledger
	ledger.Merge(report.Ledger)
	checkLedger(t, "target after the cutover through the in-VPC runner", target, ledger)
	if report.Acknowledged < 500 {
		t.Errorf("only %d payments acknowledged", report.Acknowledged)
	}
	if tasks <= beforeCutover {
		t.Error("the cutover ran no runner task")
	}
}
