package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// allPhases lists the phases, so the phase gauge can be 1 for the current one
// and 0 for the others (a dashboard can then sum by phase).
var allPhases = []paymentsv1alpha1.Phase{
	paymentsv1alpha1.PhaseProvisioning, paymentsv1alpha1.PhasePreflight, paymentsv1alpha1.PhaseFullLoad,
	paymentsv1alpha1.PhaseReplicating, paymentsv1alpha1.PhaseCuttingOver, paymentsv1alpha1.PhaseCompleted,
	paymentsv1alpha1.PhaseRollingBack, paymentsv1alpha1.PhaseRolledBack, paymentsv1alpha1.PhaseFailed,
	paymentsv1alpha1.PhaseDeleting,
}

// MigrationMetrics exposes each migration's state on the manager's metrics
// endpoint, from the status the reconciler has just written.
type MigrationMetrics struct {
	lag       *prometheus.GaugeVec
	fullLoad  *prometheus.GaugeVec
	phase     *prometheus.GaugeVec
	condition *prometheus.GaugeVec
	// The cutover: its state, the last freeze's duration, rollbacks by reason.
	cutoverState *prometheus.GaugeVec
	freeze       *prometheus.GaugeVec
	rollbacks    *prometheus.CounterVec
}

// NewMigrationMetrics creates the gauges and registers them with reg (the
// controller-runtime registry in the manager).
func NewMigrationMetrics(reg prometheus.Registerer) *MigrationMetrics {
	m := &MigrationMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payment_migration_cdc_latency_seconds",
			Help: "Latest DMS CDC latency of the migration, by side (source: reading changes, target: applying them).",
		}, []string{"namespace", "name", "side"}),
		fullLoad: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payment_migration_full_load_percent",
			Help: "DMS full-load progress of the migration, 0-100.",
		}, []string{"namespace", "name"}),
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payment_migration_phase",
			Help: "1 for the migration's current phase, 0 for the others.",
		}, []string{"namespace", "name", "phase"}),
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payment_migration_condition",
			Help: "1 for the current status (True, False, Unknown) of each condition of the migration, 0 for the others.",
		}, []string{"namespace", "name", "type", "status"}),
		cutoverState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payment_migration_cutover_state",
			Help: "1 for the migration's current cutover state, 0 for the others; step is the service-tier step index last applied.",
		}, []string{"namespace", "name", "state"}),
		freeze: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payment_migration_cutover_freeze_seconds",
			Help: "Duration of the last write freeze of the migration's cutover: fence requested to writer record in sync.",
		}, []string{"namespace", "name"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_migration_cutover_rollbacks_total",
			Help: "Cutover rollbacks of the migration, by reason (GateFailed, FreezeTimeout, Aborted, ...).",
		}, []string{"namespace", "name", "reason"}),
	}
	reg.MustRegister(m.lag, m.fullLoad, m.phase, m.condition, m.cutoverState, m.freeze, m.rollbacks)
	return m
}

// cutoverStates lists the states of the cutover state gauge.
var cutoverStates = []paymentsv1alpha1.CutoverState{"Idle", "Held", "Stepping", "Freezing", "Flipped", "Completed", "RollingBack", "RolledBack"}

// ObserveCutover records the cutover's state and its last freeze.
func (m *MigrationMetrics) ObserveCutover(pm *paymentsv1alpha1.PaymentMigration) {
	if m == nil || pm.Status.Cutover == nil {
		return
	}
	c := pm.Status.Cutover
	for _, s := range cutoverStates {
		m.cutoverState.WithLabelValues(pm.Namespace, pm.Name, string(s)).Set(flag(c.State == s))
	}
	if c.FreezeMillis != nil {
		m.freeze.WithLabelValues(pm.Namespace, pm.Name).Set(float64(*c.FreezeMillis) / 1000)
	}
}

// CountRollback counts a completed rollback.
func (m *MigrationMetrics) CountRollback(pm *paymentsv1alpha1.PaymentMigration, reason string) {
	if m == nil {
		return
	}
	m.rollbacks.WithLabelValues(pm.Namespace, pm.Name, reason).Inc()
}

// Observe records the migration's status.
func (m *MigrationMetrics) Observe(pm *paymentsv1alpha1.PaymentMigration) {
	if m == nil {
		return
	}
	ns, name := pm.Namespace, pm.Name
	for _, p := range allPhases {
		m.phase.WithLabelValues(ns, name, string(p)).Set(flag(pm.Status.Phase == p))
	}
	for _, c := range pm.Status.Conditions {
		for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
			m.condition.WithLabelValues(ns, name, c.Type, string(s)).Set(flag(c.Status == s))
		}
	}
	r := pm.Status.Replication
	if r == nil {
		return
	}
	m.fullLoad.WithLabelValues(ns, name).Set(float64(r.FullLoadPercent))
	for side, v := range map[string]*int64{"source": r.CDCLatencySourceSeconds, "target": r.CDCLatencyTargetSeconds} {
		if v != nil {
			m.lag.WithLabelValues(ns, name, side).Set(float64(*v))
		} else {
			m.lag.DeleteLabelValues(ns, name, side)
		}
	}
}

// Forget drops every series of a migration that is gone.
func (m *MigrationMetrics) Forget(namespace, name string) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"namespace": namespace, "name": name}
	for _, v := range []*prometheus.GaugeVec{m.lag, m.fullLoad, m.phase, m.condition, m.cutoverState, m.freeze} {
		v.DeletePartialMatch(labels)
	}
	m.rollbacks.DeletePartialMatch(labels)
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
