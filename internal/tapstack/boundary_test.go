package tapstack

import (
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

const testBoundary = "arn:aws:iam::123456789012:policy/payments/tapstack-boundary"

// spec.iam.permissionsBoundaryARN bounds every role the stack creates, in every
// variant (the DMS service roles come and go), and no role without it.
func TestPermissionsBoundaryIsOnEveryRoleWhenSet(t *testing.T) {
	cases := []struct {
		name     string
		boundary string
	}{
		{"unset", ""},
		{"customer managed policy", testBoundary},
		{"AWS managed policy", "arn:aws:iam::aws:policy/PowerUserAccess"},
	}
	for _, c := range cases {
		for _, v := range append([]variant{{"sample", func(*v1alpha1.PaymentMigrationSpec) {}}}, variants...) {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				spec, region := variantSpec(t, v)
				spec.IAM.PermissionsBoundaryARN = c.boundary
				d := rendered(t, synth(t, spec, region))
				roles := d.ofType("AWS::IAM::Role")
				if len(roles) == 0 {
					t.Fatal("the template has no IAM role")
				}
				for _, id := range roles {
					got, present := d.props(t, id)["PermissionsBoundary"]
					switch {
					case c.boundary == "" && present:
						t.Errorf("%s: PermissionsBoundary %v, want none", id, got)
					case c.boundary != "" && got != c.boundary:
						t.Errorf("%s: PermissionsBoundary %v, want %s", id, got, c.boundary)
					}
				}
			})
		}
	}
}
