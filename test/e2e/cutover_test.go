package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// writerResolver resolves the writer record the way the payment service's
// resolver does, from Route 53 (the emulator's), and maps the database
// address it names to its emulated server's port.
func writerResolver(t *testing.T, zoneID, writer string) workload.Resolver {
	api := route53.NewFromConfig(awsCfg)
	return workload.ResolverFunc(func(ctx context.Context, host string) ([]string, error) {
		out, err := api.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(writer), StartRecordType: r53types.RRTypeCname, MaxItems: aws.Int32(1),
		})
		if err != nil {
			return nil, err
		}
		if len(out.ResourceRecordSets) == 0 || len(out.ResourceRecordSets[0].ResourceRecords) == 0 {
			return nil, fmt.Errorf("no writer record %s", writer)
		}
		address := strings.TrimSuffix(aws.ToString(out.ResourceRecordSets[0].ResourceRecords[0].Value), ".")
		servers, err := emu.Servers(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range servers {
			if s.Host == address {
				return []string{fmt.Sprintf("%s:%d", s.Host, s.Port)}, nil
			}
		}
		return nil, fmt.Errorf("the writer record names %s, which is no database", address)
	})
}

// appConn is the payment service's connection: its own role, through the
// writer record.
func appConn(t *testing.T, out map[string]string) workload.Conn {
	t.Helper()
	sec, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(callCtx(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String(out["AppDbSecretArn"])})
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Username, Password, Host, Dbname string }
	if err := json.Unmarshal([]byte(aws.ToString(sec.SecretString)), &s); err != nil {
		t.Fatal(err)
	}
	if s.Host+"." != out["WriterRecordName"] {
		t.Errorf("the app secret's host %q is not the writer record %q", s.Host, out["WriterRecordName"])
	}
	return workload.Conn{Host: s.Host, Port: 5432, User: s.Username, Password: s.Password, Database: s.Dbname, SSLMode: "require",
		Resolver: writerResolver(t, out["HostedZoneId"], out["WriterRecordName"])}
}

func startAppWorkload(t *testing.T, conn workload.Conn, rate float64) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.report, b.err = workload.Run(ctx, workload.Config{Conn: conn, Rate: rate, Workers: 16, Duration: time.Hour, RefundEvery: -1})
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

func cutoverState(pm *paymentsv1alpha1.PaymentMigration) string {
	if pm.Status.Cutover == nil {
		return ""
	}
	return string(pm.Status.Cutover.State)
}

// checkLedger checks every acknowledged payment is on db exactly once.
func checkLedger(t *testing.T, what string, db *database, ledger *workload.Ledger) {
	t.Helper()
	got, err := workload.CheckWait(callCtx(t), db.pool, ledger, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	_ = got.Print(&out)
	t.Logf("ledger check on the %s:\n%s", what, out.String())
	if !got.OK() || got.Lost != 0 || got.DuplicatedKeys != 0 {
		t.Errorf("the %s fails the ledger: %v", what, got.Problems())
	}
}

// approveUntilCompleted approves the cutover and requires it to complete.
func approveUntilCompleted(t *testing.T, key client.ObjectKey) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	pm := waitFor(t, key, 3*time.Minute, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "Completed" || cutoverState(pm) == "RolledBack"
	})
	if cutoverState(pm) != "Completed" {
		t.Fatalf("the cutover rolled back: %s: %s", pm.Status.Cutover.Reason, pm.Status.Cutover.Message)
	}
	return pm
}

// replicatingMigration creates pm, seeds its source once the stack is ready
// and returns once it replicates with every cutover gate passing.
func replicatingMigration(t *testing.T, pm *paymentsv1alpha1.PaymentMigration) (client.ObjectKey, map[string]string, *database, *database, workload.SeedResult) {
	t.Helper()
	if err := k8s.Create(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pm)
	t.Cleanup(func() { deleteAndWait(t, key) })
	pm = waitFor(t, key, stackTimout, "StackReady", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
	})
	out := pm.Status.Stack.Outputs
	source := openDatabase(t, out["SourceDbSecretArn"])
	target := openDatabase(t, out["TargetDbSecretArn"])
	seeded, err := workload.Seed(callCtx(t), source.pool, workload.SeedOptions{Rows: 2000})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, key, stackTimout, "Replicating with the gates passing", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condStatus(pm, paymentsv1alpha1.ConditionCutoverReady) == metav1.ConditionTrue
	})
	return key, out, source, target, seeded
}

// TestCutoverOnRealDatabases: the payment workload writes through the writer
// record as its own role at 200/s while the operator cuts over (one step,
// the fence, the watermark drain, the flip); then an abort after the flip
// takes the writes back to the source through the reverse path. Nothing
// acknowledged is lost or written twice on either side.
func TestCutoverOnRealDatabases(t *testing.T) {
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: "cutover", Namespace: "default"},
		Spec: paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "cut200"}}
	pm.Spec.Traffic.RecordTTLSeconds = 1
	pm.Spec.Cutover.StepIntervalSeconds = 3
	pm.Spec.Cutover.Steps = []int32{50, 100}
	pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	key, out, source, target, seeded := replicatingMigration(t, pm)
	conn := appConn(t, out)
	payments := startAppWorkload(t, conn, 200)
	time.Sleep(3 * time.Second) // the service is writing before the approval

	pm = approveUntilCompleted(t, key)
	time.Sleep(3 * time.Second) // writes on the target after the flip
	report := payments.stop(t)
	c := pm.Status.Cutover
	t.Logf("freeze (operator: fence requested to writer in sync) %dms; drain %dms; sessions ended %d; sequences set %d",
		*c.FreezeMillis, *c.Ledger.DrainMillis, c.Ledger.SessionsTerminated, c.Ledger.SequencesSet)
	t.Logf("write-unavailable window seen by the workload at 200/s: %s", report.LongestUnavailable.Duration())
	ledger := seeded.Ledger
	ledger.Merge(report.Ledger)
	checkLedger(t, "target after the cutover", target, ledger)
	if report.Acknowledged < 500 {
		t.Errorf("only %d payments acknowledged", report.Acknowledged)
	}

	// After the flip the service writes on the target; the abort brings
	// those payments back to the source.
	payments = startAppWorkload(t, conn, 200)
	time.Sleep(3 * time.Second)
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Abort = true })
	pm = waitFor(t, key, 2*time.Minute, "RolledBack", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "RolledBack" })
	time.Sleep(3 * time.Second) // writes on the source after the rollback
	report = payments.stop(t)
	t.Logf("write-unavailable window of the rollback: %s", report.LongestUnavailable.Duration())
	ledger.Merge(report.Ledger)
	checkLedger(t, "source after the rollback", source, ledger)
	if pm.Status.Phase != paymentsv1alpha1.PhaseRolledBack || pm.Status.Cutover.Writer != "source" {
		t.Errorf("after the abort: phase %s writer %s", pm.Status.Phase, pm.Status.Cutover.Writer)
	}
}

// TestCutoverRollsBackOnALagBreachThenCompletesAt1000PerSecond: at 1000
// payments/s, a lag breach during the service-tier steps rolls the cutover
// back on its own while the workload keeps writing to the source; once the
// lag is back and the approval given again, the cutover completes. Both
// ledgers hold.
func TestCutoverRollsBackOnALagBreachThenCompletesAt1000PerSecond(t *testing.T) {
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: "cutover1000", Namespace: "default"},
		Spec: paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "cut1000"}}
	pm.Spec.Traffic.RecordTTLSeconds = 1
	// Long enough between steps for a lag datapoint (one a minute) to land.
	pm.Spec.Cutover.StepIntervalSeconds = 75
	pm.Spec.Cutover.Steps = []int32{25, 50, 100}
	pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	key, out, _, target, seeded := replicatingMigration(t, pm)
	payments := startAppWorkload(t, appConn(t, out), 1000)
	time.Sleep(2 * time.Second)

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	waitFor(t, key, time.Minute, "the first step", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Cutover != nil && pm.Status.Cutover.Step == 0
	})
	breach := time.Now()
	if err := emu.SetTaskLag(callCtx(t), out["DMSTaskArn"], 4, 120); err != nil {
		t.Fatal(err)
	}
	pm = waitFor(t, key, 2*time.Minute, "RolledBack", func(pm *paymentsv1alpha1.PaymentMigration) bool { return cutoverState(pm) == "RolledBack" })
	t.Logf("lag breach injected to rollback complete: %s (reason %s)", time.Since(breach).Round(time.Millisecond), pm.Status.Cutover.Reason)
	if lag := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionLagWithinThreshold); lag != nil {
		for _, in := range pm.Status.Cutover.Intents {
			if strings.HasSuffix(in.ID, "/rollback/routes-source") && in.Finished != nil {
				t.Logf("gate failure observed (LagWithinThreshold False at %s) to rollback weights applied: %s",
					lag.LastTransitionTime.UTC().Format("15:04:05"), in.Finished.Sub(lag.LastTransitionTime.Time))
			}
		}
	}
	if pm.Status.Cutover.Reason != "GateFailed" || pm.Status.Cutover.FlippedAt != nil || pm.Status.Traffic.TargetWeight != 0 {
		t.Errorf("rollback: %+v", pm.Status.Cutover)
	}
	if err := emu.ClearTaskLag(callCtx(t), out["DMSTaskArn"]); err != nil {
		t.Fatal(err)
	}
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = false })
	waitFor(t, key, 3*time.Minute, "re-armed with the lag back", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return !pm.Status.Cutover.AwaitingReapproval && condStatus(pm, paymentsv1alpha1.ConditionCutoverReady) == metav1.ConditionTrue
	})
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	pm = waitFor(t, key, 3*time.Minute, "Completed", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "Completed" || (cutoverState(pm) == "RolledBack" && pm.Status.Cutover.Attempt == 2)
	})
	if cutoverState(pm) != "Completed" {
		t.Fatalf("attempt 2 rolled back: %s: %s", pm.Status.Cutover.Reason, pm.Status.Cutover.Message)
	}
	time.Sleep(2 * time.Second)
	report := payments.stop(t)
	c := pm.Status.Cutover
	t.Logf("attempt %d: freeze (operator) %dms; drain %dms; write-unavailable window seen by the workload at 1000/s: %s",
		c.Attempt, *c.FreezeMillis, *c.Ledger.DrainMillis, report.LongestUnavailable.Duration())
	ledger := seeded.Ledger
	ledger.Merge(report.Ledger)
	checkLedger(t, "target after the rollback and the second attempt", target, ledger)
}

// TestAFreezeWhoseWatermarkNeverArrivesRollsBackOnRealDatabases: the
// target's apply of the forward path fails on the watermark row (a trigger
// raising on it, as a broken target would), so the drain never sees it; at
// freezeTimeoutSeconds the cutover rolls back, the source's fence is lifted
// and its sessions reconnect writable, the reverse slot made before the
// freeze is dropped, and the service writes on the source again.
func TestAFreezeWhoseWatermarkNeverArrivesRollsBackOnRealDatabases(t *testing.T) {
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: "freezeout", Namespace: "default"},
		Spec: paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "cutfrz"}}
	pm.Spec.Traffic.RecordTTLSeconds = 1
	pm.Spec.Cutover.Steps = []int32{100}
	pm.Spec.Cutover.FreezeTimeoutSeconds = 30
	pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	key, out, source, target, seeded := replicatingMigration(t, pm)

	watermarks := pgx.Identifier{"public", naming.WatermarkTable}.Sanitize()
	for _, sql := range []string{
		`CREATE FUNCTION public.refuse_watermark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the target refuses the watermark'; END $$`,
		`CREATE TRIGGER refuse_watermark BEFORE INSERT ON ` + watermarks + ` FOR EACH ROW EXECUTE FUNCTION public.refuse_watermark()`,
		// Replication applies changes as a replica: only ALWAYS triggers fire.
		`ALTER TABLE ` + watermarks + ` ENABLE ALWAYS TRIGGER refuse_watermark`,
	} {
		if _, err := target.pool.Exec(callCtx(t), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		_, _ = target.pool.Exec(context.Background(), `DROP TRIGGER IF EXISTS refuse_watermark ON `+watermarks)
	})

	conn := appConn(t, out)
	payments := startAppWorkload(t, conn, 200)
	time.Sleep(3 * time.Second)
	approvedAt := time.Now()
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Cutover.Approved = true })
	pm = waitFor(t, key, 3*time.Minute, "RolledBack", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return cutoverState(pm) == "RolledBack" || cutoverState(pm) == "Completed"
	})
	if cutoverState(pm) != "RolledBack" || pm.Status.Cutover.Reason != "FreezeTimeout" {
		t.Fatalf("want RolledBack after the freeze timeout, got %s (%s: %s)", cutoverState(pm), pm.Status.Cutover.Reason, pm.Status.Cutover.Message)
	}
	t.Logf("approval to rollback complete: %s; %s", time.Since(approvedAt).Round(time.Second), pm.Status.Cutover.Message)
	if pm.Status.Cutover.Writer != "source" || pm.Status.Phase != paymentsv1alpha1.PhaseRolledBack {
		t.Errorf("after the rollback: writer %s phase %s", pm.Status.Cutover.Writer, pm.Status.Phase)
	}
	report := payments.stop(t)
	t.Logf("through the freeze and its rollback: %d acknowledged, %d failed, the longest write-unavailable window %s",
		report.Acknowledged, report.Failed, report.LongestUnavailable.Duration())
	ledger := seeded.Ledger
	ledger.Merge(report.Ledger)

	// The source takes the service's writes again, every one of them.
	payments = startAppWorkload(t, conn, 200)
	time.Sleep(3 * time.Second)
	after := payments.stop(t)
	if after.Acknowledged < 300 || after.Failed != 0 {
		t.Errorf("after the rollback the source took %d payments and refused %d", after.Acknowledged, after.Failed)
	}
	ledger.Merge(after.Ledger)
	checkLedger(t, "source after the freeze timeout", source, ledger)

	var slots int
	if err := target.pool.QueryRow(callCtx(t), `SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
		naming.New("cutfrz").ReverseSlot()).Scan(&slots); err != nil || slots != 0 {
		t.Errorf("the reverse slot is still on the target after the rollback (%d, %v)", slots, err)
	}
}
