package controller_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
)

func TestCreateFollowsTheStackToReady(t *testing.T) {
	key := create(t, newMigration("create", "create", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)

	if !controllerutil.ContainsFinalizer(pm, controllers.Finalizer) {
		t.Error("finalizer missing")
	}
	if n := cloud.count("Create"); n < 1 {
		t.Fatalf("CreateStack calls = %d", n)
	}
	st := pm.Status.Stack
	if st == nil || st.Name != "TapStackcreate" || st.Status != "CREATE_COMPLETE" || !strings.HasPrefix(st.ID, "arn:aws:cloudformation:") {
		t.Fatalf("status.stack = %+v", st)
	}
	if st.Outputs["VpcId"] != "vpc-0123" || len(st.Outputs) != len(outputsOf(st.Name)) {
		t.Errorf("outputs not copied into status: %v", st.Outputs)
	}
	if !strings.HasPrefix(st.TemplateHash, "sha256:") || st.CreateAttempts != 1 {
		t.Errorf("templateHash %q, createAttempts %d", st.TemplateHash, st.CreateAttempts)
	}
	if pm.Status.Phase == paymentsv1alpha1.PhaseProvisioning || pm.Status.Phase == paymentsv1alpha1.PhaseFailed {
		t.Errorf("phase = %s once the stack is ready", pm.Status.Phase)
	}
	if len(pm.Status.History) < 2 || pm.Status.History[0].Phase != paymentsv1alpha1.PhaseProvisioning || pm.Status.History[1].Phase != paymentsv1alpha1.PhasePreflight {
		t.Errorf("history does not start Provisioning, Preflight: %+v", pm.Status.History)
	}
	for _, h := range pm.Status.History {
		if h.Actor != controllers.Operator || h.Time.IsZero() {
			t.Errorf("history entry without actor or time: %+v", h)
		}
	}
	waitForEvent(t, "create", "Created")
	waitForEvent(t, "create", "PhasePreflight")
}

func TestRetriedReconcilesNeverCreateASecondStack(t *testing.T) {
	before := cloud.count("Create")
	key := create(t, newMigration("once", "once", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)
	// Wake the reconciler several times; the stack exists, so no CreateStack.
	for i := 0; i < 3; i++ {
		base := pm.DeepCopy()
		if pm.Annotations == nil {
			pm.Annotations = map[string]string{}
		}
		pm.Annotations["test/poke"] = strings.Repeat("x", i+1)
		if err := k8s.Patch(t.Context(), pm, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, key, "still ready", stackReady)
	if got := cloud.count("Create") - before; got != 1 {
		t.Errorf("CreateStack called %d times for one migration", got)
	}
}

func TestSpecChangeUpdatesTheStackThroughAChangeSet(t *testing.T) {
	key := create(t, newMigration("update", "update", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)
	oldHash := pm.Status.Stack.TemplateHash
	executed := cloud.count("ExecuteChangeSet")

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Tags["MigrationPhase"] = "cutover-rehearsal" })
	pm = waitFor(t, key, "the update applied", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Stack.TemplateHash != oldHash && pm.Status.Stack.Status == "UPDATE_COMPLETE" && stackReady(pm)
	})
	if cloud.count("ExecuteChangeSet") <= executed {
		t.Error("no change set was executed")
	}
	st, _ := cloud.stack("TapStackupdate")
	if st.hash != pm.Status.Stack.TemplateHash {
		t.Errorf("stack runs template %s, status says %s", st.hash, pm.Status.Stack.TemplateHash)
	}
	waitForEvent(t, "update", "Updated")
}

// A change set that would replace a database is refused, deleted and shown;
// the annotation that names the database lets exactly that one through.
func TestUpdateThatReplacesADatabaseIsRefusedUntilAllowed(t *testing.T) {
	key := create(t, newMigration("replace", "replace", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)
	oldHash := pm.Status.Stack.TemplateHash
	cloud.plan("TapStackreplace",
		cfnstack.ResourceChange{LogicalID: "EcsService", Type: "AWS::ECS::Service", Action: "Modify", Replacement: "False"},
		cfnstack.ResourceChange{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Action: "Modify", Replacement: "True", Recreating: []string{"DBName"}})
	executed := cloud.count("ExecuteChangeSet")

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Tags["MigrationPhase"] = "rehearsal" })
	pm = waitFor(t, key, "the update refused", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, "StackReady").Reason == "ReplacementRefused"
	})
	c := condition(pm, "StackReady")
	for _, want := range []string{"SourceDatabase", "DBName", stackplan.AllowReplacementAnnotation} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("StackReady message %q does not name %q", c.Message, want)
		}
	}
	if c.Status != metav1.ConditionFalse {
		t.Errorf("StackReady = %s, want False", c.Status)
	}
	if st, _ := cloud.stack("TapStackreplace"); st.hash != oldHash || st.status != "CREATE_COMPLETE" {
		t.Errorf("stack runs %s (%s), want the old template %s untouched", st.hash, st.status, oldHash)
	}
	if cloud.count("ExecuteChangeSet") != executed {
		t.Error("a refused change set was executed")
	}
	if cloud.count("DeleteChangeSet") == 0 {
		t.Error("the refused change set was not deleted")
	}

	// Another id in the annotation does not allow it.
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
		pm.Annotations = map[string]string{stackplan.AllowReplacementAnnotation: "TargetDatabase"}
	})
	time.Sleep(2 * time.Second)
	if cloud.count("ExecuteChangeSet") != executed {
		t.Error("an annotation naming another resource let the replacement through")
	}

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
		pm.Annotations = map[string]string{stackplan.AllowReplacementAnnotation: "TargetDatabase, SourceDatabase"}
	})
	waitFor(t, key, "the allowed update applied", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Stack.TemplateHash != oldHash && pm.Status.Stack.Status == "UPDATE_COMPLETE" && stackReady(pm)
	})
}

func TestFailedCreationNamesTheResourceAndIsRetried(t *testing.T) {
	cloud.script("TapStackretry", &scripted{onCreate: true, times: 1,
		resource: "TargetDatabase (AWS::RDS::DBInstance)", reason: "DB instance class db.r5.large is not available in us-east-1e"})
	key := create(t, newMigration("retry", "retry", "us-east-1"))
	pm := waitFor(t, key, "StackReady after a retry", stackReady)
	if pm.Status.Stack.CreateAttempts != 2 {
		t.Errorf("createAttempts = %d, want 2", pm.Status.Stack.CreateAttempts)
	}
	ev := waitForEvent(t, "retry", "CreateFailed")
	if ev.Type != "Warning" || !strings.Contains(ev.Note, "TargetDatabase (AWS::RDS::DBInstance) failed: DB instance class") {
		t.Errorf("the failure event does not name the resource and reason: %s %q", ev.Type, ev.Note)
	}
}

func TestCreationGivesUpAfterMaxAttempts(t *testing.T) {
	cloud.script("TapStackgiveup", &scripted{onCreate: true, times: -1,
		resource: "SourceBucket (AWS::S3::Bucket)", reason: "payments-source-bucket already exists"})
	key := create(t, newMigration("giveup", "giveup", "us-east-1"))
	pm := waitFor(t, key, "phase Failed", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseFailed
	})
	c := condition(pm, paymentsv1alpha1.ConditionStackReady)
	if c.Status != metav1.ConditionFalse || c.Reason != "CreateFailed" || !strings.Contains(c.Message, "SourceBucket (AWS::S3::Bucket) failed") {
		t.Errorf("StackReady = %+v", c)
	}
	if pm.Status.Stack.CreateAttempts != 3 || pm.Status.Stack.Status != "ROLLBACK_COMPLETE" {
		t.Errorf("stack status %+v", pm.Status.Stack)
	}
	if ready := condition(pm, paymentsv1alpha1.ConditionReady); ready.Status != metav1.ConditionFalse || ready.Reason != "CreateFailed" {
		t.Errorf("Ready = %+v", ready)
	}
}

func TestRolledBackUpdateIsReportedNotHidden(t *testing.T) {
	key := create(t, newMigration("rollback", "rollback", "us-east-1"))
	waitFor(t, key, "StackReady", stackReady)
	cloud.script("TapStackrollback", &scripted{onUpdate: true, times: 1,
		resource: "PaymentService (AWS::ECS::Service)", reason: "Service did not stabilize"})
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Service.DesiredCount = 3 })
	pm := waitFor(t, key, "UpdateRolledBack", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionStackReady).Reason == "UpdateRolledBack"
	})
	c := condition(pm, paymentsv1alpha1.ConditionStackReady)
	if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "PaymentService (AWS::ECS::Service) failed: Service did not stabilize") {
		t.Errorf("StackReady = %+v", c)
	}
	if pm.Status.Stack.Status != "UPDATE_ROLLBACK_COMPLETE" || !strings.Contains(pm.Status.Stack.Reason, "PaymentService") {
		t.Errorf("status.stack = %+v", pm.Status.Stack)
	}
}

func TestAWSErrorsAreReportedAsUnknown(t *testing.T) {
	cloud.setObserveErr(errors.New("operation error CloudFormation: DescribeStacks, exceeded maximum number of attempts, 5, Throttling: Rate exceeded"))
	t.Cleanup(func() { cloud.setObserveErr(nil) })
	key := create(t, newMigration("throttled", "throttled", "us-east-1"))
	pm := waitFor(t, key, "StackReady Unknown", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionStackReady).Reason == "ObserveFailed"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionStackReady); c.Status != metav1.ConditionUnknown || !strings.Contains(c.Message, "Rate exceeded") {
		t.Errorf("StackReady = %+v", c)
	}
	cloud.setObserveErr(nil)
	waitFor(t, key, "recovery", stackReady)
}

func TestDeletionStopsReplicationEmptiesBucketsAndDeletesTheStack(t *testing.T) {
	key := create(t, newMigration("delete", "delete", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)
	taskArn := pm.Status.Stack.Outputs["DMSTaskArn"]
	cloud.mu.Lock()
	cloud.tasks[taskArn] = "running"
	cloud.mu.Unlock()
	stops := cloud.count("StopReplicationTask")

	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CR gone", func() (bool, error) {
		err := k8s.Get(t.Context(), key, pm)
		return apierrors.IsNotFound(err), err
	})
	if _, exists := cloud.stack("TapStackdelete"); exists {
		t.Error("the stack still exists after the CR is gone")
	}
	if cloud.count("StopReplicationTask") != stops+1 {
		t.Error("the running DMS task was not stopped")
	}
	emptied := cloud.emptiedBuckets()
	i := slices.Index(emptied, "payments-source-TapStackdelete")
	j := slices.Index(emptied, "payments-target-TapStackdelete")
	if i < 0 || j < 0 || i > j {
		t.Errorf("buckets emptied %v: want source then target", emptied)
	}
}

// Snapshot deletes the stack (whose template keeps final snapshots of the
// databases and retains the buckets) but never empties a bucket.
func TestSnapshotDeletesTheStackWithoutEmptyingTheBuckets(t *testing.T) {
	pm := newMigration("snapshot", "snapshot", "us-east-1")
	pm.Spec.DeletionPolicy = paymentsv1alpha1.DeletionPolicySnapshot
	key := create(t, pm)
	pm = waitFor(t, key, "StackReady", stackReady)
	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CR gone", func() (bool, error) {
		err := k8s.Get(t.Context(), key, pm)
		return apierrors.IsNotFound(err), err
	})
	if _, exists := cloud.stack("TapStacksnapshot"); exists {
		t.Error("the stack still exists after the CR is gone")
	}
	for _, b := range cloud.emptiedBuckets() {
		if strings.HasSuffix(b, "-TapStacksnapshot") {
			t.Errorf("Snapshot emptied bucket %s", b)
		}
	}
	waitForEvent(t, "snapshot", "StackDeleted")
}

func TestRetainLeavesAWSAlone(t *testing.T) {
	pm := newMigration("retain", "retain", "us-east-1")
	pm.Spec.DeletionPolicy = paymentsv1alpha1.DeletionPolicyRetain
	key := create(t, pm)
	pm = waitFor(t, key, "StackReady", stackReady)
	deletes := cloud.count("Delete")
	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CR gone", func() (bool, error) {
		err := k8s.Get(t.Context(), key, pm)
		return apierrors.IsNotFound(err), err
	})
	if st, exists := cloud.stack("TapStackretain"); !exists || st.status != "CREATE_COMPLETE" {
		t.Errorf("Retain touched the stack: exists=%v status=%s", exists, st.status)
	}
	if cloud.count("Delete") != deletes {
		t.Error("Retain called DeleteStack")
	}
}

func TestFailedDeletionKeepsTheFinalizerAndSaysWhy(t *testing.T) {
	key := create(t, newMigration("stuck", "stuck", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)
	cloud.setEmptyErr(errors.New("AccessDenied: s3:DeleteObjectVersion"))
	t.Cleanup(func() { cloud.setEmptyErr(nil) })
	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	pm = waitFor(t, key, "DeletionFailed", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionStackReady).Reason == "DeletionFailed"
	})
	if !controllerutil.ContainsFinalizer(pm, controllers.Finalizer) || pm.Status.Phase != paymentsv1alpha1.PhaseDeleting {
		t.Errorf("finalizer %v, phase %s", pm.Finalizers, pm.Status.Phase)
	}
	if c := condition(pm, paymentsv1alpha1.ConditionStackReady); !strings.Contains(c.Message, "AccessDenied") {
		t.Errorf("the condition does not say why: %q", c.Message)
	}
	if _, exists := cloud.stack("TapStackstuck"); !exists {
		t.Error("the stack was deleted although its buckets could not be emptied")
	}
	cloud.setEmptyErr(nil)
	eventually(t, "the CR gone once emptying works", func() (bool, error) {
		err := k8s.Get(t.Context(), key, pm)
		return apierrors.IsNotFound(err), err
	})
}

// waitForEvent returns an Event of the migration with the given reason.
func waitForEvent(t *testing.T, name, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, "event "+reason+" of "+name, func() (bool, error) {
		var list eventsv1.EventList
		if err := k8s.List(t.Context(), &list); err != nil { // every namespace
			return false, err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == name && ev.Reason == reason {
				found = ev
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

// A large bucket is emptied in bounded batches, one per reconcile, with the
// progress in status, so a deletion never holds a worker for long.
func TestDeletionEmptiesALargeBucketInBatchesWithProgressInStatus(t *testing.T) {
	key := create(t, newMigration("batches", "batches", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)
	source, target := pm.Status.Stack.Outputs["SourceBucketName"], pm.Status.Stack.Outputs["TargetBucketName"]
	cloud.mu.Lock()
	cloud.versions[source] = 12000
	cloud.mu.Unlock()
	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CR gone", func() (bool, error) {
		err := k8s.Get(t.Context(), key, pm)
		return apierrors.IsNotFound(err), err
	})
	cloud.mu.Lock()
	got := fmt.Sprint(cloud.batches[source], cloud.batches[target])
	cloud.mu.Unlock()
	// 5000 per reconcile (the default batch); the last one sees the bucket empty.
	if got != "[5000 5000 2000] [3]" {
		t.Errorf("batches source/target %s, want [5000 5000 2000] [3]", got)
	}
}

func TestDeletionProgressIsInStatusWhileABucketCannotBeEmptied(t *testing.T) {
	key := create(t, newMigration("progress", "progress", "us-east-1"))
	pm := waitFor(t, key, "StackReady", stackReady)
	source, target := pm.Status.Stack.Outputs["SourceBucketName"], pm.Status.Stack.Outputs["TargetBucketName"]
	cloud.mu.Lock()
	cloud.versions[source] = 7000
	cloud.bucketErr[target] = errors.New("AccessDenied: s3:DeleteObjectVersion")
	cloud.mu.Unlock()
	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	pm = waitFor(t, key, "deletion held with progress", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionStackReady).Reason == "DeletionFailed" && pm.Status.Deletion != nil
	})
	want := []paymentsv1alpha1.BucketDeletion{{Name: source, VersionsDeleted: 7000, Empty: true}, {Name: target}}
	if !slices.Equal(pm.Status.Deletion.Buckets, want) {
		t.Errorf("status.deletion.buckets %+v, want %+v", pm.Status.Deletion.Buckets, want)
	}
	if _, exists := cloud.stack("TapStackprogress"); !exists {
		t.Fatal("the stack was deleted although a bucket could not be emptied")
	}
	cloud.mu.Lock()
	delete(cloud.bucketErr, target)
	cloud.mu.Unlock()
	eventually(t, "the CR gone", func() (bool, error) {
		err := k8s.Get(t.Context(), key, pm)
		return apierrors.IsNotFound(err), err
	})
	cloud.mu.Lock()
	defer cloud.mu.Unlock()
	if cloud.versions[target] != 0 {
		t.Errorf("target bucket left with %d versions", cloud.versions[target])
	}
}

// A reconcile that AWS never answers ends at the reconcile deadline, and
// meanwhile the other workers serve the other migrations.
func TestAHungReconcileEndsAtItsDeadlineAndBlocksNoOtherMigration(t *testing.T) {
	cloud.mu.Lock()
	cloud.hang["TapStackhung"] = true
	cloud.mu.Unlock()
	defer func() {
		cloud.mu.Lock()
		delete(cloud.hang, "TapStackhung")
		cloud.mu.Unlock()
	}()
	began := time.Now()
	create(t, newMigration("hung", "hung", "us-east-1"))
	eventually(t, "the hung reconcile started", func() (bool, error) { return cloud.count("Observe TapStackhung") > 0, nil })
	free := create(t, newMigration("free", "free", "us-east-1"))
	waitFor(t, free, "the other migration's stack ready", stackReady)
	if waited := time.Since(began); waited >= reconcileTimeout {
		t.Logf("note: the other migration took %s (deadline %s)", waited, reconcileTimeout)
	}
	eventually(t, "the hung reconcile cut and retried", func() (bool, error) { return cloud.count("Observe TapStackhung") >= 2, nil })
	cloud.mu.Lock()
	left := cloud.hungFor[0]
	cloud.mu.Unlock()
	if left > 100*time.Millisecond || left < -time.Second {
		t.Errorf("the hung call ended %s before its deadline, want at the %s reconcile deadline", left, reconcileTimeout)
	}
}
