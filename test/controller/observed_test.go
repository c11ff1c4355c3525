package controller_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

func newMigration(name, suffix, region string) *paymentsv1alpha1.PaymentMigration {
	return &paymentsv1alpha1.PaymentMigration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: suffix, Region: region},
	}
}

func TestObservedGenerationFollowsSpecChanges(t *testing.T) {
	pm := newMigration("observed", "obs", "us-west-2")
	if err := k8s.Create(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(t.Context(), pm) })
	key := client.ObjectKeyFromObject(pm)

	var got paymentsv1alpha1.PaymentMigration
	eventually(t, "observedGeneration 1", func() (bool, error) {
		err := k8s.Get(t.Context(), key, &got)
		return err == nil && got.Status.ObservedGeneration == 1, err
	})
	if got.Status.Region != "us-west-2" {
		t.Errorf("status.region = %q, want the spec's us-west-2", got.Status.Region)
	}

	got.Spec.Tags["Owner"] = "payments"
	if err := k8s.Update(t.Context(), &got); err != nil {
		t.Fatal(err)
	}
	eventually(t, "observedGeneration 2", func() (bool, error) {
		err := k8s.Get(t.Context(), key, &got)
		return err == nil && got.Status.ObservedGeneration == 2, err
	})
}

func TestRegionDefaultIsPinnedInStatus(t *testing.T) {
	pm := newMigration("pinned", "pin", "")
	if err := k8s.Create(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(t.Context(), pm) })

	var got paymentsv1alpha1.PaymentMigration
	eventually(t, "region pinned", func() (bool, error) {
		err := k8s.Get(t.Context(), client.ObjectKeyFromObject(pm), &got)
		return err == nil && got.Status.Region != "", err
	})
	if got.Status.Region != defaultRegion {
		t.Errorf("status.region = %q, want the operator default %q", got.Status.Region, defaultRegion)
	}
}
