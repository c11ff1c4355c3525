package e2e

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/workload"
)

const (
	samplePath  = "../../config/samples/payments_v1alpha1_paymentmigration.yaml"
	stackTimout = 3 * time.Minute
)

// TestTapStackLifecycle applies the shipped sample and follows it through the
// stack's whole life: creation, inspection of every deployed resource, an
// update, and deletion. The steps share one stack, so they run in order.
func TestTapStackLifecycle(t *testing.T) {
	sample := readSample(t)
	key := client.ObjectKeyFromObject(sample)
	if err := k8s.Create(t.Context(), sample); err != nil {
		t.Fatalf("applying the sample: %v", err)
	}
	names := naming.New("pr6185")

	var pm *paymentsv1alpha1.PaymentMigration
	if !t.Run("CreateReachesStackReady", func(t *testing.T) {
		pm = waitFor(t, key, stackTimout, "StackReady", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
		})
		st := pm.Status.Stack
		if st.Name != names.Stack() || st.Status != "CREATE_COMPLETE" || !strings.Contains(st.ID, ":stack/"+names.Stack()+"/") {
			t.Errorf("status.stack = %s %s %s", st.Name, st.Status, st.ID)
		}
		if len(st.Outputs) < 33 {
			t.Errorf("%d outputs in status, want every output (33+)", len(st.Outputs))
		}
	}) {
		t.FailNow()
	}

	// CloudWatch datapoints are per minute, so N consecutive samples take N
	// minutes; a rehearsal asks for one.
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1 })
	taskARN := pm.Status.Stack.Outputs["DMSTaskArn"]

	// The source holds payments before the migration starts, and the service
	// keeps writing them through the full load and CDC.
	source := openDatabase(t, pm.Status.Stack.Outputs["SourceDbSecretArn"])
	target := openDatabase(t, pm.Status.Stack.Outputs["TargetDbSecretArn"])
	seeded, err := workload.Seed(callCtx(t), source.pool, workload.SeedOptions{Rows: 20000})
	if err != nil {
		t.Fatal(err)
	}
	payments := startWorkload(t, source, 200)

	if !t.Run("PreflightFullLoadAndReplicating", func(t *testing.T) {
		pm = waitFor(t, key, stackTimout, "Replicating", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating
		})
		seen := map[paymentsv1alpha1.Phase]bool{}
		for _, h := range pm.Status.History {
			seen[h.Phase] = true
		}
		for _, p := range []paymentsv1alpha1.Phase{paymentsv1alpha1.PhaseProvisioning, paymentsv1alpha1.PhasePreflight, paymentsv1alpha1.PhaseFullLoad, paymentsv1alpha1.PhaseReplicating} {
			if !seen[p] {
				t.Errorf("history never shows %s: %+v", p, pm.Status.History)
			}
		}
		pre := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionPreflightPassed)
		for _, line := range []string{"rds.logical_replication=1 applied", "dms-vpc-role, dms-cloudwatch-logs-role trust DMS", "replication instance: available",
			"source endpoint connection: successful", "target endpoint connection: successful",
			"ok   mapped tables: payment_methods, payments, refunds, transactions (4 in public)",
			"ok   target schema: payment_methods, payments, refunds, transactions as on the source",
			"ok   LOB sizes: the largest value, in payments.details,", "ok   source replication: wal_level=logical"} {
			if !strings.Contains(pre.Message, line) {
				t.Errorf("PreflightPassed does not say %q:\n%s", line, pre.Message)
			}
		}
		r := pm.Status.Replication
		if r.TaskARN != taskARN || r.TaskStatus != "running" || r.FullLoadPercent != 100 || r.TablesLoaded != 5 || r.StartedAt == nil {
			t.Errorf("status.replication = %+v", r)
		}
		if r.CDCLatencyTargetSeconds == nil || r.SampleTime == nil {
			t.Errorf("lag not read from CloudWatch: %+v", r)
		}
	}) {
		t.FailNow()
	}

	// Every payment acknowledged on the source, the seeded ones and those
	// written during the full load and CDC, is on the target exactly once.
	t.Run("LedgerOnTheTarget", func(t *testing.T) {
		report := payments.stop(t)
		ledger := seeded.Ledger
		ledger.Merge(report.Ledger)
		got, err := workload.CheckWait(callCtx(t), target.pool, ledger, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		_ = got.Print(&out)
		t.Logf("ledger check on the target after %s:\n%s", got.Waited.Round(time.Millisecond), out.String())
		t.Logf("rows: source payments %d transactions %d, target payments %d transactions %d",
			source.count(t, "payments"), source.count(t, "transactions"), target.count(t, "payments"), target.count(t, "transactions"))
		if !got.OK() || got.Lost != 0 || got.DuplicatedKeys != 0 || got.AcknowledgedPresent != got.Acknowledged {
			t.Errorf("the target fails the ledger: %v", got.Problems())
		}
		if report.Acknowledged < 100 {
			t.Errorf("only %d payments acknowledged during the run", report.Acknowledged)
		}
		// What DMS itself would not have created is there: the unique key.
		var constraints int
		if err := target.pool.QueryRow(callCtx(t), `SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.payments'::regclass AND contype = 'u'`).Scan(&constraints); err != nil || constraints != 1 {
			t.Errorf("unique constraints of payments on the target: %d %v", constraints, err)
		}
		pm = waitFor(t, key, time.Minute, "validated and Ready", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return condStatus(pm, paymentsv1alpha1.ConditionDataValidated) == metav1.ConditionTrue && condStatus(pm, paymentsv1alpha1.ConditionReady) == metav1.ConditionTrue
		})
		if pm.Status.Replication.ValidationState != "Validated" {
			t.Errorf("validation state %q", pm.Status.Replication.ValidationState)
		}
	})

	t.Run("PrinterColumns", func(t *testing.T) {
		out := kubectl(t, "get", "paymentmigration", key.Name, "-n", key.Namespace)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("kubectl get printed:\n%s", out)
		}
		header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
		want := []string{"NAME", "PHASE", "STACK", "REPLICATION", "LAG", "TARGET%", "CUTOVER", "WRITER", "GATES", "READY", "AGE"}
		if strings.Join(header, " ") != strings.Join(want, " ") {
			t.Errorf("columns %v, want %v", header, want)
		}
		// The stack is UPDATE_COMPLETE: the gate change above updated its runbook.
		// LAG is the measured CDC latency of an idle task: 0, or 1 s at most.
		// TARGET% is Route 53's target weight; no cutover yet, the writer on the source.
		if got := strings.Join(row[:min(len(row), 5)], " "); got != key.Name+" Replicating UPDATE_COMPLETE running 0" &&
			got != key.Name+" Replicating UPDATE_COMPLETE running 1" {
			t.Errorf("row %v", row)
		}
		if len(row) < 10 || strings.Join(row[5:8], " ") != "0 Idle source" || row[9] != "True" {
			t.Errorf("row %v, want TARGET%% 0, CUTOVER Idle, WRITER source, the gates, READY True", row)
		}
		// -o wide adds the full-load progress.
		wide := strings.Split(strings.TrimSpace(kubectl(t, "get", "paymentmigration", key.Name, "-n", key.Namespace, "-o", "wide")), "\n")
		header, row = strings.Fields(wide[0]), strings.Fields(wide[1])
		if header[len(header)-1] != "LOAD%" || row[len(row)-1] != "100" {
			t.Errorf("-o wide: %v / %v, want LOAD%% 100 last", header, row)
		}
	})

	t.Run("LagBreachFlipsTheCondition", func(t *testing.T) {
		if err := emu.SetTaskLag(callCtx(t), taskARN, 4, 120); err != nil {
			t.Fatal(err)
		}
		pm := waitFor(t, key, time.Minute, "LagAboveThreshold", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionLagWithinThreshold).Reason == "LagAboveThreshold"
		})
		if c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionLagWithinThreshold); c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "target 120s") {
			t.Errorf("LagWithinThreshold = %+v", c)
		}
		if condStatus(pm, paymentsv1alpha1.ConditionReady) != metav1.ConditionFalse {
			t.Error("Ready stays True through a lag breach")
		}
		if err := emu.ClearTaskLag(callCtx(t), taskARN); err != nil {
			t.Fatal(err)
		}
	})

	// A payment changed by hand on the target differs from the source: the
	// comparison of the two databases finds it.
	t.Run("ValidationFindsARowChangedOnTheTarget", func(t *testing.T) {
		if n := target.exec(t, `UPDATE public.payments SET amount_cents = amount_cents + 1 WHERE idempotency_key = 'seed-1'`); n != 1 {
			t.Fatalf("%d rows changed", n)
		}
		pm := waitFor(t, key, time.Minute, "MismatchedRecords", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionDataValidated)
			return c != nil && c.Reason == "MismatchedRecords"
		})
		c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionDataValidated)
		if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "public.payments: Mismatched records") || pm.Status.Replication.ValidationFailedRecords != 1 {
			t.Errorf("DataValidated = %+v, failed records %d", c, pm.Status.Replication.ValidationFailedRecords)
		}
		target.exec(t, `UPDATE public.payments SET amount_cents = amount_cents - 1 WHERE idempotency_key = 'seed-1'`)
		waitFor(t, key, time.Minute, "validated again once the row is put back", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return condStatus(pm, paymentsv1alpha1.ConditionDataValidated) == metav1.ConditionTrue
		})
	})

	t.Run("PauseStopsAndUnpauseResumesWithoutReload", func(t *testing.T) {
		mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = true })
		waitFor(t, key, time.Minute, "the task stopped", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.Replication.TaskStatus == "stopped"
		})
		mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = false })
		waitFor(t, key, time.Minute, "the task running again", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.Replication.TaskStatus == "running" && condStatus(pm, paymentsv1alpha1.ConditionReplicationRunning) == metav1.ConditionTrue
		})
		// A start-replication would have reloaded the target: the full load
		// would start over. Resumed, it stays complete.
		task := describeTask(t, taskARN)
		if task.ReplicationTaskStats == nil || task.ReplicationTaskStats.FullLoadProgressPercent != 100 {
			t.Errorf("full load restarted after the resume: %+v", task.ReplicationTaskStats)
		}
	})

	// Payments written while the task was stopped are captured by its slot and
	// arrive once it resumes.
	t.Run("PaymentsWrittenWhilePausedArriveAfterTheResume", func(t *testing.T) {
		mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = true })
		waitFor(t, key, time.Minute, "the task stopped", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.Replication.TaskStatus == "stopped"
		})
		report, err := workload.Run(callCtx(t), workload.Config{Conn: source.conn, Rate: 500, Count: 300, RefundEvery: -1})
		if err != nil || report.Acknowledged != 300 {
			t.Fatalf("writing while paused: %d acknowledged, %v", report.Acknowledged, err)
		}
		if got, err := workload.Check(callCtx(t), target.pool, report.Ledger); err != nil || got.Lost != 300 {
			t.Errorf("while paused the target already has %d of the 300 payments (%v)", 300-got.Lost, err)
		}
		mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.Paused = false })
		got, err := workload.CheckWait(callCtx(t), target.pool, report.Ledger, 30*time.Second)
		if err != nil || !got.OK() {
			t.Errorf("after the resume: %v %v", got.Problems(), err)
		}
		t.Logf("300 payments written while paused were on the target %s after the unpause", got.Waited.Round(time.Millisecond))
	})

	d := deployed{names: names, outputs: pm.Status.Stack.Outputs}
	t.Run("Resources", func(t *testing.T) {
		for _, c := range resourceChecks {
			t.Run(c.name, func(t *testing.T) { c.check(t, d) })
		}
	})

	t.Run("TagChangeRunsAChangeSet", func(t *testing.T) {
		oldHash := get(t, key).Status.Stack.TemplateHash
		mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Tags["MigrationPhase"] = "rehearsal" })
		waitFor(t, key, stackTimout, "the update to complete", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.ObservedGeneration == pm.Generation && pm.Status.Stack.TemplateHash != oldHash &&
				pm.Status.Stack.Status == "UPDATE_COMPLETE" && condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
		})
		stacks, err := cloudformation.NewFromConfig(awsCfg).DescribeStacks(callCtx(t), &cloudformation.DescribeStacksInput{StackName: aws.String(names.Stack())})
		if err != nil {
			t.Fatal(err)
		}
		var tag string
		for _, tg := range stacks.Stacks[0].Tags {
			if aws.ToString(tg.Key) == "MigrationPhase" {
				tag = aws.ToString(tg.Value)
			}
		}
		if tag != "rehearsal" {
			t.Errorf("stack tag MigrationPhase = %q after the update", tag)
		}
	})

	// A second migration in the same account cannot own the account-wide DMS
	// roles the first one created: its creation fails on that resource, the
	// condition says so, and switching createServiceRoles off recovers it.
	t.Run("FailedResourceIsNamedAndAFixedSpecRecovers", func(t *testing.T) {
		second := newMigration("payments-clash", "clash")
		if err := k8s.Create(t.Context(), second); err != nil {
			t.Fatal(err)
		}
		key2 := client.ObjectKeyFromObject(second)
		pm := waitFor(t, key2, stackTimout, "creation given up", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.Phase == paymentsv1alpha1.PhaseFailed
		})
		c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionStackReady)
		// Both account-wide roles clash and neither depends on the other, so
		// CloudFormation may report either first.
		named := func(msg string) bool {
			return (strings.Contains(msg, "DmsVpcRole (AWS::IAM::Role)") || strings.Contains(msg, "DmsCloudWatchLogsRole (AWS::IAM::Role)")) &&
				strings.Contains(msg, "already exists")
		}
		if c.Status != metav1.ConditionFalse || c.Reason != "CreateFailed" || !named(c.Message) {
			t.Errorf("StackReady = %s/%s %q, want it to name the clashing DMS role", c.Status, c.Reason, c.Message)
		}
		if !named(pm.Status.Stack.Reason) || pm.Status.Stack.Status != "ROLLBACK_COMPLETE" {
			t.Errorf("status.stack = %s %q", pm.Status.Stack.Status, pm.Status.Stack.Reason)
		}

		off := false
		mutate(t, key2, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Replication.CreateServiceRoles = &off })
		waitFor(t, key2, stackTimout, "the fixed spec to deploy", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue && pm.Status.Phase != paymentsv1alpha1.PhaseFailed
		})
		if err := k8s.Delete(t.Context(), get(t, key2)); err != nil {
			t.Fatal(err)
		}
		eventually(t, stackTimout, "the second migration to be gone", func() (bool, error) {
			err := k8s.Get(t.Context(), key2, &paymentsv1alpha1.PaymentMigration{})
			return apierrors.IsNotFound(err), err
		})
	})

	t.Run("DeletionEmptiesBucketsAndRemovesTheStack", func(t *testing.T) {
		s3c := s3Client()
		source, target := d.outputs["SourceBucketName"], d.outputs["TargetBucketName"]
		for _, body := range []string{"v1", "v2"} {
			if _, err := s3c.PutObject(callCtx(t), &s3.PutObjectInput{Bucket: aws.String(source), Key: aws.String("logs/2026/11/27.log"), Body: strings.NewReader(body)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s3c.DeleteObject(callCtx(t), &s3.DeleteObjectInput{Bucket: aws.String(source), Key: aws.String("logs/2026/11/27.log")}); err != nil {
			t.Fatal(err) // leaves two versions and a delete marker
		}
		if _, err := s3c.PutObject(callCtx(t), &s3.PutObjectInput{Bucket: aws.String(target), Key: aws.String("audit/1.json"), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}

		if err := k8s.Delete(t.Context(), get(t, key)); err != nil {
			t.Fatal(err)
		}
		eventually(t, stackTimout, "the PaymentMigration to be gone", func() (bool, error) {
			err := k8s.Get(t.Context(), key, &paymentsv1alpha1.PaymentMigration{})
			return apierrors.IsNotFound(err), err
		})
		_, err := cloudformation.NewFromConfig(awsCfg).DescribeStacks(callCtx(t), &cloudformation.DescribeStacksInput{StackName: aws.String(names.Stack())})
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("stack still described after deletion: %v", err)
		}
		for _, bucket := range []string{source, target} {
			_, err := s3c.HeadBucket(callCtx(t), &s3.HeadBucketInput{Bucket: aws.String(bucket)})
			var notFound *s3types.NotFound
			if !errors.As(err, &notFound) {
				t.Errorf("bucket %s still exists: %v", bucket, err)
			}
		}
	})
}

func newMigration(name, suffix string) *paymentsv1alpha1.PaymentMigration {
	return &paymentsv1alpha1.PaymentMigration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: suffix, Region: region},
	}
}

func readSample(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

// mutate changes the spec as kubectl edit does: read, change, write, again
// if the operator wrote status in between.
func mutate(t *testing.T, key client.ObjectKey, change func(*paymentsv1alpha1.PaymentMigration)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pm := get(t, key)
		change(pm)
		return k8s.Update(t.Context(), pm)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func describeTask(t *testing.T, arn string) dmstypes.ReplicationTask {
	t.Helper()
	out, err := dms.NewFromConfig(awsCfg).DescribeReplicationTasks(callCtx(t), &dms.DescribeReplicationTasksInput{
		Filters: []dmstypes.Filter{{Name: aws.String("replication-task-arn"), Values: []string{arn}}}})
	if err != nil || len(out.ReplicationTasks) != 1 {
		t.Fatalf("describing task %s: %v", arn, err)
	}
	return out.ReplicationTasks[0]
}

func get(t *testing.T, key client.ObjectKey) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(t.Context(), key, &pm); err != nil {
		t.Fatal(err)
	}
	return &pm
}

func waitFor(t *testing.T, key client.ObjectKey, timeout time.Duration, what string, cond func(*paymentsv1alpha1.PaymentMigration) bool) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	eventually(t, timeout, what, func() (bool, error) {
		err := k8s.Get(t.Context(), key, &pm)
		return err == nil && cond(&pm), err
	})
	return &pm
}

func condStatus(pm *paymentsv1alpha1.PaymentMigration, condType string) metav1.ConditionStatus {
	if c := meta.FindStatusCondition(pm.Status.Conditions, condType); c != nil {
		return c.Status
	}
	return ""
}
