package controller_test

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// newMigration is a migration with the API server's defaults (the suite's
// client sends typed objects, so the API server fills in the rest).
func newMigration(name, suffix, region string) *paymentsv1alpha1.PaymentMigration {
	return &paymentsv1alpha1.PaymentMigration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: suffix, Region: region},
	}
}

func create(t *testing.T, pm *paymentsv1alpha1.PaymentMigration) client.ObjectKey {
	t.Helper()
	if err := k8s.Create(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	return client.ObjectKeyFromObject(pm)
}

// waitFor polls the migration until cond holds and returns it.
func waitFor(t *testing.T, key client.ObjectKey, what string, cond func(*paymentsv1alpha1.PaymentMigration) bool) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	eventually(t, what, func() (bool, error) {
		err := k8s.Get(t.Context(), key, &pm)
		return err == nil && cond(&pm), err
	})
	return &pm
}

// mutate changes the spec the way a user's kubectl edit does: read, change,
// write, and again if the operator wrote status in between.
func mutate(t *testing.T, key client.ObjectKey, change func(*paymentsv1alpha1.PaymentMigration)) {
	t.Helper()
	// The manager writes the object too (finalizer, status) while the test
	// does: on a loaded machine five quick tries (retry.DefaultRetry) can all
	// lose to it.
	err := retry.RetryOnConflict(wait.Backoff{Steps: 40, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Cap: time.Second}, func() error {
		var pm paymentsv1alpha1.PaymentMigration
		if err := k8s.Get(t.Context(), key, &pm); err != nil {
			return err
		}
		change(&pm)
		return k8s.Update(t.Context(), &pm)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func condition(pm *paymentsv1alpha1.PaymentMigration, t string) metav1.Condition {
	if c := meta.FindStatusCondition(pm.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func stackReady(pm *paymentsv1alpha1.PaymentMigration) bool {
	return condition(pm, paymentsv1alpha1.ConditionStackReady).Status == metav1.ConditionTrue
}

func TestObservedGenerationFollowsSpecChanges(t *testing.T) {
	key := create(t, newMigration("observed", "obs", "us-west-2"))
	got := waitFor(t, key, "observedGeneration 1 and the stack ready", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.ObservedGeneration == 1 && stackReady(pm)
	})
	if got.Status.Region != "us-west-2" {
		t.Errorf("status.region = %q, want the spec's us-west-2", got.Status.Region)
	}
	for _, c := range got.Status.Conditions {
		if c.ObservedGeneration != 1 {
			t.Errorf("condition %s has observedGeneration %d, want 1", c.Type, c.ObservedGeneration)
		}
	}

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Tags["Owner"] = "payments" })
	waitFor(t, key, "observedGeneration 2", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.ObservedGeneration == 2 && condition(pm, paymentsv1alpha1.ConditionStackReady).ObservedGeneration == 2
	})
}

func TestRegionDefaultIsPinnedInStatus(t *testing.T) {
	key := create(t, newMigration("pinned", "pin", ""))
	got := waitFor(t, key, "region pinned", func(pm *paymentsv1alpha1.PaymentMigration) bool { return pm.Status.Region != "" })
	if got.Status.Region != defaultRegion {
		t.Errorf("status.region = %q, want the operator default %q", got.Status.Region, defaultRegion)
	}
}
