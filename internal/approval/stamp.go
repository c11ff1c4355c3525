// Package approval decides the approval stamp of a PaymentMigration: who set
// spec.cutover.approved to true, and when, as the API server authenticated
// them. The mutating admission webhook (internal/webhook/v1alpha1) calls
// Decide on every create and update and is the only writer of the stamp's
// annotations; the controller reads the stamp with Read. Nothing a client
// chooses (a field manager's name, a user agent) is taken for an identity.
package approval

import (
	"time"
)

// The stamp's annotations. They are written by the webhook alone: whatever a
// request carries under these keys is replaced by what Decide computes.
const (
	// AnnotationApprovedBy is the user name the API server authenticated for
	// the request that set spec.cutover.approved to true.
	AnnotationApprovedBy = "payments.tapstack.io/approved-by"
	// AnnotationApprovedByUID is that user's UID, when the authenticator gives
	// one (service accounts, most OIDC and webhook authenticators): a user
	// name can be deleted and given to someone else, a UID is not reused.
	AnnotationApprovedByUID = "payments.tapstack.io/approved-by-uid"
	// AnnotationApprovedAt is when the webhook admitted that request (RFC 3339, UTC).
	AnnotationApprovedAt = "payments.tapstack.io/approved-at"
)

// Keys are the annotations the webhook owns, in the order its patches use.
var Keys = []string{AnnotationApprovedBy, AnnotationApprovedByUID, AnnotationApprovedAt}

// Unknown is the approver of an approved migration without a stamp: the
// webhook was not installed when it was approved, or the migration was
// approved before it was.
const Unknown = "unknown (no admission stamp)"

// Stamp is one recorded approval.
type Stamp struct {
	// By is the authenticated user name; UID its UID ("" when the
	// authenticator gives none).
	By, UID string
	// At is when the approval was admitted, to the second.
	At time.Time
}

// Annotations renders s as the webhook writes it.
func (s Stamp) Annotations() map[string]string {
	a := map[string]string{
		AnnotationApprovedBy: s.By,
		AnnotationApprovedAt: s.At.UTC().Format(time.RFC3339),
	}
	if s.UID != "" {
		a[AnnotationApprovedByUID] = s.UID
	}
	return a
}

// Read returns the stamp of an object's annotations. ok is false unless both
// the user and a well-formed time are there, which the webhook always writes
// together: anything less was not written by it.
func Read(annotations map[string]string) (s Stamp, ok bool) {
	by := annotations[AnnotationApprovedBy]
	at, err := time.Parse(time.RFC3339, annotations[AnnotationApprovedAt])
	if by == "" || err != nil {
		return Stamp{}, false
	}
	return Stamp{By: by, UID: annotations[AnnotationApprovedByUID], At: at}, true
}

// owned is the part of annotations under Keys.
func owned(annotations map[string]string) map[string]string {
	o := map[string]string{}
	for _, k := range Keys {
		if v, ok := annotations[k]; ok {
			o[k] = v
		}
	}
	return o
}
