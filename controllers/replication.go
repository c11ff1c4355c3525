package controllers

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/statustext"
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
	stackID := ""
	if pm.Status.Stack != nil {
		stackID = pm.Status.Stack.ID
	}
	if why := identityChange(st.replication(), stackID, taskARN); why != "" {
		r.forgetReplication(ctx, pm, st, why)
	}
	repl := st.replication()
	if repl.StartedAt != nil && repl.StartedTaskARN == "" && repl.TaskARN == taskARN {
		// Recorded before records named their task: it was this one.
		repl.StartedTaskARN = taskARN
	}
	repl.TaskARN, repl.StackID = taskARN, stackID
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
	if task.Status == "" {
		// The stack's task is gone: the stack may have been re-created out of
		// band, with another task. Observe it on the next reconcile instead of
		// trusting outputs read up to Timing.Slow ago.
		r.stackSeen.Delete(pm.UID)
	}
	in := replication.TaskInputs{
		Task:            task,
		PreflightPassed: preflightOK,
		Paused:          pm.Spec.Replication.Paused || forwardTaskHeld(pm) || repl.StoppedForStackUpdate,
		Recorded:        repl.StartedAt != nil && repl.StartedTaskARN == taskARN,
	}
	switch {
	case pm.Spec.Replication.Paused:
		in.Holder = replication.HeldByUser
	case repl.StoppedForStackUpdate:
		in.Holder = replication.HeldForStackUpdate
	case forwardTaskHeld(pm):
		in.Holder = replication.HeldAtFlip
	}
	if replication.NeedStartTag(task) {
		if in.StartTag, err = rep.StartTag(ctx, taskARN); err != nil {
			st.condition(paymentsv1alpha1.ConditionReplicationRunning, metav1.ConditionUnknown, "TaskReadFailed", err.Error())
			return 0, err
		}
	}
	decision := replication.DecideTask(in)
	if decision.Record {
		now := metav1.NewTime(r.now())
		repl.StartedAt, repl.StartedTaskARN = &now, taskARN
		st.history(fmt.Sprintf("the DMS task %s is running without this migration's record of starting it (resumed by hand, or the record was lost): recorded; from now on it is only ever resumed", taskARN))
	}
	if err := r.actOnTask(ctx, pm, st, rep, taskARN, decision.Action); err != nil {
		st.condition(paymentsv1alpha1.ConditionReplicationRunning, metav1.ConditionFalse, "TaskActionFailed", err.Error())
		return 0, err
	}
	repl.TaskStatus = task.Status
	repl.FullLoadPercent = clampPercent(task.FullLoadPercent)
	repl.TablesLoaded, repl.TablesLoading, repl.TablesQueued, repl.TablesErrored = task.TablesLoaded, task.TablesLoading, task.TablesQueued, task.TablesErrored
	st.condition(paymentsv1alpha1.ConditionReplicationRunning, boolStatus(decision.Running), decision.Reason, decision.Message)

	r.watchTask(pm, rep, names, taskARN)
	if decision.Running {
		if err := r.sampleLag(ctx, pm, st, rep, names, taskARN); err != nil {
			return 0, err
		}
		if err := r.sampleValidation(ctx, pm, st, rep, taskARN); err != nil {
			return 0, err
		}
	} else {
		// Stopped, paused, failed, in a transition: no lag to sample, and the
		// samples under the threshold before the stop do not count after it.
		r.lagNotRunning(pm, st, task.Status)
	}

	cdc := pm.Spec.Replication.MigrationType == paymentsv1alpha1.MigrationTypeCDC
	switch {
	case cutoverOwnsPhase(pm):
		// The cutover owns the phase from its start.
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
	repl := st.replication()
	if repl.RebootRequestedAt != nil {
		obs.RebootRequestedAt = repl.RebootRequestedAt.Time
	}
	obs.Now = r.now()
	res := replication.EvaluatePreflight(obs, pm.Spec.Database.AllowRebootForParameterApply)
	if res.ClearRebootRequest {
		repl.RebootRequestedAt = nil
	}
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
	if res.Passed && obs.Databases != nil {
		if err := prepareCutover(ctx, pm, sql, obs.Databases.Source.TableNames()); err != nil {
			res.Passed, res.Reason = false, "CutoverPreparationFailed"
			res.Message += "\nFAIL cutover preparation: " + err.Error()
		} else {
			res.Message += fmt.Sprintf("\nok   cutover preparation: role %s can write the mapped tables on both sides; the watermark table %s (mapped too, so DMS counts it among the tables) exists on both",
				pm.Spec.Database.ApplicationUsername, naming.WatermarkTable)
		}
	}
	st.condition(paymentsv1alpha1.ConditionPreflightPassed, boolStatus(res.Passed), res.Reason, res.Message)
	if res.RebootSource {
		if err := r.rebootSource(ctx, st, rep, targets.SourceDBInstanceID, obs.Now); err != nil {
			return false, err
		}
	}
	return res.Passed, nil
}

// rebootSource reboots the production source, at most once per request. The
// request is written to status first, with the resourceVersion this reconcile
// read: if that write fails (a conflict: another reconcile, on a newer copy,
// decided first) nothing is called. Once it is written, no reconcile requests
// again until RDS shows the reboot or replication.RebootWait passes, however
// long RDS keeps reading "available" + "pending-reboot", and whatever happens
// to this reconcile: a manager that stops between the write and the call has
// recorded a request it never made, and the bound makes it up.
func (r *PaymentMigrationReconciler) rebootSource(ctx context.Context, st *statusWriter, rep ReplicationAWS, dbInstanceID string, now time.Time) error {
	at := metav1.NewTime(now)
	st.replication().RebootRequestedAt = &at
	if err := st.patch(ctx); err != nil {
		return fmt.Errorf("recording the reboot request of the source before making it: %w", err)
	}
	if err := rep.RebootDB(ctx, dbInstanceID); err != nil {
		// The call may have reached RDS (a timeout): the request stands, and
		// only RDS showing no reboot for RebootWait lets another be made.
		return fmt.Errorf("rebooting the source (request recorded at %s; not repeated before %s unless RDS shows the reboot): %w",
			at.UTC().Format(time.RFC3339), at.Add(replication.RebootWait).UTC().Format(time.RFC3339), err)
	}
	st.history("requested a reboot of the source database to apply rds.logical_replication")
	return nil
}

// prepareCutover readies both databases for the cutover before the task
// starts (so the task's mapping of the watermark table finds it): the drain
// control table, and the application's own role with write access to the
// mapped tables, the role the freeze fences. Both steps are idempotent.
func prepareCutover(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, sql sqlrunner.Runner, tables []string) error {
	appSecret := pm.Status.Stack.Outputs[tapstack.OutputAppDbSecretArn]
	if appSecret == "" {
		return fmt.Errorf("the stack has no %s output", tapstack.OutputAppDbSecretArn)
	}
	schema := pm.Spec.Replication.Schema
	role := sqlrunner.AppRole{Name: pm.Spec.Database.ApplicationUsername, SecretARN: appSecret, Schema: schema, Tables: tables}
	for _, db := range []sqlrunner.Database{sourceDatabase(pm), targetDatabase(pm)} {
		if err := sql.EnsureWatermarkTable(ctx, db, schema); err != nil {
			return err
		}
		if err := sql.EnsureAppRole(ctx, db, role); err != nil {
			return err
		}
	}
	return nil
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
	case replication.StartReplication:
		if err := r.firstStart(ctx, pm, st, rep, arn); err != nil {
			return err
		}
	case replication.ResumeProcessing:
		if err := rep.StartTask(ctx, arn, action); err != nil {
			return err
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

// firstStart starts the task for the first time (full load, then CDC), in an
// order that a crash or a failed call at any point leaves safe: the start is
// recorded in status (with the task's ARN), then announced by a tag on the
// task, then made. A reconcile that finds the record without the tag knows
// the call was not made; one that finds the tag but no sign of a run in DMS
// cannot know, and holds (replication.DecideTask) rather than risk a second
// start-replication, which would reload the target. Only DMS refusing the
// call (a client fault: the task did not start) takes the tag back.
func (r *PaymentMigrationReconciler) firstStart(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, arn string) error {
	now := r.now()
	repl := st.replication()
	if repl.StartedAt == nil || repl.StartedTaskARN != arn {
		at := metav1.NewTime(now)
		repl.StartedAt, repl.StartedTaskARN = &at, arn
	}
	if err := st.patch(ctx); err != nil {
		return fmt.Errorf("recording the first start of %s before making it: %w", arn, err)
	}
	tag := fmt.Sprintf("%s %s/%s %s", now.UTC().Format(time.RFC3339), pm.Namespace, pm.Name, pm.UID)
	if err := rep.TagStart(ctx, arn, tag); err != nil {
		return err
	}
	err := rep.StartTask(ctx, arn, replication.StartReplication)
	switch {
	case err == nil:
		return nil
	case replicationaws.Refused(err):
		if uerr := rep.UntagStart(ctx, arn); uerr != nil {
			return fmt.Errorf("DMS refused the first start of %s: %w; %w", arn, err, uerr)
		}
		return fmt.Errorf("DMS refused the first start of %s (the first-start tag is taken back; the start is tried again): %w", arn, err)
	default:
		return fmt.Errorf("the first start of %s has an unknown outcome, so it is not made again until DMS shows the task ran or %s is removed from it: %w",
			arn, replication.StartTagKey, err)
	}
}

// identityChange says why the replication status no longer describes the
// stack's task ("" when it does): the stack's output names another task, or
// the stack was re-created (another stack id) out of band.
func identityChange(repl *paymentsv1alpha1.ReplicationStatus, stackID, taskARN string) string {
	switch {
	case repl.TaskARN != "" && repl.TaskARN != taskARN:
		return fmt.Sprintf("the stack's DMS task is now %s (was %s)", taskARN, repl.TaskARN)
	case repl.StackID != "" && stackID != "" && repl.StackID != stackID:
		return fmt.Sprintf("the stack is now %s (was %s): it was re-created", stackID, repl.StackID)
	}
	return ""
}

// forgetReplication resets what the status knows of a task that is gone: its
// figures, its start record, and the conditions that described it, so the
// preflight runs again and the new task is never resumed on the old one's
// record (nor, without preflight, started).
func (r *PaymentMigrationReconciler) forgetReplication(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, why string) {
	log.FromContext(ctx).Info("the replication status describes a task that is gone; resetting it", "why", why)
	pm.Status.Replication = &paymentsv1alpha1.ReplicationStatus{}
	st.forget(paymentsv1alpha1.ConditionPreflightPassed, paymentsv1alpha1.ConditionReplicationRunning,
		paymentsv1alpha1.ConditionLagWithinThreshold, paymentsv1alpha1.ConditionDataValidated)
	msg := why + ": the replication status and PreflightPassed are reset; the preflight runs again, and the new task is started only if DMS shows it never ran"
	st.appendHistory(paymentsv1alpha1.HistoryEntry{Time: metav1.NewTime(r.now()), Actor: Operator, Phase: pm.Status.Phase, Message: statustext.Truncate(msg, 1024)})
	r.event(pm, corev1.EventTypeWarning, "TaskReplaced", "Reconcile", msg)
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
	v := replication.EvaluateLagAt(prev, sample, replication.LagGate{
		ThresholdSeconds: pm.Spec.Replication.LagThresholdSeconds,
		Required:         pm.Spec.Cutover.Gates.ConsecutiveLagSamples,
	}, r.now())
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

// lagNotRunning turns the lag gate Unknown while the task does not run and
// restarts its count; the figures of the last sample stay for display.
// Before the task first runs there is no gate to reset: the condition stays
// unset (Ready says it is not reported yet).
func (r *PaymentMigrationReconciler) lagNotRunning(pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, taskStatus string) {
	if findCondition(pm, paymentsv1alpha1.ConditionLagWithinThreshold) == nil {
		return
	}
	repl := st.replication()
	prev := replication.LagState{Consecutive: repl.SamplesUnderThreshold}
	if repl.SampleTime != nil {
		prev.LastSample = repl.SampleTime.Time
	}
	v := replication.LagTaskNotRunning(prev, taskStatus)
	repl.SamplesUnderThreshold = v.State.Consecutive
	st.condition(paymentsv1alpha1.ConditionLagWithinThreshold, metav1.ConditionUnknown, v.Reason, v.Message)
}

// SampleWatcher is a ReplicationAWS that polls its region on its own cadence
// (replicationaws.Client): it reads every watched task's status and CDC
// latency in batched calls and calls wake, without blocking, when either
// changed, so a new datapoint reaches the lag gate within a poll interval of
// its publication instead of at the migration's next sample.
type SampleWatcher interface {
	WatchTask(taskARN, instanceID, taskID string, wake func())
}

// wakeBuffer bounds the wake-ups waiting for the controller to take them; a
// wake-up that finds it full is dropped, and the migration's own requeue
// (Timing.Replicating) still comes.
const wakeBuffer = 4096

// wakeSource is the controller's source of the wake-ups the region poller
// asks for (SetupWithManager watches it); until it is called, nothing is
// watched.
func (r *PaymentMigrationReconciler) wakeSource() source.Source {
	r.wake = make(chan event.GenericEvent, wakeBuffer)
	return source.Channel(r.wake, &handler.EnqueueRequestForObject{})
}

// watchTask (re)registers the migration's task with its region's poller, if
// the client has one; every reconcile refreshes it, and a watch no reconcile
// refreshed for 10 minutes lapses.
func (r *PaymentMigrationReconciler) watchTask(pm *paymentsv1alpha1.PaymentMigration, rep ReplicationAWS, names naming.Names, taskARN string) {
	w, ok := rep.(SampleWatcher)
	if !ok || r.wake == nil {
		return
	}
	ch, name, namespace := r.wake, pm.Name, pm.Namespace
	w.WatchTask(taskARN, names.DMSInstance(), taskResourceID(taskARN), func() {
		obj := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		select {
		case ch <- event.GenericEvent{Object: obj}:
		default:
		}
	})
}

// sampleValidation reads the table statistics, less often than lag: they change
// slowly and cannot be batched across migrations. Once validation has settled
// they are read SettledValidationFactor times less often still
// (replication.ValidationReadInterval).
func (r *PaymentMigrationReconciler) sampleValidation(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, taskARN string) error {
	repl := st.replication()
	now := r.now()
	// A spec change (validation turned on, say) is read at once: the last
	// read's condition no longer describes the spec.
	if c := findCondition(pm, paymentsv1alpha1.ConditionDataValidated); c != nil && repl.ValidationSampleTime != nil &&
		c.ObservedGeneration == pm.Generation &&
		now.Sub(repl.ValidationSampleTime.Time) < replication.ValidationReadInterval(c.Reason, r.Timing.Validation) {
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
