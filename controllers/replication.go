package controllers

import (
	"context"
	"errors"
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
	"github.com/tapstack/payment-migration-operator/internal/migration"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/statustext"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// replicationObservation is what the pass read for the replication step,
// and what its actions need besides.
type replicationObservation struct {
	migration.Replication
	taskARN string
	task    replication.Task
	names   naming.Names
	targets replication.PreflightTargets
}

// observeReplication reads what the replication step decides on, for a
// migration whose stack is ready or watched through a change: the
// preflight's observations until it passes, the DMS task (and its
// first-start tag when DMS cannot tell whether it ever ran), its lag while
// it runs and its table statistics when they are due. A read the step
// cannot do without fails the pass (the condition says which); a lag or
// statistics read that fails is an observation, returned as readErr.
func (r *PaymentMigrationReconciler) observeReplication(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, sql sqlrunner.Runner) (*replicationObservation, *migration.Condition, error) {
	outputs := pm.Status.Stack.Outputs
	taskARN := outputs[tapstack.OutputDMSTaskArn]
	if taskARN == "" {
		return nil, &migration.Condition{Type: paymentsv1alpha1.ConditionReplicationRunning, Status: metav1.ConditionUnknown, Reason: "NoTaskOutput",
			Message: "the stack has no " + tapstack.OutputDMSTaskArn + " output"}, nil
	}
	stackID := pm.Status.Stack.ID
	if why := identityChange(st.replication(), stackID, taskARN); why != "" {
		r.forgetReplication(ctx, pm, st, why)
	}
	repl := st.replication()
	if repl.StartedAt != nil && repl.StartedTaskARN == "" && repl.TaskARN == taskARN {
		// Recorded before records named their task: it was this one.
		repl.StartedTaskARN = taskARN
	}
	repl.TaskARN, repl.StackID = taskARN, stackID
	o := &replicationObservation{taskARN: taskARN, names: naming.New(pm.Spec.EnvironmentSuffix)}
	// An existing source is never rebooted by the operator (the API refuses
	// the switch for it too).
	o.AllowReboot = pm.Spec.Database.AllowRebootForParameterApply && !existingSource(pm)

	if c := findCondition(pm, paymentsv1alpha1.ConditionPreflightPassed); c == nil || c.Status != metav1.ConditionTrue {
		// The checks run until they pass for the current generation; once
		// they have, they are not repeated (the task's own state says the
		// rest).
		o.targets = preflightTargets(pm, o.names)
		pre, err := rep.Preflight(ctx, o.targets)
		if err != nil {
			return nil, preflightFailed(err), err
		}
		pre.Databases = inspectDatabases(ctx, pm, sql)
		if repl.RebootRequestedAt != nil {
			pre.RebootRequestedAt = repl.RebootRequestedAt.Time
		}
		pre.Now = r.now()
		o.Preflight = &pre
	}

	task, err := rep.Task(ctx, taskARN)
	if err != nil {
		return nil, taskReadFailed(err), err
	}
	if task.Status == "" {
		// The stack's task is gone: the stack may have been re-created out of
		// band, with another task. Observe it on the next reconcile instead of
		// trusting outputs read up to Timing.Slow ago.
		r.stackSeen.Delete(pm.UID)
	}
	o.task = task
	in := replication.TaskInputs{
		Task:            task,
		PreflightPassed: o.Preflight == nil,
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
			return nil, taskReadFailed(err), err
		}
	}
	step, readErr := r.observeStep(ctx, pm, rep, o.names, taskARN, in)
	o.Step = step
	return o, nil, readErr
}

func preflightFailed(err error) *migration.Condition {
	return &migration.Condition{Type: paymentsv1alpha1.ConditionPreflightPassed, Status: metav1.ConditionUnknown, Reason: "PreflightReadFailed", Message: err.Error()}
}

func taskReadFailed(err error) *migration.Condition {
	return &migration.Condition{Type: paymentsv1alpha1.ConditionReplicationRunning, Status: metav1.ConditionUnknown, Reason: "TaskReadFailed", Message: err.Error()}
}

// applyReplication carries out the replication step's part of the
// decision: the preflight's actions and condition, the task's action, and
// the step's figures and conditions. It returns how soon to look again.
func (r *PaymentMigrationReconciler) applyReplication(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, sql sqlrunner.Runner, o *replicationObservation, d migration.Decision) (time.Duration, error) {
	if d.Preflight != nil {
		if err := r.applyPreflight(ctx, pm, st, rep, sql, o, *d.Preflight); err != nil {
			c := preflightFailed(err)
			st.condition(c.Type, c.Status, c.Reason, c.Message)
			return 0, err
		}
	}
	step := *d.Step
	repl := st.replication()
	if step.Task.Record {
		now := metav1.NewTime(r.now())
		repl.StartedAt, repl.StartedTaskARN = &now, o.taskARN
		st.history(fmt.Sprintf("the DMS task %s is running without this migration's record of starting it (resumed by hand, or the record was lost): recorded; from now on it is only ever resumed", o.taskARN))
	}
	if err := r.actOnTask(ctx, pm, st, rep, o.taskARN, step.Task.Action); err != nil {
		st.condition(paymentsv1alpha1.ConditionReplicationRunning, metav1.ConditionFalse, "TaskActionFailed", err.Error())
		return 0, err
	}
	r.watchTask(pm, rep, o.names, o.taskARN)
	r.applyStep(st, o.task, o.Step, step)
	st.phaseInputs.Step, st.phaseInputs.StepMessage = step.Phase, step.PhaseMessage
	st.settlePhase()
	return r.Timing.replication(pm.Status.Phase, step.Busy), nil
}

// observeStep reads what replication.PlanReads asks for: the lag while the
// task runs, the table statistics when they are due.
func (r *PaymentMigrationReconciler) observeStep(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, rep ReplicationAWS, names naming.Names, taskARN string, in replication.TaskInputs) (replication.StepInputs, error) {
	repl := pm.Status.Replication
	now := r.now()
	step := replication.StepInputs{
		Task:    in,
		LagPrev: replication.LagState{Consecutive: repl.SamplesUnderThreshold},
		LagGate: replication.LagGate{
			ThresholdSeconds: pm.Spec.Replication.LagThresholdSeconds,
			Required:         pm.Spec.Cutover.Gates.ConsecutiveLagSamples,
		},
		LagReported:      findCondition(pm, paymentsv1alpha1.ConditionLagWithinThreshold) != nil,
		ValidationOn:     pm.Spec.Replication.Validation == nil || *pm.Spec.Replication.Validation,
		CDC:              pm.Spec.Replication.MigrationType == paymentsv1alpha1.MigrationTypeCDC,
		CutoverOwnsPhase: cutoverOwnsPhase(pm),
		Now:              now,
	}
	if repl.SampleTime != nil {
		step.LagPrev.LastSample = repl.SampleTime.Time
	}
	clock := replication.ValidationClock{Every: r.Timing.Validation}
	if c := findCondition(pm, paymentsv1alpha1.ConditionDataValidated); c != nil && repl.ValidationSampleTime != nil {
		clock.LastRead, clock.LastReason, clock.Current = repl.ValidationSampleTime.Time, c.Reason, c.ObservedGeneration == pm.Generation
	}
	plan := replication.PlanReads(in, clock, now)
	var errs []error
	if plan.Lag {
		sample, err := rep.Lag(ctx, names.DMSInstance(), taskResourceID(taskARN))
		if err != nil {
			step.LagError = err.Error()
			errs = append(errs, err)
		} else {
			step.Lag = &sample
		}
	}
	if plan.Tables {
		tables, err := rep.TableStatistics(ctx, taskARN)
		if err != nil {
			step.TablesError = err.Error()
			errs = append(errs, err)
		} else {
			step.Tables, step.TablesRead = tables, true
		}
	}
	return step, errors.Join(errs...)
}

// applyStep writes the step's decision into status: the task's figures and
// ReplicationRunning, the lag gate and validation. (Its phase goes to
// migration.Phase.)
func (r *PaymentMigrationReconciler) applyStep(st *statusWriter, task replication.Task, in replication.StepInputs, d replication.StepDecision) {
	repl := st.replication()
	repl.TaskStatus = task.Status
	repl.FullLoadPercent = clampPercent(task.FullLoadPercent)
	repl.TablesLoaded, repl.TablesLoading, repl.TablesQueued, repl.TablesErrored = task.TablesLoaded, task.TablesLoading, task.TablesQueued, task.TablesErrored
	st.condition(paymentsv1alpha1.ConditionReplicationRunning, boolStatus(d.Task.Running), d.Task.Reason, d.Task.Message)

	if d.Lag != nil {
		repl.SamplesUnderThreshold = d.LagState.Consecutive
		if d.LagSampled {
			if !d.LagState.LastSample.IsZero() {
				t := metav1.NewTime(d.LagState.LastSample)
				repl.SampleTime = &t
			}
			repl.CDCLatencySourceSeconds, repl.CDCLatencyTargetSeconds = seconds(in.Lag.Source), seconds(in.Lag.Target)
		}
		st.condition(paymentsv1alpha1.ConditionLagWithinThreshold, migration.StepConditionStatus(*d.Lag), d.Lag.Reason, d.Lag.Message)
	}
	if d.Validation != nil {
		if v := d.Aggregate; v != nil {
			t := metav1.NewTime(in.Now)
			repl.ValidationSampleTime = &t
			repl.ValidationState = v.State
			repl.ValidationFailedRecords, repl.ValidationPendingRecords, repl.ValidationSuspendedRecords = v.Failed, v.Pending, v.Suspended
		}
		st.condition(paymentsv1alpha1.ConditionDataValidated, migration.StepConditionStatus(*d.Validation), d.Validation.Reason, d.Validation.Message)
	}
}

// preflightTargets are the AWS resources the preflight reads.
func preflightTargets(pm *paymentsv1alpha1.PaymentMigration, names naming.Names) replication.PreflightTargets {
	outputs := pm.Status.Stack.Outputs
	return replication.PreflightTargets{
		SourceDBInstanceID: outputs[tapstack.OutputSourceDbInstanceID],
		ParameterGroup:     sourceParameterGroup(pm, names),
		RoleNames:          []string{names.DMSVPCRole(), names.DMSLogsRole()},
		InstanceARN:        outputs[tapstack.OutputDMSReplicationInstanceArn],
		Endpoints: []replication.EndpointRef{
			{Side: string(naming.Source), ARN: outputs[tapstack.OutputDMSSourceEndpointArn]},
			{Side: string(naming.Target), ARN: outputs[tapstack.OutputDMSTargetEndpointArn]},
		},
	}
}

// applyPreflight carries out what the preflight's verdict asks for (the
// connection tests, the target's schema, the cutover's preparation, a
// reboot of the source) and records PreflightPassed with their outcome.
func (r *PaymentMigrationReconciler) applyPreflight(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, sql sqlrunner.Runner, o *replicationObservation, res replication.PreflightResult) error {
	repl := st.replication()
	if res.ClearRebootRequest {
		repl.RebootRequestedAt = nil
	}
	for _, endpoint := range res.TestConnections {
		if err := r.act(ctx, pm, "preflight TestConnection", func() error { return rep.TestConnection(ctx, o.targets.InstanceARN, endpoint) }); err != nil {
			return err
		}
	}
	if len(res.TargetSchema) > 0 {
		// One transaction: a failure leaves the target as it was, and the
		// next preflight plans again from what is there.
		if err := r.act(ctx, pm, "preflight ApplyDDL", func() error { return sql.ApplyDDL(ctx, targetDatabase(pm), res.TargetSchema) }); errors.Is(err, ErrStopped) {
			return err
		} else if err != nil {
			res.Reason = "TargetSchemaFailed"
			res.Message += "\nFAIL target schema: creating it failed: " + err.Error()
		} else {
			log.FromContext(ctx).Info("created the target schema from the source", "statements", len(res.TargetSchema))
			st.history(fmt.Sprintf("created the mapped tables on the target from the source's schema (%d statements)", len(res.TargetSchema)))
		}
	}
	if dbs := o.Preflight.Databases; res.Passed && dbs != nil {
		if err := r.act(ctx, pm, "preflight PrepareCutover", func() error { return prepareCutover(ctx, pm, sql, dbs.Source.TableNames()) }); errors.Is(err, ErrStopped) {
			return err
		} else if err != nil {
			res.Passed, res.Reason = false, "CutoverPreparationFailed"
			res.Message += "\nFAIL cutover preparation: " + err.Error()
		} else {
			res.Message += fmt.Sprintf("\nok   cutover preparation: role %s can write the mapped tables on both sides; the watermark table %s (mapped too, so DMS counts it among the tables) exists on both",
				pm.Spec.Database.ApplicationUsername, naming.WatermarkTable)
		}
	}
	st.condition(paymentsv1alpha1.ConditionPreflightPassed, boolStatus(res.Passed), res.Reason, res.Message)
	if res.RebootSource {
		return r.rebootSource(ctx, pm, st, rep, o.targets.SourceDBInstanceID, o.Preflight.Now)
	}
	return nil
}

// rebootSource reboots the production source, at most once per request. The
// request is written to status first, with the resourceVersion this reconcile
// read: if that write fails (a conflict: another reconcile, on a newer copy,
// decided first) nothing is called. Once it is written, no reconcile requests
// again until RDS shows the reboot or replication.RebootWait passes, however
// long RDS keeps reading "available" + "pending-reboot", and whatever happens
// to this reconcile: a manager that stops between the write and the call has
// recorded a request it never made, and the bound makes it up.
func (r *PaymentMigrationReconciler) rebootSource(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, dbInstanceID string, now time.Time) error {
	at := metav1.NewTime(now)
	st.replication().RebootRequestedAt = &at
	if err := st.patch(ctx); err != nil {
		return fmt.Errorf("recording the reboot request of the source before making it: %w", err)
	}
	if err := r.act(ctx, pm, "preflight RebootSource", func() error { return rep.RebootDB(ctx, dbInstanceID) }); err != nil {
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
		r := role
		// On an existing source the role is production's: checked, never
		// altered (a password reset would stop the current service).
		r.Existing = existingSource(pm) && db.Side == string(naming.Source)
		if err := sql.EnsureAppRole(ctx, db, r); err != nil {
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
	return sourceEndpoint(pm, sqlrunner.Database{Side: string(naming.Source), SecretARN: pm.Status.Stack.Outputs[tapstack.OutputSourceDbSecretArn]})
}

func targetDatabase(pm *paymentsv1alpha1.PaymentMigration) sqlrunner.Database {
	return sqlrunner.Database{Side: string(naming.Target), SecretARN: pm.Status.Stack.Outputs[tapstack.OutputTargetDbSecretArn]}
}

func (r *PaymentMigrationReconciler) actOnTask(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rep ReplicationAWS, arn string, action replication.TaskAction) error {
	switch action {
	case replication.NoAction:
		return nil
	case replication.StartReplication:
		if err := r.act(ctx, pm, "task StartReplication", func() error { return r.firstStart(ctx, pm, st, rep, arn) }); err != nil {
			return err
		}
	case replication.ResumeProcessing:
		if err := r.act(ctx, pm, "task ResumeProcessing", func() error { return rep.StartTask(ctx, arn, action) }); err != nil {
			return err
		}
	case replication.StopTask:
		if err := r.act(ctx, pm, "task StopTask", func() error { return rep.StopTask(ctx, arn) }); err != nil {
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
