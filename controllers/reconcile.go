package controllers

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/migration"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Reconcile moves one PaymentMigration a step toward its spec.
func (r *PaymentMigrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pm paymentsv1alpha1.PaymentMigration
	if err := r.Get(ctx, req.NamespacedName, &pm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.APIReader != nil && cutoverInMotion(&pm) {
		// The cutover acts on what status records; a cached copy a few
		// milliseconds old would repeat a step the last reconcile made.
		if err := r.APIReader.Get(ctx, req.NamespacedName, &pm); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("migration", pm.Name, "stack", naming.New(pm.Spec.EnvironmentSuffix).Stack()))

	if !pm.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &pm)
	}
	// The finalizer goes on before anything is created in AWS, so nothing can
	// be created that the operator would not clean up.
	if !controllerutil.ContainsFinalizer(&pm, Finalizer) {
		base := pm.DeepCopy()
		controllerutil.AddFinalizer(&pm, Finalizer)
		if err := r.Patch(ctx, &pm, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
	}

	st := newStatusWriter(r, &pm)
	result, err := r.pass(ctx, &pm, st)
	if errors.Is(err, ErrStopped) {
		// A test's stand-in for a crash: nothing more is written.
		return ctrl.Result{}, err
	}
	st.settlePhase()
	if perr := st.patch(ctx); perr != nil && err == nil {
		return ctrl.Result{}, perr
	}
	r.Metrics.Observe(&pm)
	return result, err
}

// pass is one reconcile of a migration that is not being deleted, in three
// parts: observe (the stack, then what the stages this pass reaches read:
// replication's task, lag, statistics and preflight, the cutover's world
// and gates), decide (migration.Decide, once, on all of it), act (the
// stack's action, the preflight's, the task's, the cutover's, in that
// order). The phase is chosen once, from the decision and the actions'
// outcome (statusWriter.settlePhase, migration.Phase), and the status is
// written once at the end, except for the records a crash-safe action
// writes before it acts (a first start, a reboot, a task stopped for an
// update, the cutover's intent log, the source's claim).
func (r *PaymentMigrationReconciler) pass(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter) (ctrl.Result, error) {
	// Observe.
	in, stop := r.stackInputs(ctx, pm, st)
	if stop != nil {
		st.phaseInputs.Failed = stop.failed
		return stop.result, stop.err
	}
	obs := migration.Observation{
		Now: r.now(), Generation: pm.Generation, Phase: pm.Status.Phase,
		CutoverActive: cutoverActive(pm),
	}
	stack, err := r.observeStack(ctx, pm, st, in)
	if err != nil {
		return ctrl.Result{}, err
	}
	obs.Stack = stack
	_, stage := migration.DecideStack(obs.Stack, obs.CutoverActive)
	var readErr error
	var readCondition *migration.Condition
	var repl *replicationObservation
	if stage == migration.HandOver || (stage == migration.Watch && pm.Status.Stack.Status == "UPDATE_ROLLBACK_COMPLETE") {
		// The stack update that held the task is over (completed or rolled
		// back): the record says so before the task is observed, and the
		// step resumes it.
		updateEnded(st)
	}
	if stage != migration.StackOnly {
		in.aws.SQL = sqlRunner(pm, in.aws)
		repl, readCondition, readErr = r.observeReplication(ctx, pm, st, in.aws.Replication, in.aws.SQL)
		if repl != nil {
			obs.Replication = &repl.Replication
		}
	}
	var cut *cutoverObservation
	if obs.Replication != nil && readErr == nil {
		if rec := recordFromStatus(pm.Status.Cutover); migration.CutoverDue(observed(pm, obs), rec) {
			cut, readCondition, readErr = r.observeCutover(ctx, pm, in.aws)
			if cut != nil {
				obs.Cutover = &cut.Cutover
			}
		}
	}

	// Decide.
	obs = observed(pm, obs)
	d := migration.Decide(obs)

	// Act.
	st.phaseInputs.Stage = d.Stage
	st.phaseInputs.TaskFailed = migration.TaskFailed(obs.Conditions)
	out, err := r.applyStack(ctx, pm, st, in, obs.Stack, d)
	if err != nil || d.Stage == migration.StackOnly {
		return out.result, err
	}
	// The phase as the stack leaves it, so that what the later stages record
	// in history is recorded under it.
	st.settlePhase()
	if readCondition != nil {
		st.condition(readCondition.Type, readCondition.Status, readCondition.Reason, readCondition.Message)
	}
	if repl == nil {
		if readErr == nil {
			return ctrl.Result{RequeueAfter: min(r.Timing.Slow, out.stackNext)}, nil
		}
		return ctrl.Result{}, readErr
	}
	next, err := r.applyReplication(ctx, pm, st, in.aws.Replication, in.aws.SQL, repl, d)
	if err != nil {
		return ctrl.Result{}, err
	}
	if readErr != nil {
		// A lag or statistics read failed (an observation: the condition
		// goes Unknown), or the cutover's world could not be read: no
		// cutover step is taken on a partial view.
		return ctrl.Result{}, readErr
	}
	switch {
	case d.Cutover != nil:
		cutoverNext, err := r.applyCutover(ctx, pm, st, cut, d.Cutover)
		if err != nil {
			return ctrl.Result{}, err
		}
		next = min(next, cutoverNext)
	case d.Stage == migration.HandOver:
		c := migration.NotReplicating
		st.condition(c.Type, c.Status, c.Reason, c.Message)
		next = min(next, r.Timing.Slow)
	}
	return ctrl.Result{RequeueAfter: min(next, out.stackNext)}, nil
}

// observed completes an observation with the status as the observing left
// it (the replication record may have been reset for a replaced task).
func observed(pm *paymentsv1alpha1.PaymentMigration, o migration.Observation) migration.Observation {
	o.Phase, o.Conditions = pm.Status.Phase, pm.Status.Conditions
	if r := pm.Status.Replication; r != nil {
		o.Validation = migration.ValidationFigures{Failed: r.ValidationFailedRecords, Pending: r.ValidationPendingRecords, Suspended: r.ValidationSuspendedRecords}
	}
	return o
}

// stackInputs are what the stack is made from: the region's clients, the
// template, and its parameters (the health checkers' prefix list, an
// existing source, the cutover's resting routes).
type stackInputs struct {
	region string
	name   string
	aws    AWSClients
	tpl    Rendered
	params map[string]string
}

// stopped ends a pass before the stack is observed: its inputs cannot be
// had (AWS unavailable, a template refused, a parameter or the source not
// resolved). The condition is set; failed fails the migration.
type stopped struct {
	result ctrl.Result
	err    error
	failed string
}

func (r *PaymentMigrationReconciler) stackInputs(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter) (stackInputs, *stopped) {
	region := EffectiveRegion(pm, r.DefaultRegion)
	pm.Status.Region = region
	in := stackInputs{region: region, name: naming.New(pm.Spec.EnvironmentSuffix).Stack()}
	st.stack(in.name)
	var err error
	if in.aws, err = r.AWS(ctx, region); err != nil {
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionUnknown, "AWSUnavailable", err.Error())
		return in, &stopped{err: err}
	}
	if in.tpl, err = r.Synthesize(pm.Spec, region); err != nil {
		// Only a spec the API server let through but the synthesizer refuses
		// lands here: a bug to report, not something to retry.
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "SynthesisFailed", err.Error())
		return in, &stopped{failed: "template synthesis failed: " + err.Error()}
	}
	params, result, stop, err := r.stackParameters(ctx, st, in.aws, region)
	if stop {
		return in, &stopped{result: result, err: err}
	}
	sourceParams, result, stop, err := r.sourceParameters(ctx, pm, st, in.aws, region)
	if stop {
		return in, &stopped{result: result, err: err}
	}
	for k, v := range sourceParams {
		params[k] = v
	}
	for k, v := range routeParameters(pm) {
		params[k] = v
	}
	in.params = params
	// What is deployed is the template with these values: a new value
	// updates the stack as a new template does.
	in.tpl.Hash = cfnstack.DesiredHash(in.tpl.Hash, params)
	return in, nil
}

// ActionHooks let tests stop the manager between any two actions of a
// reconcile, whatever its stage: the stack's, the preflight's, the task's,
// the cutover's and the deletion's (the crash-safety suites). Nil in
// production. An error ends the reconcile there, as a crash would: nothing
// more is written.
type ActionHooks struct {
	Before func(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, action string) error
	After  func(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, action string) error
}

// act runs one action between the hooks.
func (r *PaymentMigrationReconciler) act(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, action string, do func() error) error {
	if h := r.Hooks; h != nil && h.Before != nil {
		if err := h.Before(ctx, pm, action); err != nil {
			return err
		}
	}
	err := do()
	if h := r.Hooks; h != nil && h.After != nil {
		if herr := h.After(ctx, pm, action); herr != nil {
			return herr
		}
	}
	return err
}
