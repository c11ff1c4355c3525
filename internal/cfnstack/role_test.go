package cfnstack

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// A service role goes with every call that creates or changes the stack's
// resources, so CloudFormation never falls back to the manager's own
// credentials; without one, no RoleARN is sent.
func TestTheStackRoleGoesWithCreateStackAndEveryChangeSet(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/tapstack-cloudformation"
	for _, tc := range []struct {
		name, role string
	}{
		{"no role", ""},
		{"service role", role},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := desired(100)
			d.RoleARN = tc.role

			f := newFakeCFN(t)
			if err := (&Client{API: f}).Create(context.Background(), d); err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got := aws.ToString(f.createStack.RoleARN); got != tc.role {
				t.Errorf("CreateStack RoleARN = %q, want %q", got, tc.role)
			}
			if tc.role == "" && f.createStack.RoleARN != nil {
				t.Error("CreateStack sent an empty RoleARN; CloudFormation would refuse it")
			}

			f = newFakeCFN(t)
			f.csErr = &cfntypes.ChangeSetNotFoundException{}
			if _, err := (&Client{API: f}).Update(context.Background(), stackID, d); err != nil {
				t.Fatalf("Update: %v", err)
			}
			if f.createChangeSet == nil {
				t.Fatal("CreateChangeSet not called")
			}
			if got := aws.ToString(f.createChangeSet.RoleARN); got != tc.role {
				t.Errorf("CreateChangeSet RoleARN = %q, want %q", got, tc.role)
			}
			if tc.role == "" && f.createChangeSet.RoleARN != nil {
				t.Error("CreateChangeSet sent an empty RoleARN")
			}
		})
	}
}
