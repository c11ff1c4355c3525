package migration

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/conditions"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/traffic"
)

// Health is the read of the target's Route 53 health check.
type Health struct {
	// NoCheck: the stack has no health check output.
	NoCheck bool
	// Err is why the read failed, "" when it did not.
	Err    string
	Health traffic.Health
}

// decideCutover reads the gates from the conditions as this pass's step
// leaves them and from what was read, and decides the cutover's first action.
func decideCutover(o Observation, step replication.StepDecision) *CutoverDecision {
	c := o.Cutover
	if c.Unavailable != "" {
		return &CutoverDecision{Conditions: []Condition{{Type: paymentsv1alpha1.ConditionCutoverReady, Status: metav1.ConditionUnknown, Reason: "CutoverUnavailable", Message: c.Unavailable}}}
	}
	d := &CutoverDecision{}
	var gates []cutover.Gate
	if GatesMatter(c.Record.State) {
		conds := projectConditions(o, step)
		figures := o.Validation
		if a := step.Aggregate; a != nil {
			figures = ValidationFigures{Failed: a.Failed, Pending: a.Pending, Suspended: a.Suspended}
		}
		gates = []cutover.Gate{
			conditionGate(conds, "replication running", paymentsv1alpha1.ConditionReplicationRunning, nil),
			conditionGate(conds, "lag", paymentsv1alpha1.ConditionLagWithinThreshold, nil),
		}
		if c.RequireValidation {
			gates = append(gates, validationGate(conds, figures))
		}
		if c.Health != nil {
			gate, cond, status := healthGate(*c.Health)
			gates = append(gates, gate)
			d.Conditions = append(d.Conditions, cond)
			d.HealthCheckStatus = status
		}
		gates = append(gates, c.Gates...)
		status, reason := metav1.ConditionTrue, "GatesPass"
		if failed, unknown := cutover.FailingGates(gates); len(failed) > 0 {
			status, reason = metav1.ConditionFalse, "GateFailing"
		} else if len(unknown) > 0 {
			status, reason = metav1.ConditionUnknown, "GateUnknown"
		}
		d.Conditions = append(d.Conditions, Condition{Type: paymentsv1alpha1.ConditionCutoverReady, Status: status, Reason: reason, Message: cutover.GateLines(gates)})
	}
	d.Gates = gates
	first := cutover.Decide(c.Spec, c.Record, gates, c.World, o.Now)
	d.First = &first
	return d
}

// NotReplicating is CutoverReady before a migration replicates.
var NotReplicating = Condition{Type: paymentsv1alpha1.ConditionCutoverReady, Status: metav1.ConditionFalse, Reason: "NotReplicating",
	Message: "the cutover gates are read once the migration is Replicating"}

// GatesMatter: the states in which the gates decide something (a start, a
// step, a rollback before the flip), and the pass reads them.
func GatesMatter(s cutover.State) bool {
	switch s {
	case "", cutover.Idle, cutover.Held, cutover.Stepping, cutover.RolledBack:
		return true
	}
	return false
}

// projectConditions are the conditions as the step's decision leaves them.
func projectConditions(o Observation, step replication.StepDecision) []metav1.Condition {
	conds := append([]metav1.Condition(nil), o.Conditions...)
	set := func(t string, c *replication.Condition) {
		if c != nil {
			conditions.Set(&conds, o.Generation, t, StepConditionStatus(*c), c.Reason, c.Message)
		}
	}
	running := step.Task.Running
	conditions.Set(&conds, o.Generation, paymentsv1alpha1.ConditionReplicationRunning, boolStatus(running), step.Task.Reason, step.Task.Message)
	set(paymentsv1alpha1.ConditionLagWithinThreshold, step.Lag)
	set(paymentsv1alpha1.ConditionDataValidated, step.Validation)
	return conds
}

// StepConditionStatus is a step condition's status: Known false is Unknown.
func StepConditionStatus(c replication.Condition) metav1.ConditionStatus {
	if !c.Known {
		return metav1.ConditionUnknown
	}
	return boolStatus(c.True)
}

func boolStatus(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// conditionGate reads a gate from a condition the replication step keeps;
// waitReasons are False reasons that mean "not yet" rather than "failed".
func conditionGate(conds []metav1.Condition, name, condType string, waitReasons map[string]bool) cutover.Gate {
	c := meta.FindStatusCondition(conds, condType)
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

// validationGate: no record failed or suspended validation. Under a steady
// write load DMS always has records in flight ("Pending records": changed
// rows not compared yet), so requiring zero pending would hold a busy
// migration forever; the freeze's watermark drain, not validation, is what
// proves every committed payment reached the target. A table whose
// validation has not run yet (Pending validation, Preparing table) waits.
func validationGate(conds []metav1.Condition, v ValidationFigures) cutover.Gate {
	g := conditionGate(conds, "validation", paymentsv1alpha1.ConditionDataValidated, map[string]bool{"ValidationPending": true, "NoTableStatistics": true})
	c := meta.FindStatusCondition(conds, paymentsv1alpha1.ConditionDataValidated)
	if g.State != cutover.Unknown || c == nil || c.Reason != "ValidationPending" ||
		v.Failed != 0 || v.Suspended != 0 || !onlyRecordsInFlight(c.Message) {
		return g
	}
	g.State = cutover.Pass
	g.Message = fmt.Sprintf("no failed or suspended records; %d records in flight (changed rows DMS has not compared yet)", v.Pending)
	return g
}

// onlyRecordsInFlight reads the per-table list of the DataValidated message
// (replication.AggregateValidation: "N failed, N pending, N suspended
// records; schema.table: State; ..."): every table listed is validating
// with records pending, none is waiting for validation to start.
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

// healthGate: the target's Route 53 health check, healthy by the majority
// of the checkers; it sets TargetHealthy and status.traffic's health too.
func healthGate(h Health) (cutover.Gate, Condition, string) {
	const name = "target health"
	cond := func(s metav1.ConditionStatus, reason, msg string) Condition {
		return Condition{Type: paymentsv1alpha1.ConditionTargetHealthy, Status: s, Reason: reason, Message: msg}
	}
	switch {
	case h.NoCheck:
		return cutover.Gate{Name: name, State: cutover.Unknown, Message: "no health check output"},
			cond(metav1.ConditionUnknown, "NoHealthCheck", "the stack has no HealthCheckId output"), ""
	case h.Err != "":
		return cutover.Gate{Name: name, State: cutover.Unknown, Message: h.Err}, cond(metav1.ConditionUnknown, "HealthReadFailed", h.Err), ""
	}
	msg := fmt.Sprintf("%d of %d Route 53 checkers report healthy", h.Health.Healthy, h.Health.Checkers)
	switch {
	case h.Health.Checkers == 0:
		return cutover.Gate{Name: name, State: cutover.Unknown, Message: msg}, cond(metav1.ConditionUnknown, "NoCheckerReports", msg), "NoReports"
	case h.Health.Majority():
		return cutover.Gate{Name: name, State: cutover.Pass, Message: msg}, cond(metav1.ConditionTrue, "MajorityHealthy", msg), "Healthy"
	}
	return cutover.Gate{Name: name, State: cutover.Fail, Message: msg}, cond(metav1.ConditionFalse, "MajorityUnhealthy", msg), "Unhealthy"
}
