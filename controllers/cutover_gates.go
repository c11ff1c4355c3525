package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// cutoverGates reads the gates of SPEC 4.2 step 2, sets TargetHealthy from
// Route 53 and CutoverReady with one line per gate, and returns them.
func (r *PaymentMigrationReconciler) cutoverGates(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, s cutoverSeams) []cutover.Gate {
	gates := []cutover.Gate{
		conditionGate(pm, "replication running", paymentsv1alpha1.ConditionReplicationRunning, nil),
		conditionGate(pm, "lag", paymentsv1alpha1.ConditionLagWithinThreshold, nil),
	}
	if requireValidation(pm) {
		gates = append(gates, validationGate(pm))
	}
	if g := pm.Spec.Cutover.Gates.RequireTargetHealthy; g == nil || *g {
		gates = append(gates, r.healthGate(ctx, pm, st, s))
	}
	gates = append(gates, r.alarmGate(ctx, pm, s), r.transactionGate(ctx, pm, s), r.slotGate(ctx, pm, s))
	if rp := pm.Spec.Cutover.ReversePath; rp == nil || *rp {
		gates = append(gates, r.targetReplicationGate(ctx, pm, s))
	}

	status, reason := metav1.ConditionTrue, "GatesPass"
	if failed, unknown := cutover.FailingGates(gates); len(failed) > 0 {
		status, reason = metav1.ConditionFalse, "GateFailing"
	} else if len(unknown) > 0 {
		status, reason = metav1.ConditionUnknown, "GateUnknown"
	}
	st.condition(paymentsv1alpha1.ConditionCutoverReady, status, reason, cutover.GateLines(gates))
	return gates
}

func requireValidation(pm *paymentsv1alpha1.PaymentMigration) bool {
	g := pm.Spec.Cutover.Gates.RequireValidation
	v := pm.Spec.Replication.Validation
	return (g == nil || *g) && (v == nil || *v)
}

// conditionGate reads a gate from a condition the replication step keeps;
// waitReasons are False reasons that mean "not yet" rather than "failed".
func conditionGate(pm *paymentsv1alpha1.PaymentMigration, name, condType string, waitReasons map[string]bool) cutover.Gate {
	c := findCondition(pm, condType)
	switch {
	case c == nil:
		return cutover.Gate{Name: name, State: cutover.Unknown, Message: condType + " not reported yet"}
	case c.Status == metav1.ConditionTrue:
		return cutover.Gate{Name: name, State: cutover.Pass, Message: firstLineOf(c.Message)}
	case c.Status == metav1.ConditionFalse && !waitReasons[c.Reason]:
		return cutover.Gate{Name: name, State: cutover.Fail, Message: c.Reason + ": " + firstLineOf(c.Message)}
	}
	return cutover.Gate{Name: name, State: cutover.Unknown, Message: c.Reason + ": " + firstLineOf(c.Message)}
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// healthGate: the target's Route 53 health check, healthy by the majority
// of the checkers; it also sets TargetHealthy.
func (r *PaymentMigrationReconciler) healthGate(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, s cutoverSeams) cutover.Gate {
	id := s.outputs[tapstack.OutputHealthCheckID]
	if id == "" {
		st.condition(paymentsv1alpha1.ConditionTargetHealthy, metav1.ConditionUnknown, "NoHealthCheck", "the stack has no HealthCheckId output")
		return cutover.Gate{Name: "target health", State: cutover.Unknown, Message: "no health check output"}
	}
	h, err := s.health.Health(ctx, id)
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionTargetHealthy, metav1.ConditionUnknown, "HealthReadFailed", err.Error())
		return cutover.Gate{Name: "target health", State: cutover.Unknown, Message: err.Error()}
	}
	traffic := pm.Status.Traffic
	if traffic == nil {
		traffic = &paymentsv1alpha1.TrafficStatus{}
		pm.Status.Traffic = traffic
	}
	msg := fmt.Sprintf("%d of %d Route 53 checkers report healthy", h.Healthy, h.Checkers)
	switch {
	case h.Checkers == 0:
		traffic.HealthCheckStatus = "NoReports"
		st.condition(paymentsv1alpha1.ConditionTargetHealthy, metav1.ConditionUnknown, "NoCheckerReports", msg)
		return cutover.Gate{Name: "target health", State: cutover.Unknown, Message: msg}
	case h.Majority():
		traffic.HealthCheckStatus = "Healthy"
		st.condition(paymentsv1alpha1.ConditionTargetHealthy, metav1.ConditionTrue, "MajorityHealthy", msg)
		return cutover.Gate{Name: "target health", State: cutover.Pass, Message: msg}
	}
	traffic.HealthCheckStatus = "Unhealthy"
	st.condition(paymentsv1alpha1.ConditionTargetHealthy, metav1.ConditionFalse, "MajorityUnhealthy", msg)
	return cutover.Gate{Name: "target health", State: cutover.Fail, Message: msg}
}

// alarmGate: none of the stack's alarms in ALARM.
func (r *PaymentMigrationReconciler) alarmGate(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, s cutoverSeams) cutover.Gate {
	if s.alarms == nil {
		return cutover.Gate{Name: "alarms", State: cutover.Unknown, Message: "no CloudWatch client"}
	}
	firing, err := s.alarms.FiringAlarms(ctx, tapstack.AlarmNames(pm.Spec))
	if err != nil {
		return cutover.Gate{Name: "alarms", State: cutover.Unknown, Message: err.Error()}
	}
	if len(firing) > 0 {
		return cutover.Gate{Name: "alarms", State: cutover.Fail, Message: "in ALARM: " + strings.Join(firing, ", ")}
	}
	return cutover.Gate{Name: "alarms", State: cutover.Pass, Message: "no alarm of the stack in ALARM"}
}

// transactionGate: no long-running write transaction on the source (the fence
// would wait for it, then end it). A long transaction holds the cutover; it is
// not a failure of the migration, so it never rolls one back.
func (r *PaymentMigrationReconciler) transactionGate(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, s cutoverSeams) cutover.Gate {
	limit := time.Duration(max(pm.Spec.Cutover.Gates.MaxSourceTransactionSeconds, 1)) * time.Second
	age, err := s.sql.LongestWriteTransaction(ctx, s.db(pm, naming.Source))
	switch {
	case err != nil:
		return cutover.Gate{Name: "source transactions", State: cutover.Unknown, Message: err.Error()}
	case age > limit:
		return cutover.Gate{Name: "source transactions", State: cutover.Unknown,
			Message: fmt.Sprintf("a write transaction has been open on the source for %s (limit %s)", age.Round(time.Second), limit)}
	}
	return cutover.Gate{Name: "source transactions", State: cutover.Pass, Message: fmt.Sprintf("no write transaction older than %s", limit)}
}

// slotGate: the source's logical replication slot, which the DMS task reads,
// is read from and keeps the WAL it needs. A slot that lost WAL means DMS
// cannot deliver every change: the gate fails. No slot being read means the
// task is between connections (or reads none): the gate waits.
func (r *PaymentMigrationReconciler) slotGate(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, s cutoverSeams) cutover.Gate {
	slots, err := s.sql.LogicalSlots(ctx, s.db(pm, naming.Source))
	if err != nil {
		return cutover.Gate{Name: slotGateName, State: cutover.Unknown, Message: err.Error()}
	}
	return slotsGate(slots)
}

const slotGateName = "replication slot"

// slotsGate judges the source's logical slots (see slotGate).
func slotsGate(slots []sqlrunner.Slot) cutover.Gate {
	var active []sqlrunner.Slot
	for _, sl := range slots {
		switch sl.WALStatus {
		case "lost", "unreserved":
			return cutover.Gate{Name: slotGateName, State: cutover.Fail, Message: fmt.Sprintf(
				"slot %s is %s: PostgreSQL removed (or is about to remove) WAL it has not delivered, so changes would be missing on the target (raise max_slot_wal_keep_size, reload the task)", sl.Name, sl.WALStatus)}
		}
		if sl.Active {
			active = append(active, sl)
		}
	}
	if len(active) == 0 {
		return cutover.Gate{Name: slotGateName, State: cutover.Unknown, Message: fmt.Sprintf(
			"no logical replication slot of the source's database is being read (%d inactive): the task is not streaming changes", len(slots))}
	}
	most := slices.MaxFunc(active, func(a, b sqlrunner.Slot) int { return cmp.Compare(a.RetainedBytes, b.RetainedBytes) })
	return cutover.Gate{Name: slotGateName, State: cutover.Pass, Message: fmt.Sprintf(
		"%d active logical slot(s) on the source; the most WAL retained: %.1f MiB (%s)", len(active), float64(most.RetainedBytes)/(1<<20), most.Name)}
}

// targetReplicationGate: with the reverse path, the target must be able to
// hold the reverse slot (made at the end of the steps) and stream from it
// once the reverse task starts after the flip: wal_level=logical, a free
// slot unless the reverse slot is there already, and a free WAL sender.
func (r *PaymentMigrationReconciler) targetReplicationGate(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, s cutoverSeams) cutover.Gate {
	db := s.db(pm, naming.Target)
	settings, err := s.sql.ReplicationSettings(ctx, db)
	if err != nil {
		return cutover.Gate{Name: targetReplicationGateName, State: cutover.Unknown, Message: err.Error()}
	}
	exists, err := s.sql.SlotExists(ctx, db, naming.New(pm.Spec.EnvironmentSuffix).ReverseSlot())
	if err != nil {
		return cutover.Gate{Name: targetReplicationGateName, State: cutover.Unknown, Message: err.Error()}
	}
	return targetReplication(settings, exists)
}

const targetReplicationGateName = "target logical replication"

// targetReplication judges the target's settings (see targetReplicationGate).
// A shortfall fails the gate: nothing the operator waits for will fix it.
func targetReplication(s pgcatalog.Settings, reverseSlotExists bool) cutover.Gate {
	fail := func(format string, args ...any) cutover.Gate {
		return cutover.Gate{Name: targetReplicationGateName, State: cutover.Fail, Message: fmt.Sprintf(format, args...) +
			"; the reverse path needs it (fix the target's parameter group, or set spec.cutover.reversePath to false before approving)"}
	}
	needSlots := 1
	if reverseSlotExists {
		needSlots = 0
	}
	freeSlots, freeSenders := s.MaxReplicationSlots-s.UsedReplicationSlots, s.MaxWALSenders-s.UsedWALSenders
	switch {
	case s.WALLevel != "logical":
		return fail("wal_level is %s on the target, not logical (rds.logical_replication=1, applied by a reboot)", orUnknownLevel(s.WALLevel))
	case freeSlots < needSlots:
		return fail("%d of max_replication_slots=%d in use on the target, the reverse slot needs 1 free", s.UsedReplicationSlots, s.MaxReplicationSlots)
	case freeSenders < 1:
		return fail("%d of max_wal_senders=%d in use on the target, the reverse task needs 1 free", s.UsedWALSenders, s.MaxWALSenders)
	}
	slot := "the reverse slot is made at the end of the steps"
	if reverseSlotExists {
		slot = "the reverse slot exists"
	}
	return cutover.Gate{Name: targetReplicationGateName, State: cutover.Pass, Message: fmt.Sprintf(
		"wal_level=logical; %s; %d of %d replication slots and %d of %d WAL senders free", slot, freeSlots, s.MaxReplicationSlots, freeSenders, s.MaxWALSenders)}
}

func orUnknownLevel(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}

// validationGate: no record failed or suspended validation. Under a steady
// write load DMS always has records in flight ("Pending records": changed
// rows not compared yet), so requiring zero pending would hold a busy
// migration forever; the freeze's watermark drain, not validation, is what
// proves every committed payment reached the target. A table whose
// validation has not run yet (Pending validation, Preparing table) waits.
func validationGate(pm *paymentsv1alpha1.PaymentMigration) cutover.Gate {
	g := conditionGate(pm, "validation", paymentsv1alpha1.ConditionDataValidated, map[string]bool{"ValidationPending": true, "NoTableStatistics": true})
	c := findCondition(pm, paymentsv1alpha1.ConditionDataValidated)
	r := pm.Status.Replication
	if g.State != cutover.Unknown || c == nil || c.Reason != "ValidationPending" || r == nil ||
		r.ValidationFailedRecords != 0 || r.ValidationSuspendedRecords != 0 || !onlyRecordsInFlight(c.Message) {
		return g
	}
	g.State = cutover.Pass
	g.Message = fmt.Sprintf("no failed or suspended records; %d records in flight (changed rows DMS has not compared yet)", r.ValidationPendingRecords)
	return g
}

// onlyRecordsInFlight reads the per-table list of the DataValidated message
// (internal/replication.AggregateValidation: "N failed, N pending, N
// suspended records; schema.table: State; ..."): every table listed is
// validating with records pending, none is waiting for validation to start.
func onlyRecordsInFlight(message string) bool {
	_, tables, ok := strings.Cut(message, "; ")
	if !ok {
		return false
	}
	for _, entry := range strings.Split(tables, "; ") {
		if _, state, ok := strings.Cut(entry, ": "); !ok || state != "Pending records" {
			return false
		}
	}
	return true
}
