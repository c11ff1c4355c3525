// Package v1alpha1 holds the admission webhooks of payments.tapstack.io/v1alpha1,
// served by the manager.
package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/approval"
)

// The approval webhook is mutating so that it can write the stamp; it runs
// on every create and update of the main resource (the status subresource
// cannot change annotations: the API server keeps the stored metadata on
// it). failurePolicy=fail: while the webhook is unreachable no
// PaymentMigration is created or updated, so an approval is never stored
// without its approver and a stamp is never edited unguarded.
// reinvocationPolicy=IfNeeded: a mutating webhook ordered after this one
// that touches the object makes the API server call this one again, which
// puts the stamp back. sideEffects=None: dry-run requests are stamped too,
// and nothing else happens.
//
// +kubebuilder:webhook:path=/mutate-payments-tapstack-io-v1alpha1-paymentmigration,mutating=true,failurePolicy=fail,sideEffects=None,groups=payments.tapstack.io,resources=paymentmigrations,verbs=create;update,versions=v1alpha1,name=approval.paymentmigrations.payments.tapstack.io,admissionReviewVersions=v1,reinvocationPolicy=IfNeeded

// MutatePath is where the API server sends PaymentMigration admissions
// (config/webhook/manifests.yaml).
const MutatePath = "/mutate-payments-tapstack-io-v1alpha1-paymentmigration"

// ApprovalStamper records, in the annotations of internal/approval, who set
// spec.cutover.approved to true, as the API server authenticated them, and
// keeps every client from writing those annotations itself.
//
// It is a raw admission.Handler rather than a CustomDefaulter: its patch
// touches the stamp annotations only, where a defaulter's would be the
// difference between the request and a re-encoded typed object.
type ApprovalStamper struct {
	// Now is the clock of the stamps; time.Now when nil.
	Now func() time.Time
}

var _ admission.Handler = (*ApprovalStamper)(nil)

// SetupPaymentMigrationWebhookWithManager serves the approval webhook from
// the manager's webhook server.
func SetupPaymentMigrationWebhookWithManager(mgr ctrl.Manager) error {
	Register(mgr.GetWebhookServer(), &ApprovalStamper{})
	return nil
}

// Register serves s at MutatePath on srv.
func Register(srv webhook.Server, s *ApprovalStamper) {
	srv.Register(MutatePath, &webhook.Admission{Handler: s})
}

// Handle answers one admission request.
func (s *ApprovalStamper) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	in := approval.Request{User: req.UserInfo, Now: s.now()}
	var err error
	if in.New, err = decode(req.Object.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding the PaymentMigration of the request: %w", err))
	}
	if req.Operation == admissionv1.Update {
		old, err := decode(req.OldObject.Raw)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding the stored PaymentMigration: %w", err))
		}
		in.Old = &old
	}
	d := approval.Decide(in)
	if d.Denied != "" {
		return admission.Denied(d.Denied)
	}
	log := logf.FromContext(ctx)
	if d.Stamp != nil {
		// The audit line of the approval, beside the API server's own audit log.
		log.Info("cutover approval stamped", "user", d.Stamp.By, "uid", d.Stamp.UID, "groups", req.UserInfo.Groups, "at", d.Stamp.At, "dryRun", req.DryRun != nil && *req.DryRun)
	}
	if len(d.Warnings) > 0 {
		log.Info("stamp annotations sent by a client were not kept", "user", req.UserInfo.Username)
	}
	return admission.Patched("", d.Patch...).WithWarnings(d.Warnings...)
}

func (s *ApprovalStamper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// decode reads what the decision needs. Decoding into the API type keeps the
// field's path the one the CRD is generated from; unknown fields are
// ignored, and nothing decoded is written back.
func decode(raw []byte) (approval.Object, error) {
	if len(raw) == 0 {
		return approval.Object{}, fmt.Errorf("no object in the request")
	}
	var pm paymentsv1alpha1.PaymentMigration
	if err := json.Unmarshal(raw, &pm); err != nil {
		return approval.Object{}, err
	}
	return approval.Object{Approved: pm.Spec.Cutover.Approved, Annotations: pm.Annotations}, nil
}
