package api_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// spec.iam takes only what IAM would: a managed policy ARN as the roles'
// permissions boundary (customer or AWS managed, any partition, with a path),
// and a role ARN of an account as the CloudFormation service role. Anything
// else is refused by the API server with the field named, before the stack
// would fail on it.
func TestIAMFieldsTakeOnlyPolicyAndRoleARNs(t *testing.T) {
	const (
		boundaryField = "spec.iam.permissionsBoundaryARN"
		boundaryMsg   = "must be the ARN of an IAM managed policy"
		roleField     = "spec.iam.stackRoleARN"
		roleMsg       = "must be the ARN of an IAM role"
	)
	cases := []struct {
		name  string
		field string // "permissionsBoundaryARN" or "stackRoleARN"
		value string
		want  string // "" when accepted, else the message the rejection carries
	}{
		{"customer managed boundary", "permissionsBoundaryARN", "arn:aws:iam::123456789012:policy/tapstack-boundary", ""},
		{"boundary with a path", "permissionsBoundaryARN", "arn:aws:iam::123456789012:policy/payments/teams/tapstack-boundary", ""},
		{"AWS managed boundary", "permissionsBoundaryARN", "arn:aws:iam::aws:policy/PowerUserAccess", ""},
		{"boundary in the China partition", "permissionsBoundaryARN", "arn:aws-cn:iam::123456789012:policy/tapstack-boundary", ""},
		{"boundary in GovCloud", "permissionsBoundaryARN", "arn:aws-us-gov:iam::123456789012:policy/tapstack-boundary", ""},
		{"role ARN as boundary", "permissionsBoundaryARN", "arn:aws:iam::123456789012:role/tapstack-boundary", boundaryMsg},
		{"boundary name only", "permissionsBoundaryARN", "tapstack-boundary", boundaryMsg},
		{"boundary with a short account", "permissionsBoundaryARN", "arn:aws:iam::12345:policy/tapstack-boundary", boundaryMsg},
		{"boundary of another service", "permissionsBoundaryARN", "arn:aws:s3:::tapstack-boundary", boundaryMsg},
		{"boundary without a name", "permissionsBoundaryARN", "arn:aws:iam::123456789012:policy/", boundaryMsg},
		{"boundary with a space", "permissionsBoundaryARN", "arn:aws:iam::123456789012:policy/tapstack boundary", boundaryMsg},
		{"stack role", "stackRoleARN", "arn:aws:iam::123456789012:role/tapstack-cloudformation", ""},
		{"stack role with a path", "stackRoleARN", "arn:aws:iam::123456789012:role/service-role/tapstack-cloudformation", ""},
		{"policy ARN as stack role", "stackRoleARN", "arn:aws:iam::123456789012:policy/tapstack-cloudformation", roleMsg},
		{"stack role of the aws account", "stackRoleARN", "arn:aws:iam::aws:role/tapstack-cloudformation", roleMsg},
		{"stack role name over 64 characters", "stackRoleARN", "arn:aws:iam::123456789012:role/" + strings.Repeat("r", 65), roleMsg},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := sample(t, fmt.Sprintf("iam-%d", i))
			set(tc.value, "spec", "iam", tc.field)(obj)
			err := k8s.Create(ctx(t), obj)
			if err == nil {
				_ = k8s.Delete(ctx(t), obj)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("%s %q refused: %v", tc.field, tc.value, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s %q accepted; want a rejection", tc.field, tc.value)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			field := boundaryField
			if tc.field == "stackRoleARN" {
				field = roleField
			}
			if !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %s and say %q:\n%v", field, tc.want, err)
			}
		})
	}
}
