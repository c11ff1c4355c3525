package controllers

import (
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/approval"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/migration"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/statustext"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// Conversions between status.cutover and the decision's record, and the
// spec as the decision reads it.

func cutoverSpec(pm *paymentsv1alpha1.PaymentMigration) cutover.Spec {
	c := pm.Spec.Cutover
	interval := time.Duration(max(c.StepIntervalSeconds, pm.Spec.Traffic.RecordTTLSeconds)) * time.Second
	grace := 5 * time.Second
	if c.FenceGraceSeconds != nil {
		grace = time.Duration(*c.FenceGraceSeconds) * time.Second
	}
	return cutover.Spec{
		Steps:         c.Steps,
		StepInterval:  interval,
		FreezeTimeout: time.Duration(max(c.FreezeTimeoutSeconds, 30)) * time.Second,
		FenceGrace:    grace,
		ReversePath:   c.ReversePath == nil || *c.ReversePath,
		AutoRollback:  c.AutoRollback == nil || *c.AutoRollback,
		Automatic:     c.Approval == paymentsv1alpha1.ApprovalAutomatic,
		Approved:      c.Approved,
		Abort:         c.Abort,
		ApprovedBy:    approver(pm),
		ApprovedAt:    approvalTime(pm),
	}
}

// approver names who approved the cutover: the user the admission webhook
// stamped, as the API server authenticated them, when spec.cutover.approved
// turned true (internal/approval). The webhook is the only writer of the
// stamp, so an approved migration without one (the webhook not installed,
// or approved before it was) has an unknown approver: nothing a client
// chooses freely, such as its field manager's name, is taken for an
// identity. A migration that is not approved (an Automatic cutover) has
// none.
func approver(pm *paymentsv1alpha1.PaymentMigration) string {
	if !pm.Spec.Cutover.Approved {
		return ""
	}
	s, ok := approval.Read(pm.Annotations)
	if !ok {
		return approval.Unknown
	}
	return s.By
}

// approvalTime is when the admission webhook admitted the approval, zero when
// there is no stamp (the cutover's start is then the best time known).
func approvalTime(pm *paymentsv1alpha1.PaymentMigration) time.Time {
	if !pm.Spec.Cutover.Approved {
		return time.Time{}
	}
	s, ok := approval.Read(pm.Annotations)
	if !ok {
		return time.Time{}
	}
	return s.At
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewTime(t)
	return &m
}

func recordFromStatus(s *paymentsv1alpha1.CutoverStatus) cutover.Record {
	if s == nil {
		return cutover.Record{State: cutover.Idle, Step: -1}
	}
	rec := cutover.Record{
		State: cutover.State(s.State), Attempt: s.Attempt, Step: s.Step,
		Steps: append([]int32(nil), s.Steps...), ReversePath: s.ReversePath,
		ApprovedAt: timeOf(s.ApprovedAt), ApprovedBy: s.ApprovedBy, LastStepAt: timeOf(s.LastStepTime),
		FreezeStartedAt: timeOf(s.FreezeStartedAt), FlippedAt: timeOf(s.FlippedAt),
		Direction: cutover.Direction(s.Direction), WatermarkID: s.WatermarkID, SlotLSN: s.ReverseSlotLSN,
		ReverseStartedAt: timeOf(s.ReverseStartedAt), Reason: s.Reason, Message: s.Message,
		AwaitingReapproval: s.AwaitingReapproval,
	}
	if s.FreezeMillis != nil {
		rec.Freeze = time.Duration(*s.FreezeMillis) * time.Millisecond
	}
	if l := s.Ledger; l != nil {
		rec.Ledger = cutover.Ledger{SessionsTerminated: int(l.SessionsTerminated), OpenWritesWaited: int(l.OpenWritesWaited), SequencesSet: int(l.SequencesSet)}
		if l.DrainMillis != nil {
			rec.Ledger.Drain = time.Duration(*l.DrainMillis) * time.Millisecond
		}
	}
	for _, in := range s.Intents {
		rec.Intents = append(rec.Intents, cutover.Intent{ID: in.ID, Started: in.Started.Time, Finished: timeOf(in.Finished), Note: in.Note})
	}
	return rec
}

func statusFromRecord(rec cutover.Record, w cutover.World) *paymentsv1alpha1.CutoverStatus {
	s := &paymentsv1alpha1.CutoverStatus{
		State: paymentsv1alpha1.CutoverState(rec.State), Attempt: rec.Attempt, Step: rec.Step,
		Steps: append([]int32(nil), rec.Steps...), ReversePath: rec.ReversePath,
		Writer:     paymentsv1alpha1.Side(w.Routes.Writer),
		ApprovedAt: metaTime(rec.ApprovedAt), ApprovedBy: statustext.Truncate(rec.ApprovedBy, 256), LastStepTime: metaTime(rec.LastStepAt),
		FreezeStartedAt: metaTime(rec.FreezeStartedAt), FlippedAt: metaTime(rec.FlippedAt),
		Direction: string(rec.Direction), WatermarkID: rec.WatermarkID, ReverseSlotLSN: rec.SlotLSN,
		ReverseStartedAt: metaTime(rec.ReverseStartedAt), Reason: statustext.Truncate(rec.Reason, 64),
		Message: statustext.Truncate(rec.Message, 2048), AwaitingReapproval: rec.AwaitingReapproval,
	}
	for _, side := range naming.Sides {
		if w.Fenced[side] {
			s.Fenced = append(s.Fenced, paymentsv1alpha1.Side(side))
		}
	}
	if rec.Freeze > 0 {
		ms := rec.Freeze.Milliseconds()
		s.FreezeMillis = &ms
	}
	l := rec.Ledger
	if l != (cutover.Ledger{}) {
		s.Ledger = &paymentsv1alpha1.CutoverLedger{SessionsTerminated: int32(l.SessionsTerminated), OpenWritesWaited: int32(l.OpenWritesWaited), SequencesSet: int32(l.SequencesSet)}
		if l.Drain > 0 {
			ms := l.Drain.Milliseconds()
			s.Ledger.DrainMillis = &ms
		}
	}
	intents := rec.Intents
	if n := len(intents); n > 64 {
		intents = intents[n-64:]
	}
	for _, in := range intents {
		s.Intents = append(s.Intents, paymentsv1alpha1.CutoverIntent{ID: statustext.Truncate(in.ID, 64), Started: metav1.NewTime(in.Started),
			Finished: metaTime(in.Finished), Note: statustext.Truncate(in.Note, 512)})
	}
	return s
}

// cutoverActive: a cutover is between its start and its end; the stack is
// not updated (its template renders the resting routes only).
func cutoverActive(pm *paymentsv1alpha1.PaymentMigration) bool {
	c := pm.Status.Cutover
	if c == nil {
		return false
	}
	switch cutover.State(c.State) {
	case cutover.Stepping, cutover.Freezing, cutover.Flipped, cutover.RollingBack:
		return true
	}
	return false
}

// forwardTaskHeld: once writes have gone to the target, the forward task
// must never be resumed by the replication step: it would carry the reverse
// path's writes back and apply them twice.
func forwardTaskHeld(pm *paymentsv1alpha1.PaymentMigration) bool {
	c := pm.Status.Cutover
	return c != nil && c.FlippedAt != nil
}

// cutoverInMotion: the next reconcile may act on the cutover, so it reads
// the object from the API server.
func cutoverInMotion(pm *paymentsv1alpha1.PaymentMigration) bool {
	return cutoverActive(pm) || pm.Spec.Cutover.Abort || (pm.Spec.Cutover.Approved && (pm.Status.Cutover == nil ||
		pm.Status.Cutover.State == "" || pm.Status.Cutover.State == "Idle" || pm.Status.Cutover.State == "Held"))
}

// routeParameters render the routes of the cutover's resting state into
// the template: the target after a completed cutover, the source otherwise
// (during a cutover the stack is not updated).
func routeParameters(pm *paymentsv1alpha1.PaymentMigration) map[string]string {
	r := cutover.SourceRoutes
	if c := pm.Status.Cutover; c != nil && cutover.State(c.State) == cutover.Completed {
		r = cutover.TargetRoutes
	}
	return map[string]string{
		tapstack.ParamSourceWeight: strconv.Itoa(int(r.SourceWeight)),
		tapstack.ParamTargetWeight: strconv.Itoa(int(r.TargetWeight)),
		tapstack.ParamWriterSide:   string(r.Writer),
	}
}

// cutoverOwnsPhase: a cutover has begun, and the phase is its own.
func cutoverOwnsPhase(pm *paymentsv1alpha1.PaymentMigration) bool {
	c := pm.Status.Cutover
	return c != nil && migration.CutoverPhase(cutover.State(c.State)) != ""
}
