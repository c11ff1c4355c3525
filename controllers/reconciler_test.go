package controllers

import (
	"testing"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

func TestEffectiveRegion(t *testing.T) {
	cases := []struct {
		name, spec, pinned, def, want string
	}{
		{"spec wins", "eu-west-1", "us-east-1", "us-east-2", "eu-west-1"},
		{"pinned beats a changed default", "", "us-east-1", "us-east-2", "us-east-1"},
		{"default on first sight", "", "", "us-east-2", "us-east-2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pm := &paymentsv1alpha1.PaymentMigration{}
			pm.Spec.Region, pm.Status.Region = tc.spec, tc.pinned
			if got := EffectiveRegion(pm, tc.def); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadyIgnoresDataValidatedWhenValidationIsOff(t *testing.T) {
	off, on := false, true
	for _, tc := range []struct {
		validation *bool
		want       bool
	}{{nil, true}, {&on, true}, {&off, false}} {
		pm := &paymentsv1alpha1.PaymentMigration{}
		pm.Spec.Replication.Validation = tc.validation
		got := false
		for _, c := range readyConditions(pm) {
			got = got || c == paymentsv1alpha1.ConditionDataValidated
		}
		if got != tc.want {
			t.Errorf("validation %v: DataValidated in the Ready summary = %v, want %v", tc.validation, got, tc.want)
		}
	}
}
