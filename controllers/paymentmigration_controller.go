// Package controllers holds the reconcilers of the operator.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/migration"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
	"github.com/tapstack/payment-migration-operator/internal/statustext"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
	"github.com/tapstack/payment-migration-operator/internal/traffic"
)

// Finalizer holds a PaymentMigration until its AWS resources are handled.
const Finalizer = "payments.tapstack.io/stack"

// Operator is the actor recorded in history for the operator's own transitions.
const Operator = "payment-migration-operator"

// readyConditions ranks the conditions the Ready summary looks at, most
// important first. DataValidated counts only when validation is on: a
// migration that does not validate cannot be held to it.
func readyConditions(pm *paymentsv1alpha1.PaymentMigration) []string {
	if c := pm.Status.Cutover; c != nil && (c.State == "Completed" || forwardTaskHeld(pm)) {
		// After the flip the forward task is stopped on purpose: the target
		// takes the writes, and its health is what Ready is about.
		return []string{paymentsv1alpha1.ConditionStackReady, paymentsv1alpha1.ConditionCutoverComplete, paymentsv1alpha1.ConditionTargetHealthy}
	}
	order := []string{
		paymentsv1alpha1.ConditionStackReady,
		paymentsv1alpha1.ConditionPreflightPassed,
		paymentsv1alpha1.ConditionReplicationRunning,
		paymentsv1alpha1.ConditionLagWithinThreshold,
	}
	if v := pm.Spec.Replication.Validation; v == nil || *v {
		order = append(order, paymentsv1alpha1.ConditionDataValidated)
	}
	if existingSource(pm) {
		order = append([]string{paymentsv1alpha1.ConditionSourceReady}, order...)
	}
	return append(order, paymentsv1alpha1.ConditionTargetHealthy)
}

// Rendered is a synthesized template.
type Rendered struct {
	Body []byte // minified JSON, as sent to CloudFormation
	Hash string
}

// Synthesizer turns a spec into the TapStack template; pure.
type Synthesizer func(spec paymentsv1alpha1.PaymentMigrationSpec, region string) (Rendered, error)

// StackClient is the CloudFormation external client (see internal/cfnstack).
type StackClient interface {
	Observe(ctx context.Context, name string) (cfnstack.Observation, error)
	Create(ctx context.Context, d cfnstack.Desired) error
	Update(ctx context.Context, stackID string, d cfnstack.Desired) (cfnstack.UpdateResult, error)
	Delete(ctx context.Context, stackID string) error
	// Adopt takes over an existing stack: these tags (owner tags included)
	// and termination protection, template and parameters unchanged.
	Adopt(ctx context.Context, stackID string, tags map[string]string) error
}

// TaskStopper stops the DMS task before the stack that holds it is deleted.
type TaskStopper interface {
	StopIfRunning(ctx context.Context, arn string) (stopped bool, err error)
}

// BucketEmptier deletes the versions of a bucket's objects in bounded batches.
type BucketEmptier interface {
	// EmptySome deletes at most limit versions and delete markers and says
	// whether the bucket is empty now.
	EmptySome(ctx context.Context, bucket string, limit int) (deleted int, empty bool, err error)
}

// AWSClients are the external clients of one region.
type AWSClients struct {
	Stacks      StackClient
	Tasks       TaskStopper
	Buckets     BucketEmptier
	Replication ReplicationAWS
	// SQL runs the operator's SQL on the migration's databases: the
	// region's direct runner, replaced by the migration's own runner
	// (sqlRunner) before the steps that run SQL.
	SQL sqlrunner.Runner
	// InVPC runs the in-VPC SQL runner's tasks, for the migrations whose
	// spec.sqlRunner.mode is InVPC.
	InVPC *InVPCClients
	// PrefixLists finds the template's parameter values (parameters.go).
	PrefixLists PrefixLists
	// Route53 moves the cutover's records (through traffic.Route53) and
	// reads the target's health check.
	Route53 traffic.Route53API
	// Alarms reads the stack's alarms for the cutover gate.
	Alarms AlarmReader
	// Source reads an existing source (spec.source) on AWS.
	Source SourceReader
}

// AWSFactory returns the clients of a region.
type AWSFactory func(ctx context.Context, region string) (AWSClients, error)

// Timing sets how often the reconciler looks at AWS: every "how soon to look
// again" of the reconciler is one of these intervals (see stack and
// replication below).
type Timing struct {
	// Fast is the requeue while a stack operation or a DMS transition runs.
	Fast time.Duration
	// Slow is the requeue of a stable migration, and how long a stable stack's
	// last observation is trusted: it bounds AWS calls per idle hour.
	Slow time.Duration
	// FullLoad and Replicating are the sampling intervals of those phases.
	FullLoad    time.Duration
	Replicating time.Duration
	// Validation is how often table statistics are read while replicating.
	Validation time.Duration
	// MaxCreateAttempts bounds re-creation of a stack whose creation fails.
	MaxCreateAttempts int32
	// BucketBatch bounds the object versions one reconcile deletes while
	// emptying a bucket, which bounds how long a deletion holds a worker.
	BucketBatch int
}

// defaultBucketBatch is five DeleteObjects calls: a few seconds of work.
const defaultBucketBatch = 5000

func (t Timing) bucketBatch() int {
	if t.BucketBatch <= 0 {
		return defaultBucketBatch
	}
	return t.BucketBatch
}

// DefaultTiming suits a real AWS account: stack operations take minutes and DMS
// publishes its metrics once a minute.
var DefaultTiming = Timing{
	Fast:              15 * time.Second,
	Slow:              5 * time.Minute,
	FullLoad:          30 * time.Second,
	Replicating:       time.Minute,
	Validation:        5 * time.Minute,
	MaxCreateAttempts: 3,
}

// outputTaskArn is the stack output the deletion path stops the task of.
const outputTaskArn = tapstack.OutputDMSTaskArn

// bucketOutputs name the outputs holding the bucket names, in the order they are
// emptied: the replication source first, so nothing more flows into the target.
var bucketOutputs = []string{tapstack.OutputSourceBucketName, tapstack.OutputTargetBucketName}

// PaymentMigrationReconciler reconciles PaymentMigration objects into the TapStack.
type PaymentMigrationReconciler struct {
	client.Client
	Recorder   events.EventRecorder
	AWS        AWSFactory
	Synthesize Synthesizer
	Timing     Timing
	// DefaultRegion applies to migrations that do not name a region; it is
	// pinned into their status so a later change of the flag never moves them.
	DefaultRegion string
	// Now is the clock of history entries; time.Now when nil.
	Now func() time.Time
	// Metrics exports each migration's state; nil disables it.
	Metrics *MigrationMetrics
	// APIReader reads from the API server, bypassing the cache, where acting
	// on a stale copy would repeat an action; nil falls back to the cache.
	APIReader client.Reader
	// Workers is how many migrations are reconciled at once (DefaultWorkers
	// when 0), so that a slow one (a large bucket, a throttled API) holds up
	// no other, least of all one that must roll back now.
	Workers int
	// ReconcileTimeout bounds one reconcile (DefaultReconcileTimeout when 0);
	// the next one picks up from what AWS and status say.
	ReconcileTimeout time.Duration
	// CutoverHooks stop a reconcile between two cutover actions, Hooks
	// between any two actions (tests).
	CutoverHooks *CutoverHooks
	Hooks        *ActionHooks

	// stackSeen remembers when each migration's stable stack was last
	// observed, so that replication sampling does not describe the stack every
	// minute. Losing it (a restart) costs one extra observation.
	stackSeen sync.Map // types.UID -> time.Time
	// wake carries the region pollers' wake-ups of the migrations whose DMS
	// task or lag datapoint changed (replication.go, wakeSource).
	wake chan event.GenericEvent
}

// The reconciler's RBAC is what its requests need, no more (test/install
// records them through a migration's phases and fails on a grant nothing
// uses): the cache lists and watches PaymentMigrations, the API reader gets
// them, the finalizer goes on and off by patch, status is written by patch,
// and Events go through events.k8s.io; the ACK objects an existing source
// names are read, never written (source.go). It owns no Kubernetes object (so no
// finalizers subresource) and reads no Secret: the databases' credentials
// are in AWS Secrets Manager. Leader election and the metrics endpoint's
// checks are config/rbac's own Roles.
// +kubebuilder:rbac:groups=payments.tapstack.io,resources=paymentmigrations,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=payments.tapstack.io,resources=paymentmigrations/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// observeStack reads the stack, unless its last observation stands, and
// records what was read of a stack this migration owns into status.stack:
// the later stages read its outputs.
func (r *PaymentMigrationReconciler) observeStack(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, in stackInputs) (migration.Stack, error) {
	if r.stackFresh(pm, in.tpl.Hash) {
		return migration.Stack{Fresh: true, ReplicationStarted: replicationStarted(pm)}, nil
	}
	obs, err := in.aws.Stacks.Observe(ctx, in.name)
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionUnknown, "ObserveFailed", err.Error())
		return migration.Stack{}, err
	}
	stack := st.stack(in.name)
	s := migration.Stack{Plan: stackplan.Inputs{
		Observed:    obs,
		DesiredHash: in.tpl.Hash,
		AppliedHash: stack.TemplateHash,
		Attempts:    stack.CreateAttempts,
		MaxAttempts: r.Timing.MaxCreateAttempts,
	}}
	if obs.Exists {
		own := stackplan.OwnershipInputs{StackName: in.name, Tags: obs.Tags, Me: owner(pm), AdoptStack: pm.Annotations[stackplan.AdoptAnnotation]}
		if uid := obs.Tags[stackplan.OwnerUIDTag]; uid != "" && uid != string(pm.UID) {
			if own.OtherOwnerExists, err = r.ownerExists(ctx, uid, obs.Tags[stackplan.OwnerTag]); err != nil {
				return migration.Stack{}, err
			}
		}
		s.Ownership = &own
		if stackplan.DecideOwnership(own).Ownership == stackplan.Owned {
			stack.ID, stack.Status = obs.ID, obs.Status
			if outs := nonEmpty(obs.Outputs); outs != nil || !migration.TaskOutlivesStackChange(obs.Status) {
				stack.Outputs = outs
			}
			stack.Reason = failureText(obs)
		}
	}
	s.ReplicationStarted = replicationStarted(pm)
	return s, nil
}

// stackOutcome is what the stack's action left: how soon the stack asks to
// look again, and the pass's result when the pass ends with the stack.
type stackOutcome struct {
	result    ctrl.Result
	stackNext time.Duration
}

// applyStack carries out the stack's part of the decision and sets
// StackReady.
func (r *PaymentMigrationReconciler) applyStack(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, in stackInputs, observed migration.Stack, d migration.Decision) (stackOutcome, error) {
	logger := log.FromContext(ctx)
	sd := d.Stack
	if sd.Fresh {
		return stackOutcome{stackNext: r.Timing.Slow}, nil
	}
	stack := st.stack(in.name)
	obs := observed.Plan.Observed
	if v := sd.Ownership; v != nil {
		r.stackSeen.Delete(pm.UID)
		if v.Ownership == stackplan.Adopt {
			if err := r.act(ctx, pm, "stack Adopt", func() error { return in.aws.Stacks.Adopt(ctx, obs.ID, stackTags(pm)) }); err != nil {
				st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "AdoptionFailed", err.Error())
				return stackOutcome{}, err
			}
			logger.Info("adopted the stack", "stackID", obs.ID, "previousOwner", obs.Tags[stackplan.OwnerTag])
			st.history(v.Message)
			return stackOutcome{result: ctrl.Result{RequeueAfter: r.Timing.Fast}}, nil
		}
		// Another migration's stack, or nobody's: never updated, emptied or
		// deleted, and the condition names its owner.
		stack.ID, stack.Status, stack.Reason, stack.Outputs = obs.ID, obs.Status, "", nil
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, v.Reason, v.Message)
		st.phaseInputs.Failed = v.Message
		return stackOutcome{result: ctrl.Result{RequeueAfter: r.Timing.Slow}}, nil
	}

	plan := sd.Plan
	if plan.Reason == "UpdateDeferred" {
		plan.Message += " (status.cutover.state " + string(pm.Status.Cutover.State) + ")"
	}
	allowed := stackplan.ParseAllowed(pm.Annotations[stackplan.AllowReplacementAnnotation])
	desired := cfnstack.Desired{Name: in.name, Template: in.tpl.Body, Hash: in.tpl.Hash, Parameters: in.params, Tags: stackTags(pm),
		// No change set replaces or removes a database, a bucket, a secret
		// or a DMS resource unless the annotation names it, and the stack
		// policy makes CloudFormation refuse it too.
		Guard: r.updateGuard(ctx, pm, st, in.aws, stackplan.ReplacementGuard(allowed)), StackPolicy: stackplan.StackPolicy(allowed),
		// With a service role CloudFormation creates the resources with the
		// role's permissions, not the manager's (tapstack policy).
		RoleARN: pm.Spec.IAM.StackRoleARN}
	if plan.Action != stackplan.None {
		// An operation changes the stack: its last observation no longer stands.
		r.stackSeen.Delete(pm.UID)
	}
	next := r.Timing.stack(plan.Timing)
	started := observed.ReplicationStarted
	switch plan.Action {
	case stackplan.Create:
		desired.Token = createToken(pm.UID, in.tpl.Hash, plan.Attempts)
		if err := r.act(ctx, pm, "stack Create", func() error { return in.aws.Stacks.Create(ctx, desired) }); err != nil {
			st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "CreateRejected", err.Error())
			return stackOutcome{}, err
		}
		logger.Info("stack creation started", "attempt", plan.Attempts, "templateBytes", len(in.tpl.Body))
		stack.TemplateHash, stack.CreateAttempts = in.tpl.Hash, plan.Attempts
		stack.Status, stack.ID, stack.Reason, stack.Outputs = "CREATE_IN_PROGRESS", "", "", nil
	case stackplan.Update:
		var res cfnstack.UpdateResult
		err := r.act(ctx, pm, "stack Update", func() (err error) {
			res, err = in.aws.Stacks.Update(ctx, obs.ID, desired)
			return err
		})
		if errors.Is(err, ErrStopped) {
			return stackOutcome{}, err
		}
		var refused *cfnstack.RefusedError
		if errors.As(err, &refused) && strings.HasPrefix(refused.Reason, stopTaskFirst) {
			// The task is stopped first (the replication step, seeing
			// stoppedForStackUpdate); the change set runs once it has.
			st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "StoppingTaskForUpdate", strings.TrimPrefix(refused.Reason, stopTaskFirst))
			return stackOutcome{result: ctrl.Result{RequeueAfter: r.Timing.Fast}, stackNext: r.Timing.Fast}, nil
		}
		if errors.As(err, &refused) {
			// Nothing changed in AWS: the stack runs the previous template,
			// and replication goes on with it while a human decides.
			logger.Info("stack update refused", "changeSet", refused.ChangeSet, "reason", refused.Reason)
			st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "ReplacementRefused", refused.Reason)
			if !started {
				st.phaseInputs.StackWaiting = "stack update refused: " + refused.Reason
			}
			return stackOutcome{result: ctrl.Result{RequeueAfter: r.Timing.Slow}, stackNext: r.Timing.Slow}, nil
		}
		if err != nil {
			st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "UpdateRejected", err.Error())
			return stackOutcome{}, err
		}
		logger.Info("stack update", "result", res)
		if c := findCondition(pm, paymentsv1alpha1.ConditionStackReady); res == cfnstack.UpdatePending && c != nil && c.Reason == "ReplacementRefused" {
			// A refused change set is made again to be read again (the
			// annotation may allow it by now); until then the refusal stands.
			return stackOutcome{result: ctrl.Result{RequeueAfter: next}, stackNext: next}, nil
		}
		switch res {
		case cfnstack.UpdateStarted:
			stack.TemplateHash, stack.CreateAttempts, stack.Status = in.tpl.Hash, 0, "UPDATE_IN_PROGRESS"
			plan.Ready, plan.Reason, plan.Message = false, "UpdateInProgress", "change set executed; the stack is updating"
		case cfnstack.UpdateNoChanges:
			stack.TemplateHash, stack.CreateAttempts = in.tpl.Hash, 0
			// Nothing changes: the stack is as ready as before, and the
			// next pass hands it over at once.
			plan.Action, plan.Ready = stackplan.None, true
			plan.Timing, plan.Reason, plan.Message = stackplan.Slow, "Updated", "the new template changes no resource"
			next = time.Millisecond
		}
	case stackplan.RecreateRolledBack:
		if err := r.act(ctx, pm, "stack Delete (rolled back)", func() error { return in.aws.Stacks.Delete(ctx, obs.ID) }); err != nil {
			return stackOutcome{}, err
		}
		logger.Info("deleting rolled-back stack to create it again", "reason", obs.FailedReason)
	}

	st.condition(paymentsv1alpha1.ConditionStackReady, boolStatus(plan.Ready), plan.Reason, plan.Message)
	switch {
	case plan.Terminal:
		st.phaseInputs.Failed = plan.Message
	case plan.Ready && plan.Action == stackplan.None && d.Stage == migration.HandOver:
		r.stackSeen.Store(pm.UID, r.now())
	case !plan.Ready:
		st.phaseInputs.StackWaiting = plan.Message
	}
	return stackOutcome{result: ctrl.Result{RequeueAfter: next}, stackNext: next}, nil
}

// stackFresh reports whether the last observation of a stable stack can stand
// in for a new one: it runs the template of the current spec, its status is
// stable, and it was observed recently.
func (r *PaymentMigrationReconciler) stackFresh(pm *paymentsv1alpha1.PaymentMigration, desiredHash string) bool {
	if pm.Status.Stack == nil || pm.Status.Stack.TemplateHash != desiredHash {
		return false
	}
	if s := pm.Status.Stack.Status; s != "CREATE_COMPLETE" && s != "UPDATE_COMPLETE" {
		return false
	}
	seen, ok := r.stackSeen.Load(pm.UID)
	return ok && r.now().Sub(seen.(time.Time)) < r.Timing.Slow
}

// reconcileDelete runs the deletion policy, then releases the finalizer.
func (r *PaymentMigrationReconciler) reconcileDelete(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(pm, Finalizer) {
		return ctrl.Result{}, nil
	}
	logger := log.FromContext(ctx)
	if pm.Spec.DeletionPolicy == paymentsv1alpha1.DeletionPolicyRetain {
		r.event(pm, corev1.EventTypeNormal, "Retained", "Delete", "deletionPolicy Retain: the stack and its data stay in AWS")
		return ctrl.Result{}, r.releaseFinalizer(ctx, pm)
	}

	// Each step of a deletion acts on AWS (a batch of deleted versions) and is
	// requeued at once: decide on the object as the API server has it, not on
	// a cached copy that may predate the last step's status.
	if r.APIReader != nil {
		fresh := &paymentsv1alpha1.PaymentMigration{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pm), fresh); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		pm = fresh
	}
	st := newStatusWriter(r, pm)
	st.phaseInputs.Deleting = true
	st.settlePhase()
	progress, err := r.deleteStack(ctx, pm, st)
	if errors.Is(err, ErrStopped) {
		return ctrl.Result{}, err
	}
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "DeletionFailed", err.Error())
		r.event(pm, corev1.EventTypeWarning, "DeletionFailed", "Delete", err.Error())
	}
	if perr := st.patch(ctx); perr != nil && err == nil && !apierrors.IsNotFound(perr) {
		return ctrl.Result{}, perr
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	switch progress {
	case deletionBatchDone:
		// The next batch right away, behind whatever else is queued: the
		// other migrations' reconciles run in between.
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	case deletionWaiting:
		return ctrl.Result{RequeueAfter: r.Timing.stack(stackplan.Fast)}, nil
	case deletionNotOurs:
		logger.Info("the stack is not this migration's; releasing the finalizer and leaving AWS as it is")
		return ctrl.Result{}, r.releaseFinalizer(ctx, pm)
	}
	logger.Info("stack deleted; releasing the finalizer")
	done := "stack deleted and buckets emptied"
	if pm.Spec.DeletionPolicy == paymentsv1alpha1.DeletionPolicySnapshot {
		done = "stack deleted; the databases left final snapshots and the buckets were retained"
	}
	r.event(pm, corev1.EventTypeNormal, "StackDeleted", "Delete", done)
	return ctrl.Result{}, r.releaseFinalizer(ctx, pm)
}

// deletionProgress is where one step of a deletion left it.
type deletionProgress int

const (
	deletionWaiting   deletionProgress = iota // on AWS: look again soon (Timing.Fast)
	deletionBatchDone                         // a batch of bucket versions deleted: the next one now
	deletionStackGone                         // nothing left to delete
	deletionNotOurs                           // the stack is not this migration's: nothing to delete
)

// deleteStack does one step of: stop the DMS task, empty the buckets (one
// bounded batch per step, progress in status.deletion), delete the stack, wait
// for DELETE_COMPLETE.
func (r *PaymentMigrationReconciler) deleteStack(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter) (deletionProgress, error) {
	region := EffectiveRegion(pm, r.DefaultRegion)
	name := naming.New(pm.Spec.EnvironmentSuffix).Stack()
	aws, err := r.AWS(ctx, region)
	if err != nil {
		return deletionWaiting, err
	}
	obs, err := aws.Stacks.Observe(ctx, name)
	if err != nil {
		return deletionWaiting, err
	}
	stack := st.stack(name)
	if !obs.Exists {
		stack.Status, stack.Outputs = "DELETE_COMPLETE", nil
		return deletionStackGone, nil
	}
	if obs.Tags[stackplan.OwnerUIDTag] != string(pm.UID) {
		// Another migration's stack, or nobody's: its task, its buckets and
		// the stack itself are left exactly as they are.
		owner := obs.Tags[stackplan.OwnerTag]
		if owner == "" {
			owner = "no PaymentMigration"
		}
		r.event(pm, corev1.EventTypeNormal, "StackNotOwned", "Delete", fmt.Sprintf("stack %s belongs to %s: left as it is", name, owner))
		return deletionNotOurs, nil
	}
	stack.ID, stack.Status, stack.Reason = obs.ID, obs.Status, failureText(obs)
	if obs.Status == "DELETE_IN_PROGRESS" {
		return deletionWaiting, nil
	}
	if obs.Status == "DELETE_FAILED" && pm.Status.Deletion != nil {
		// Something may have written to an emptied bucket since (replication
		// into the target): look at every bucket again.
		for i := range pm.Status.Deletion.Buckets {
			pm.Status.Deletion.Buckets[i].Empty = false
		}
	}

	// A running task holds its endpoints and instance: CloudFormation cannot
	// delete them until it stops.
	if arn := obs.Outputs[outputTaskArn]; arn != "" {
		var stopped bool
		err := r.act(ctx, pm, "deletion StopTask", func() (err error) {
			stopped, err = aws.Tasks.StopIfRunning(ctx, arn)
			return err
		})
		if err != nil {
			return deletionWaiting, err
		}
		if !stopped {
			st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "StoppingReplication", "waiting for the DMS task to stop before deleting the stack")
			return deletionWaiting, nil
		}
	}
	// Versioned buckets with objects cannot be deleted by CloudFormation.
	// Snapshot keeps the buckets (the template retains them): never emptied.
	if pm.Spec.DeletionPolicy != paymentsv1alpha1.DeletionPolicySnapshot {
		if more, err := r.emptyBuckets(ctx, pm, st, aws.Buckets, obs.Outputs); more || err != nil {
			return deletionBatchDone, err
		}
	}
	if err := r.act(ctx, pm, "deletion DeleteStack", func() error { return aws.Stacks.Delete(ctx, obs.ID) }); err != nil {
		return deletionWaiting, err
	}
	msg := "deleting the stack"
	if obs.Status == "DELETE_FAILED" {
		msg = "retrying a failed deletion: " + stack.Reason
	}
	st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "Deleting", msg)
	return deletionWaiting, nil
}

// emptyBuckets deletes one bounded batch of the first bucket not yet empty
// and records the progress; more says whether any bucket may still hold
// something. A bucket is emptied to the end before the next: the replication
// source first, so nothing more flows into the target. Each batch lists the
// bucket afresh, so progress survives a restart of the manager by itself;
// status only tells the user how far it has come.
func (r *PaymentMigrationReconciler) emptyBuckets(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, emptier BucketEmptier, outputs map[string]string) (more bool, err error) {
	for _, key := range bucketOutputs {
		name := outputs[key]
		if name == "" || (key == tapstack.OutputSourceBucketName && existingSource(pm)) {
			// An existing source's bucket is the output of a parameter, not
			// a bucket of the stack: it is never emptied.
			continue
		}
		progress := st.bucketDeletion(name)
		if progress.Empty {
			continue
		}
		var n int
		var empty bool
		err := r.act(ctx, pm, "deletion EmptyBucket "+key, func() (err error) {
			n, empty, err = emptier.EmptySome(ctx, name, r.Timing.bucketBatch())
			return err
		})
		progress.VersionsDeleted += int64(n)
		progress.Empty = empty
		if err != nil {
			return false, err
		}
		msg := fmt.Sprintf("emptying s3://%s: %d versions and delete markers deleted", name, progress.VersionsDeleted)
		if empty {
			msg = fmt.Sprintf("emptied s3://%s: %d versions and delete markers deleted", name, progress.VersionsDeleted)
			log.FromContext(ctx).Info("emptied bucket", "bucket", name, "versionsDeleted", progress.VersionsDeleted)
		}
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "EmptyingBuckets", msg)
		return true, nil
	}
	return false, nil
}

func (r *PaymentMigrationReconciler) releaseFinalizer(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration) error {
	base := pm.DeepCopy()
	controllerutil.RemoveFinalizer(pm, Finalizer)
	if err := r.Patch(ctx, pm, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing finalizer: %w", err)
	}
	r.Metrics.Forget(pm.Namespace, pm.Name)
	r.stackSeen.Delete(pm.UID)
	return nil
}

// stack is how soon to look at the stack again under the plan's timing.
func (t Timing) stack(p stackplan.Timing) time.Duration {
	if p == stackplan.Fast {
		return t.Fast
	}
	return t.Slow
}

func (r *PaymentMigrationReconciler) event(pm *paymentsv1alpha1.PaymentMigration, eventType, reason, action, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(pm, nil, eventType, reason, action, "%s", statustext.Truncate(note, 1000))
	}
}

func (r *PaymentMigrationReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// createToken identifies one creation attempt of one template: a retried
// CreateStack with the same token is the same request to CloudFormation.
// createToken makes a retried CreateStack idempotent, and two migrations'
// creations distinct: with one token for the same template, CloudFormation
// would answer the second as a retry of the first.
func createToken(uid types.UID, hash string, attempt int32) string {
	h := strings.TrimPrefix(hash, "sha256:")
	if len(h) > 32 {
		h = h[:32]
	}
	return fmt.Sprintf("tapstack-%s-%s-%d", uid, h, attempt)
}

// owner is the migration as the owner tags of its stack name it.
func owner(pm *paymentsv1alpha1.PaymentMigration) stackplan.Owner {
	return stackplan.Owner{UID: string(pm.UID), Namespace: pm.Namespace, Name: pm.Name}
}

// stackTags are the spec's tags and the owner tags, which nothing overrides.
func stackTags(pm *paymentsv1alpha1.PaymentMigration) map[string]string {
	tags := make(map[string]string, len(pm.Spec.Tags)+2)
	for k, v := range pm.Spec.Tags {
		tags[k] = v
	}
	for k, v := range owner(pm).Tags() {
		tags[k] = v
	}
	return tags
}

// ownerExists says whether the PaymentMigration the owner tags name exists
// with that UID (a namespace/name can be re-created with a new one).
func (r *PaymentMigrationReconciler) ownerExists(ctx context.Context, uid, nsName string) (bool, error) {
	ns, name, ok := strings.Cut(nsName, "/")
	if !ok {
		return false, nil
	}
	var other paymentsv1alpha1.PaymentMigration
	err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &other)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up %s, the owner of the stack: %w", nsName, err)
	}
	return string(other.UID) == uid, nil
}

func failureText(obs cfnstack.Observation) string {
	if obs.FailedResource == "" {
		if cfnstack.HasFailure(obs.Status) {
			return obs.StatusReason
		}
		return ""
	}
	return fmt.Sprintf("%s: %s", obs.FailedResource, obs.FailedReason)
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// EffectiveRegion is the region a migration runs in: the spec's, else the one
// pinned in status on first sight, else the operator default.
func EffectiveRegion(pm *paymentsv1alpha1.PaymentMigration, defaultRegion string) string {
	switch {
	case pm.Spec.Region != "":
		return pm.Spec.Region
	case pm.Status.Region != "":
		return pm.Status.Region
	default:
		return defaultRegion
	}
}

// Defaults of the reconciler's concurrency and deadline. Reconciles mostly
// wait on AWS, so more workers than cores is right; a reconcile does at most
// a few AWS calls of --aws-call-timeout each, or one bounded bucket batch.
const (
	DefaultWorkers          = 4
	DefaultReconcileTimeout = 2 * time.Minute
)

// SetupWithManager registers the reconciler with the manager.
func (r *PaymentMigrationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers, timeout := r.Workers, r.ReconcileTimeout
	if workers <= 0 {
		workers = DefaultWorkers
	}
	if timeout <= 0 {
		timeout = DefaultReconcileTimeout
	}
	// The operator's own status writes must not wake it up again: only spec
	// changes and deletion do; AWS progress is followed by requeueing, and by
	// the region pollers' wake-ups of exactly the migrations whose DMS task or
	// lag datapoint changed.
	return ctrl.NewControllerManagedBy(mgr).
		For(&paymentsv1alpha1.PaymentMigration{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			deletionPredicate(),
		))).
		WatchesRawSource(r.wakeSource()).
		Named("paymentmigration").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers, ReconciliationTimeout: timeout}).
		Complete(r)
}

// deletionPredicate passes the update that sets deletionTimestamp.
func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectNew.GetDeletionTimestamp() != nil && e.ObjectOld.GetDeletionTimestamp() == nil
		},
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
