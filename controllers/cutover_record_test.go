package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/approval"
)

// The approver comes from the admission stamp alone; managedFields, which
// name whatever field manager a client chose, are never read for it.
func TestApproverIsTheAdmissionStampOnly(t *testing.T) {
	stamp := map[string]string{approval.AnnotationApprovedBy: "alice", approval.AnnotationApprovedAt: "2026-03-01T09:00:00Z"}
	managed := []metav1.ManagedFieldsEntry{{
		Manager: "alice-says-so", Operation: metav1.ManagedFieldsOperationUpdate,
		FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:cutover":{"f:approved":{}}}}`),
	}}
	cases := []struct {
		name        string
		approved    bool
		annotations map[string]string
		want        string
	}{
		{"approved and stamped", true, stamp, "alice"},
		{"approved without a stamp (no webhook)", true, nil, approval.Unknown},
		{"approved with only a user, which the webhook never writes alone", true, map[string]string{approval.AnnotationApprovedBy: "alice"}, approval.Unknown},
		{"not approved (Automatic) with a stale stamp", false, stamp, ""},
		{"not approved", false, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Annotations: c.annotations, ManagedFields: managed}}
			pm.Spec.Cutover.Approved = c.approved
			if got := approver(pm); got != c.want {
				t.Errorf("approver = %q, want %q", got, c.want)
			}
			if got := cutoverSpec(pm).ApprovedBy; got != c.want {
				t.Errorf("cutoverSpec().ApprovedBy = %q, want %q", got, c.want)
			}
			// The time comes with the user, from the same stamp, or not at all.
			wantAt := time.Time{}
			if c.want == "alice" {
				wantAt = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			}
			if got := cutoverSpec(pm).ApprovedAt; !got.Equal(wantAt) {
				t.Errorf("cutoverSpec().ApprovedAt = %v, want %v", got, wantAt)
			}
		})
	}
}
