package e2e

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// bucketVersions is how many object versions the deleted migration's bucket
// holds: enough that emptying it takes longer than the other migration's
// lag breach takes to show (the emulator lists a bucket in time that grows
// with its size: 20k took 20-40 s, 60k did not finish in 3 min). The suite's
// manager deletes 1000 versions per reconcile (suite_test.go).
const bucketVersions = 30000

// lagFreshness bounds how long a breach published by DMS takes to turn the
// condition with nothing else going on: the batched read may be
// DefaultMaxAge old, plus one sampling period and one metric period of the
// suite, plus slack for a loaded 2-core machine (22 s were seen alone).
const lagFreshness = replicationaws.DefaultMaxAge + 10*time.Second

// One migration's deletion empties a bucket of many versions while another
// migration's lag breaches: the breach turns its condition as fast as it
// would with nothing else going on, because a deletion takes one bounded
// batch per reconcile and other workers serve the other migration.
func TestALargeDeletionHoldsUpNoOtherMigration(t *testing.T) {
	busy := newMigration("payments-busy", "busy")
	quick := newMigration("payments-quick", "quick")
	off := false
	quick.Spec.Replication.CreateServiceRoles = &off // busy's stack owns the account's DMS roles
	for _, pm := range []*paymentsv1alpha1.PaymentMigration{busy, quick} {
		pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
		if err := k8s.Create(t.Context(), pm); err != nil {
			t.Fatal(err)
		}
		// Whatever happens, the migrations go: the next test creates the
		// account's DMS roles again.
		t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(pm)) })
		key := client.ObjectKeyFromObject(pm)
		ready := waitFor(t, key, stackTimout, "StackReady", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
		})
		if _, err := workload.Seed(callCtx(t), openDatabase(t, ready.Status.Stack.Outputs["SourceDbSecretArn"]).pool, workload.SeedOptions{Rows: 100}); err != nil {
			t.Fatal(err)
		}
	}
	busyKey, quickKey := client.ObjectKeyFromObject(busy), client.ObjectKeyFromObject(quick)
	for _, key := range []client.ObjectKey{busyKey, quickKey} {
		waitFor(t, key, stackTimout, "Replicating with lag within the threshold", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condStatus(pm, paymentsv1alpha1.ConditionLagWithinThreshold) == metav1.ConditionTrue
		})
	}

	bucket := get(t, busyKey).Status.Stack.Outputs["SourceBucketName"]
	filled := time.Now()
	fillCtx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := emu.FillBucket(fillCtx, bucket, bucketVersions); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d object versions written into %s in %s", bucketVersions, bucket, time.Since(filled).Round(time.Millisecond))
	deleteStarted := time.Now()
	if err := k8s.Delete(t.Context(), get(t, busyKey)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, busyKey, time.Minute, "the bucket being emptied", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Deletion != nil && len(pm.Status.Deletion.Buckets) > 0 && pm.Status.Deletion.Buckets[0].VersionsDeleted > 0
	})

	breach := time.Now()
	if err := emu.SetTaskLag(callCtx(t), get(t, quickKey).Status.Stack.Outputs["DMSTaskArn"], 4, 120); err != nil {
		t.Fatal(err)
	}
	waitFor(t, quickKey, time.Minute, "the breach on the other migration", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionLagWithinThreshold)
		return c != nil && c.Reason == "LagAboveThreshold"
	})
	flipped := time.Since(breach)
	var deleted int64
	still := &paymentsv1alpha1.PaymentMigration{}
	stillDeleting := k8s.Get(t.Context(), busyKey, still) == nil
	if stillDeleting && still.Status.Deletion != nil {
		deleted = still.Status.Deletion.Buckets[0].VersionsDeleted
	}

	eventually(t, stackTimout, "the deleted migration gone", func() (bool, error) {
		err := k8s.Get(t.Context(), busyKey, &paymentsv1alpha1.PaymentMigration{})
		return apierrors.IsNotFound(err), err
	})
	emptied := time.Since(deleteStarted)
	t.Logf("lag breach -> LagAboveThreshold on %s: %s, while %s emptied %d versions (%d deleted at the flip); its whole deletion took %s",
		quick.Name, flipped.Round(time.Millisecond), busy.Name, bucketVersions, deleted, emptied.Round(time.Millisecond))
	if !stillDeleting {
		t.Errorf("the deletion was over before the breach showed (%s): nothing was measured alongside it; raise bucketVersions", emptied)
	}
	if flipped > lagFreshness {
		t.Errorf("the breach took %s to show, over the %s freshness bound", flipped, lagFreshness)
	}

}

// deleteAndWait deletes a migration, if it is still there, and waits until it is gone.
func deleteAndWait(t *testing.T, key client.ObjectKey) {
	pm := &paymentsv1alpha1.PaymentMigration{}
	if err := k8s.Get(context.Background(), key, pm); err != nil {
		return
	}
	if err := k8s.Delete(context.Background(), pm); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s: %v", key, err)
		return
	}
	deadline := time.Now().Add(stackTimout)
	for time.Now().Before(deadline) {
		if err := k8s.Get(context.Background(), key, pm); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("%s still there %s after its deletion", key, stackTimout)
}
