package controllers

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// reconcileReplication takes a migration whose stack is ready through
// Preflight -> FullLoad -> Replicating: it runs the preflight checks, drives the
// DMS task, and samples progress, lag and validation. It returns how soon to
// look again, which depends on the phase.
func (r *PaymentMigrationReconciler) reconcileReplication(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, sql sqlrunner.Runner) (time.Duration, error) {
	outputs := pm.Status.Stack.Outputs
	taskARN := outputs[tapstack.OutputDMSTaskArn]
	if taskARN == "" {
		st.condition(paymentsv1alpha1.ConditionReplicationRunning, metav1.ConditionUnknown, "NoTaskOutput", "the stack has no "+tapstack.OutputDMSTaskArn+" output")
		return r.Timing.Slow, nil
	}
	repl := st.replication()
	repl.TaskARN = taskARN
	names := naming.New(pm.Spec.EnvironmentSuffix)

	preflightOK, err := r.preflight(ctx, pm, st, rep, sql, names)
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionPreflightPassed, metav1.ConditionUnknown, "PreflightReadFailed", err.Error())
		return 0, err
	}

	task, err := rep.Task(ctx, taskARN)
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionReplicationRunning, metav1.ConditionUnknown, "TaskReadFailed", err.Error())
		return 0, err
	}
	decision := replication.DecideTask(replication.TaskInputs{
		Task:            task,
		PreflightPassed: preflightOK,
		Paused:          pm.Spec.Replication.Paused,
		StartedBefore:   repl.StartedAt != nil,
	})
	if err := r.actOnTask(ctx, pm, st, rep, taskARN, decision.Action); err != nil {
		st.condition(paymentsv1alpha1.ConditionReplicationRunning, metav1.ConditionFalse, "TaskActionFailed", err.Error())
		return 0, err
	}
	repl.TaskStatus = task.Status
	repl.FullLoadPercent = clampPercent(task.FullLoadPercent)
	repl.TablesLoaded, repl.TablesLoading, repl.TablesQueued, repl.TablesErrored = task.TablesLoaded, task.TablesLoading, task.TablesQueued, task.TablesErrored
	st.condition(paymentsv1alpha1.ConditionReplicationRunning, boolStatus(decision.Running), decision.Reason, decision.Message)

	if decision.Running {
		if err := r.sampleLag(ctx, pm, st, rep, names, taskARN); err != nil {
			return 0, err
		}
		if err := r.sampleValidation(ctx, pm, st, rep, taskARN); err != nil {
			return 0, err
		}
	}

	cdc := pm.Spec.Replication.MigrationType == paymentsv1alpha1.MigrationTypeCDC
	switch {
	case decision.Failed:
		st.phase(paymentsv1alpha1.PhaseFailed, decision.Message)
	case decision.Running && (cdc || replication.FullLoadDone(task)):
		st.phase(paymentsv1alpha1.PhaseReplicating, "full load complete; replicating changes")
	case decision.Running:
		st.phase(paymentsv1alpha1.PhaseFullLoad, "DMS task running: full load")
	case !preflightOK:
		st.phase(paymentsv1alpha1.PhasePreflight, "stack ready; running the preflight checks")
	}
	return r.Timing.replication(pm.Status.Phase, decision.Busy || !preflightOK), nil
}

// preflight runs the checks until they pass for the current generation; once
// they have, they are not repeated (the task's own state says the rest).
func (r *PaymentMigrationReconciler) preflight(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, sql sqlrunner.Runner, names naming.Names) (bool, error) {
	if c := findCondition(pm, paymentsv1alpha1.ConditionPreflightPassed); c != nil && c.Status == metav1.ConditionTrue {
		return true, nil
	}
	outputs := pm.Status.Stack.Outputs
	targets := replication.PreflightTargets{
		SourceDBInstanceID: outputs[tapstack.OutputSourceDbInstanceID],
		ParameterGroup:     names.DBParameterGroup(naming.Source),
		RoleNames:          []string{names.DMSVPCRole(), names.DMSLogsRole()},
		InstanceARN:        outputs[tapstack.OutputDMSReplicationInstanceArn],
		Endpoints: []replication.EndpointRef{
			{Side: string(naming.Source), ARN: outputs[tapstack.OutputDMSSourceEndpointArn]},
			{Side: string(naming.Target), ARN: outputs[tapstack.OutputDMSTargetEndpointArn]},
		},
	}
	obs, err := rep.Preflight(ctx, targets)
	if err != nil {
		return false, err
	}
	obs.Databases = inspectDatabases(ctx, pm, sql)
	res := replication.EvaluatePreflight(obs, pm.Spec.Database.AllowRebootForParameterApply)
	for _, endpoint := range res.TestConnections {
		if err := rep.TestConnection(ctx, targets.InstanceARN, endpoint); err != nil {
			return false, err
		}
	}
	if len(res.TargetSchema) > 0 {
		// One transaction: a failure leaves the target as it was, and the
		// next preflight plans again from what is there.
		if err := sql.ApplyDDL(ctx, targetDatabase(pm), res.TargetSchema); err != nil {
			res.Reason = "TargetSchemaFailed"
			res.Message += "\nFAIL target schema: creating it failed: " + err.Error()
		} else {
			log.FromContext(ctx).Info("created the target schema from the source", "statements", len(res.TargetSchema))
			st.history(fmt.Sprintf("created the mapped tables on the target from the source's schema (%d statements)", len(res.TargetSchema)))
		}
	}
	if res.RebootSource {
		if err := rep.RebootDB(ctx, targets.SourceDBInstanceID); err != nil {
			return false, err
		}
		st.history("rebooted the source database to apply rds.logical_replication")
	}
	st.condition(paymentsv1alpha1.ConditionPreflightPassed, boolStatus(res.Passed), res.Reason, res.Message)
	return res.Passed, nil
}

// inspectDatabases reads both databases' catalogs for preflight; a database
// that cannot be read is an observation (a failed check line), not an error
// of the reconcile: a security group or a password being fixed is expected.
func inspectDatabases(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, sql sqlrunner.Runner) *replication.DatabaseObservation {
	outputs := pm.Status.Stack.Outputs
	if sql == nil || outputs[tapstack.OutputSourceDbSecretArn] == "" || outputs[tapstack.OutputTargetDbSecretArn] == "" {
		return nil
	}
	r := pm.Spec.Replication
	obs := &replication.DatabaseObservation{LOBMode: string(r.LOBMode), LOBMaxSizeKiB: r.LOBMaxSizeKiB}
	source, err := sql.Inspect(ctx, sourceDatabase(pm), sqlrunner.InspectRequest{
		Schema: r.Schema, Patterns: r.Tables, MeasureLOBs: r.LOBMode != paymentsv1alpha1.LOBModeFull,
	})
	if err != nil {
		obs.SourceError = err.Error()
		return obs
	}
	target, err := sql.Inspect(ctx, targetDatabase(pm), sqlrunner.InspectRequest{Schema: r.Schema, Tables: source.TableNames()})
	if err != nil {
		obs.TargetError = err.Error()
		return obs
	}
	obs.Source, obs.Target = source, target
	return obs
}

func sourceDatabase(pm *paymentsv1alpha1.PaymentMigration) sqlrunner.Database {
	return sqlrunner.Database{Side: string(naming.Source), SecretARN: pm.Status.Stack.Outputs[tapstack.OutputSourceDbSecretArn]}
}

func targetDatabase(pm *paymentsv1alpha1.PaymentMigration) sqlrunner.Database {
	return sqlrunner.Database{Side: string(naming.Target), SecretARN: pm.Status.Stack.Outputs[tapstack.OutputTargetDbSecretArn]}
}

func (r *PaymentMigrationReconciler) actOnTask(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, arn string, action replication.TaskAction) error {
	switch action {
	case replication.NoAction:
		return nil
	case replication.StartReplication, replication.ResumeProcessing:
		if err := rep.StartTask(ctx, arn, action); err != nil {
			return err
		}
		if action == replication.StartReplication {
			now := metav1.NewTime(r.now())
			st.replication().StartedAt = &now
		}
	case replication.StopTask:
		if err := rep.StopTask(ctx, arn); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown task action %q", action)
	}
	log.FromContext(ctx).Info("DMS task", "action", action)
	st.history(fmt.Sprintf("DMS task %s", action))
	return nil
}

// sampleLag reads the CDC latencies and moves the lag gate.
func (r *PaymentMigrationReconciler) sampleLag(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, names naming.Names, taskARN string) error {
	sample, err := rep.Lag(ctx, names.DMSInstance(), taskResourceID(taskARN))
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionLagWithinThreshold, metav1.ConditionUnknown, "LagReadFailed", err.Error())
		return err
	}
	repl := st.replication()
	prev := replication.LagState{Consecutive: repl.SamplesUnderThreshold}
	if repl.SampleTime != nil {
		prev.LastSample = repl.SampleTime.Time
	}
	v := replication.EvaluateLag(prev, sample, pm.Spec.Replication.LagThresholdSeconds, pm.Spec.Cutover.Gates.ConsecutiveLagSamples)
	repl.SamplesUnderThreshold = v.State.Consecutive
	if !v.State.LastSample.IsZero() {
		t := metav1.NewTime(v.State.LastSample)
		repl.SampleTime = &t
	}
	repl.CDCLatencySourceSeconds, repl.CDCLatencyTargetSeconds = seconds(sample.Source), seconds(sample.Target)
	status := metav1.ConditionUnknown
	if v.Known {
		status = boolStatus(v.Within)
	}
	st.condition(paymentsv1alpha1.ConditionLagWithinThreshold, status, v.Reason, v.Message)
	return nil
}

// sampleValidation reads the table statistics, less often than lag: they change
// slowly and cannot be batched across migrations.
func (r *PaymentMigrationReconciler) sampleValidation(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, taskARN string) error {
	repl := st.replication()
	now := r.now()
	if repl.ValidationSampleTime != nil && now.Sub(repl.ValidationSampleTime.Time) < r.Timing.Validation &&
		findCondition(pm, paymentsv1alpha1.ConditionDataValidated) != nil {
		return nil
	}
	tables, err := rep.TableStatistics(ctx, taskARN)
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionDataValidated, metav1.ConditionUnknown, "StatisticsReadFailed", err.Error())
		return err
	}
	validationOn := pm.Spec.Replication.Validation == nil || *pm.Spec.Replication.Validation
	v := replication.AggregateValidation(tables, validationOn)
	t := metav1.NewTime(now)
	repl.ValidationSampleTime = &t
	repl.ValidationState = v.State
	repl.ValidationFailedRecords, repl.ValidationPendingRecords, repl.ValidationSuspendedRecords = v.Failed, v.Pending, v.Suspended
	status := metav1.ConditionUnknown
	if v.Known {
		status = boolStatus(v.Validated)
	}
	st.condition(paymentsv1alpha1.ConditionDataValidated, status, v.Reason, v.Message)
	return nil
}

// replication is how soon to sample again: quickly while DMS is in a
// transition or preflight is pending, then by phase. Metrics arrive once a
// minute, so sampling a replicating migration more often buys nothing.
func (t Timing) replication(phase paymentsv1alpha1.Phase, busy bool) time.Duration {
	switch {
	case busy:
		return t.Fast
	case phase == paymentsv1alpha1.PhaseFullLoad:
		return t.FullLoad
	case phase == paymentsv1alpha1.PhaseReplicating:
		return t.Replicating
	default:
		return t.Slow
	}
}

// taskResourceID is the last part of a task ARN, the ReplicationTaskIdentifier
// dimension of DMS metrics (not the task's friendly name).
func taskResourceID(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

func seconds(v *float64) *int64 {
	if v == nil {
		return nil
	}
	s := int64(math.Round(*v))
	return &s
}

func clampPercent(p int32) int32 { return max(0, min(100, p)) }

func boolStatus(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}
