package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/migration"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// observeGates reads the gates of SPEC 4.2 step 2 that are read from AWS and
// the databases: the target's health check (when the gates require it),
// the stack's alarms, the source's open write transactions, its logical
// slot, and with the reverse path the target's replication settings. The
// gates the replication step's conditions keep are read by
// migration.Decide, from the conditions as this pass leaves them.
func (r *PaymentMigrationReconciler) observeGates(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, s cutoverSeams) ([]cutover.Gate, *migration.Health) {
	var health *migration.Health
	if g := pm.Spec.Cutover.Gates.RequireTargetHealthy; g == nil || *g {
		health = &migration.Health{}
		if id := s.outputs[tapstack.OutputHealthCheckID]; id == "" {
			health.NoCheck = true
		} else if h, err := s.health.Health(ctx, id); err != nil {
			health.Err = err.Error()
		} else {
			health.Health = h
		}
	}
	gates := []cutover.Gate{r.alarmGate(ctx, pm, s), r.transactionGate(ctx, pm, s), r.slotGate(ctx, pm, s)}
	if rp := pm.Spec.Cutover.ReversePath; rp == nil || *rp {
		gates = append(gates, r.targetReplicationGate(ctx, pm, s))
	}
	return gates, health
}

func requireValidation(pm *paymentsv1alpha1.PaymentMigration) bool {
	g := pm.Spec.Cutover.Gates.RequireValidation
	v := pm.Spec.Replication.Validation
	return (g == nil || *g) && (v == nil || *v)
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
