package controllers

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

func TestMigrationMetricsFollowStatusAndAreForgotten(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMigrationMetrics(reg)
	lag := int64(42)
	pm := &paymentsv1alpha1.PaymentMigration{}
	pm.Namespace, pm.Name = "payments", "pr6185"
	pm.Status.Phase = paymentsv1alpha1.PhaseReplicating
	pm.Status.Conditions = []metav1.Condition{{Type: "LagWithinThreshold", Status: metav1.ConditionFalse}}
	pm.Status.Replication = &paymentsv1alpha1.ReplicationStatus{FullLoadPercent: 100, CDCLatencyTargetSeconds: &lag}
	m.Observe(pm)

	want := `
# HELP payment_migration_cdc_latency_seconds Latest DMS CDC latency of the migration, by side (source: reading changes, target: applying them).
# TYPE payment_migration_cdc_latency_seconds gauge
payment_migration_cdc_latency_seconds{name="pr6185",namespace="payments",side="target"} 42
# HELP payment_migration_full_load_percent DMS full-load progress of the migration, 0-100.
# TYPE payment_migration_full_load_percent gauge
payment_migration_full_load_percent{name="pr6185",namespace="payments"} 100
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "payment_migration_cdc_latency_seconds", "payment_migration_full_load_percent"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.phase.WithLabelValues("payments", "pr6185", "Replicating")); got != 1 {
		t.Errorf("phase Replicating = %v", got)
	}
	if got := testutil.ToFloat64(m.phase.WithLabelValues("payments", "pr6185", "FullLoad")); got != 0 {
		t.Errorf("phase FullLoad = %v", got)
	}
	if got := testutil.ToFloat64(m.condition.WithLabelValues("payments", "pr6185", "LagWithinThreshold", "False")); got != 1 {
		t.Errorf("condition False = %v", got)
	}

	m.Forget("payments", "pr6185")
	if n := testutil.CollectAndCount(reg); n != 0 {
		t.Errorf("%d series left after Forget", n)
	}
}

func TestNilMetricsAreANoOp(t *testing.T) {
	var m *MigrationMetrics
	m.Observe(&paymentsv1alpha1.PaymentMigration{})
	m.Forget("a", "b")
}
