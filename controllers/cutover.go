package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/cutover"
	"github.com/tapstack/payment-migration-operator/internal/migration"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/statustext"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
	"github.com/tapstack/payment-migration-operator/internal/traffic"
)

// The cutover's imperative shell: gather the gates and the world, ask
// cutover.Decide for one action, write the record when the action asks for it
// (before acting), carry the action out through the seams, record the
// outcome with cutover.Complete, and go on at once while the decision says
// the next step is part of the same freeze.

// sequenceMargin is how far past the other side's value the freeze sets each
// sequence: ids handed out on the old writer between the read and the flip
// cannot exist (it is fenced), so the margin only covers sequences cached by
// sessions (CACHE > 1).
const sequenceMargin = 1000

// maxActionsPerReconcile bounds one reconcile's chain of fast actions; the
// freeze has about ten steps.
const maxActionsPerReconcile = 32

// CutoverHooks lets tests stop the manager between two actions of a
// cutover (the crash-safety suite). Nil in production.
type CutoverHooks struct {
	// BeforeAction and AfterAction are called around every action, with the
	// reconcile's context (which ends when the manager stops); an error ends
	// the reconcile there, as a crash would.
	BeforeAction func(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, a cutover.Action) error
	AfterAction  func(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, a cutover.Action) error
}

// ErrStopped is what a hook returns to end a reconcile like a crash.
var ErrStopped = errors.New("stopped by a test hook")

// cutoverSeams are what the cutover acts on for one migration.
type cutoverSeams struct {
	router  traffic.Router
	health  traffic.HealthReader
	sql     sqlrunner.Runner
	rep     ReplicationAWS
	alarms  AlarmReader
	outputs map[string]string
}

// AlarmReader lists the stack's alarms that are in ALARM.
type AlarmReader interface {
	FiringAlarms(ctx context.Context, names []string) ([]string, error)
}

func (r *PaymentMigrationReconciler) cutoverSeams(pm *paymentsv1alpha1.PaymentMigration, aws AWSClients) (cutoverSeams, error) {
	out := pm.Status.Stack.Outputs
	need := []string{tapstack.OutputHostedZoneID, tapstack.OutputWeightedRecordName, tapstack.OutputWriterRecordName,
		tapstack.OutputSourceDbEndpoint, tapstack.OutputTargetDbEndpoint, tapstack.OutputAppDbSecretArn}
	for _, k := range need {
		if out[k] == "" {
			return cutoverSeams{}, fmt.Errorf("the stack has no %s output", k)
		}
	}
	if aws.Route53 == nil {
		return cutoverSeams{}, errors.New("no Route 53 client")
	}
	router := &traffic.Route53{
		API: aws.Route53, ZoneID: out[tapstack.OutputHostedZoneID],
		WeightedName: out[tapstack.OutputWeightedRecordName], WriterName: out[tapstack.OutputWriterRecordName],
		WriterTTL: int64(pm.Spec.Cutover.WriterRecordTTLSeconds),
		WriterTargets: map[naming.Side]string{
			naming.Source: out[tapstack.OutputSourceDbEndpoint], naming.Target: out[tapstack.OutputTargetDbEndpoint],
		},
	}
	return cutoverSeams{router: router, health: router, sql: aws.SQL, rep: aws.Replication, alarms: aws.Alarms, outputs: out}, nil
}

func (s cutoverSeams) db(pm *paymentsv1alpha1.PaymentMigration, side naming.Side) sqlrunner.Database {
	if side == naming.Source {
		return sourceDatabase(pm)
	}
	return targetDatabase(pm)
}

func (s cutoverSeams) task(t cutover.Task) string {
	if t == cutover.ReverseTask {
		return s.outputs[tapstack.OutputReverseDMSTaskArn]
	}
	return s.outputs[tapstack.OutputDMSTaskArn]
}

// cutoverObservation is what the pass read for the cutover, and the seams
// its actions go through.
type cutoverObservation struct {
	migration.Cutover
	seams cutoverSeams
}

// observeCutover reads what the cutover decides on besides its record: the
// world (routes, fences, the reverse slot, the tasks) and, in the states
// where gates decide, the gates read from AWS and the databases.
func (r *PaymentMigrationReconciler) observeCutover(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, aws AWSClients) (*cutoverObservation, *migration.Condition, error) {
	o := &cutoverObservation{}
	o.Record = recordFromStatus(pm.Status.Cutover)
	seams, err := r.cutoverSeams(pm, aws)
	if err != nil {
		o.Unavailable = err.Error()
		return o, nil, nil
	}
	o.seams = seams
	o.Spec = cutoverSpec(pm)
	// A runner whose every call is a slow-starting task runs each freeze
	// in one call (SPEC 4.3).
	_, o.Spec.OneTaskFreeze = seams.sql.(*sqlrunner.InVPC)
	if o.World, err = r.observeWorld(ctx, pm, seams); err != nil {
		return nil, &migration.Condition{Type: paymentsv1alpha1.ConditionCutoverReady, Status: metav1.ConditionUnknown, Reason: "ObserveFailed", Message: err.Error()}, err
	}
	if migration.GatesMatter(o.Record.State) {
		o.Gates, o.Health = r.observeGates(ctx, pm, seams)
		o.RequireValidation = requireValidation(pm)
	}
	return o, nil, nil
}

// applyCutover carries out the cutover's part of the decision: its
// conditions, then its first action and the actions of the same freeze
// that follow it. Each action's intent is written to status before it is
// taken when the decision asks (Persist), its outcome recorded with
// cutover.Complete, and the next action is cutover.Decide on the record
// that outcome left. It returns how soon to look again.
func (r *PaymentMigrationReconciler) applyCutover(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, o *cutoverObservation, cd *migration.CutoverDecision) (time.Duration, error) {
	for _, c := range cd.Conditions {
		st.condition(c.Type, c.Status, c.Reason, c.Message)
	}
	if cd.HealthCheckStatus != "" {
		if pm.Status.Traffic == nil {
			pm.Status.Traffic = &paymentsv1alpha1.TrafficStatus{}
		}
		pm.Status.Traffic.HealthCheckStatus = cd.HealthCheckStatus
	}
	if cd.First == nil {
		return r.Timing.Slow, nil
	}
	seams, spec, rec, world := o.seams, o.Spec, o.Record, o.World
	logger := log.FromContext(ctx)
	requeue := cutover.Poll
	for i := 0; i < maxActionsPerReconcile; i++ {
		d := *cd.First
		if i > 0 {
			d = cutover.Decide(spec, rec, cd.Gates, world, r.now())
		}
		rec = d.Record
		if d.Event != nil {
			r.cutoverEvent(pm, st, rec, d.Event)
		}
		pm.Status.Cutover = statusFromRecord(rec, world)
		if d.Action.Persist {
			r.cutoverConditions(st, rec)
			r.recordTraffic(pm, rec, world)
			// Recorded before acting: a restart finds the intent.
			if err := st.patch(ctx); err != nil {
				return 0, err
			}
		}
		if d.Action.Op == cutover.OpWait {
			requeue = d.Requeue
			break
		}
		if d.Action.Op == cutover.OpRecord {
			if d.Action.Fast {
				continue
			}
			requeue = time.Millisecond
			break
		}
		if h := r.CutoverHooks; h != nil && h.BeforeAction != nil {
			if err := h.BeforeAction(ctx, pm, d.Action); err != nil {
				return 0, err
			}
		}
		started := r.now()
		var res cutover.Result
		if err := r.act(ctx, pm, "cutover "+d.Action.ID+" "+d.Action.String(), func() error {
			res = r.carryOut(ctx, pm, seams, spec, d.Action)
			return nil
		}); err != nil {
			return 0, err
		}
		if h := r.CutoverHooks; h != nil && h.AfterAction != nil {
			if err := h.AfterAction(ctx, pm, d.Action); err != nil {
				return 0, err
			}
		}
		logger.Info("cutover action", "action", d.Action.String(), "id", d.Action.ID, "took", r.now().Sub(started), "error", res.Err)
		rec = cutover.Complete(rec, d.Action, res, r.now())
		world = cutover.After(world, d.Action, res)
		pm.Status.Cutover = statusFromRecord(rec, world)
		if res.Err != nil {
			r.event(pm, corev1.EventTypeWarning, "CutoverStepFailed", "Cutover", fmt.Sprintf("%s: %v", d.Action, res.Err))
			requeue = time.Second
			break
		}
		if !d.Action.Fast {
			requeue = time.Millisecond
			break
		}
	}
	r.cutoverConditions(st, rec)
	r.recordTraffic(pm, rec, world)
	r.Metrics.ObserveCutover(pm)
	return requeue, nil
}

// observeWorld reads what the decision needs from outside the record.
func (r *PaymentMigrationReconciler) observeWorld(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, s cutoverSeams) (cutover.World, error) {
	routes, err := s.router.GetRoutes(ctx)
	if err != nil {
		return cutover.World{}, fmt.Errorf("reading the routes: %w", err)
	}
	w := cutover.World{Routes: cutover.Routes{SourceWeight: routes.SourceWeight, TargetWeight: routes.TargetWeight, Writer: routes.Writer},
		Fenced: map[naming.Side]bool{}}
	role := pm.Spec.Database.ApplicationUsername
	for _, side := range naming.Sides {
		on, err := s.sql.FenceState(ctx, s.db(pm, side), role)
		if err != nil {
			return cutover.World{}, fmt.Errorf("reading the fence on the %s: %w", side, err)
		}
		w.Fenced[side] = on
	}
	if w.SlotExists, err = s.sql.SlotExists(ctx, s.db(pm, naming.Target), naming.New(pm.Spec.EnvironmentSuffix).ReverseSlot()); err != nil {
		return cutover.World{}, fmt.Errorf("reading the reverse slot: %w", err)
	}
	for t, dst := range map[cutover.Task]*cutover.TaskState{cutover.ForwardTask: &w.ForwardTask, cutover.ReverseTask: &w.ReverseTask} {
		arn := s.task(t)
		if arn == "" {
			continue
		}
		task, err := s.rep.Task(ctx, arn)
		if err != nil {
			return cutover.World{}, fmt.Errorf("reading the %s task: %w", t, err)
		}
		*dst = cutover.TaskState{Status: task.Status, EverStarted: task.EverStarted}
	}
	return w, nil
}

// carryOut performs one action through the seams.
func (r *PaymentMigrationReconciler) carryOut(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, s cutoverSeams, spec cutover.Spec, a cutover.Action) cutover.Result {
	role := pm.Spec.Database.ApplicationUsername
	schema := pm.Spec.Replication.Schema
	var res cutover.Result
	switch a.Op {
	case cutover.OpSetRoutes:
		res.Err = s.router.SetRoutes(ctx, traffic.Routes{SourceWeight: a.Routes.SourceWeight, TargetWeight: a.Routes.TargetWeight, Writer: a.Routes.Writer})
	case cutover.OpSetFence:
		res.Err = s.sql.SetFence(ctx, s.db(pm, a.Side), role, a.On)
	case cutover.OpConfirmFence:
		res.Confirmed, res.Err = s.sql.ConfirmFence(ctx, s.db(pm, a.Side), s.outputs[tapstack.OutputAppDbSecretArn])
	case cutover.OpDrainSessions:
		var d sqlrunner.DrainResult
		grace := spec.FenceGrace
		if a.NoGrace {
			grace = 0
		}
		d, res.Err = s.sql.DrainSessions(ctx, s.db(pm, a.Side), role, grace)
		res.OpenWritesWaited, res.SessionsTerminated = d.OpenWritesWaited, d.SessionsTerminated
	case cutover.OpWriteWatermark:
		res.Err = s.sql.WriteWatermark(ctx, s.db(pm, a.Side), schema, a.Watermark)
	case cutover.OpAwaitWatermark:
		res.Found, res.Err = s.sql.WaitWatermark(ctx, s.db(pm, a.Side), schema, a.Watermark, a.Timeout)
	case cutover.OpSyncSequences:
		res.Sequences, res.Err = s.sql.SyncSequences(ctx, s.db(pm, a.From), s.db(pm, a.To), schema, sequenceMargin)
	case cutover.OpCreateSlot:
		res.LSN, res.Err = s.sql.CreateSlot(ctx, s.db(pm, naming.Target), naming.New(pm.Spec.EnvironmentSuffix).ReverseSlot(), "test_decoding")
	case cutover.OpMarkFlipPoint:
		res.LSN, res.Err = s.sql.MarkFlipPoint(ctx, s.db(pm, naming.Target), naming.New(pm.Spec.EnvironmentSuffix).ReverseSlot(), "test_decoding")
	case cutover.OpDropSlot:
		res.Err = s.sql.DropSlot(ctx, s.db(pm, naming.Target), naming.New(pm.Spec.EnvironmentSuffix).ReverseSlot())
	case cutover.OpStopTask:
		res.Err = s.rep.StopTask(ctx, s.task(a.Task))
	case cutover.OpStartReverse:
		res.Err = s.rep.StartTaskAt(ctx, s.task(cutover.ReverseTask), a.LSN)
	case cutover.OpFreeze:
		res = s.freeze(ctx, pm, spec, a)
	default:
		res.Err = fmt.Errorf("unknown cutover action %q", a.Op)
	}
	return res
}

// freeze carries out a whole freeze in one call of the runner.
func (s cutoverSeams) freeze(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, spec cutover.Spec, a cutover.Action) cutover.Result {
	fr, ok := s.sql.(sqlrunner.FreezeRunner)
	if !ok {
		return cutover.Result{Err: errors.New("the SQL runner cannot run a freeze in one call")}
	}
	plan := sqlrunner.FreezePlan{
		From: s.db(pm, a.From), To: s.db(pm, a.To), AppSecretARN: s.outputs[tapstack.OutputAppDbSecretArn],
		Role: pm.Spec.Database.ApplicationUsername, Schema: pm.Spec.Replication.Schema, Watermark: a.Watermark,
		Grace: spec.FenceGrace, Timeout: a.Timeout, SequenceMargin: sequenceMargin, UnfenceTo: a.UnfenceTo,
	}
	if a.FlipPoint {
		plan.Slot, plan.Plugin = naming.New(pm.Spec.EnvironmentSuffix).ReverseSlot(), "test_decoding"
	}
	rep, err := fr.Freeze(ctx, plan)
	log.FromContext(ctx).Info("cutover freeze in one call", "watermark", a.Watermark, "took", rep.Took, "steps", rep.Steps, "error", err)
	return cutover.Result{Err: err, Freeze: cutover.FreezeResult{
		Fenced: rep.Fenced, Confirmed: rep.Confirmed, Drained: rep.Drained, WatermarkWritten: rep.WatermarkWritten,
		Found: rep.Found, SequencesSynced: rep.SequencesSynced, Unfenced: rep.Unfenced,
		OpenWritesWaited: rep.Drain.OpenWritesWaited, SessionsTerminated: rep.Drain.SessionsTerminated, Sequences: rep.Sequences,
		LSN: rep.LSN, Drain: rep.WatermarkWait,
	}}
}

// cutoverEvent turns a decision's event into a Kubernetes Event and a
// history entry (the approval names its approver).
func (r *PaymentMigrationReconciler) cutoverEvent(pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, rec cutover.Record, ev *cutover.Event) {
	actor := Operator
	if ev.Reason == "CutoverStarted" && rec.ApprovedBy != "" {
		actor = rec.ApprovedBy
	}
	st.appendHistory(paymentsv1alpha1.HistoryEntry{Time: metav1.NewTime(r.now()), Actor: statustext.Truncate(actor, 256), Phase: pm.Status.Phase, Message: statustext.Truncate(ev.Message, 1024)})
	eventType := corev1.EventTypeNormal
	if ev.Warning {
		eventType = corev1.EventTypeWarning
	}
	r.event(pm, eventType, ev.Reason, "Cutover", ev.Message)
	if ev.Reason == "RolledBack" {
		r.Metrics.CountRollback(pm, rec.Reason)
	}
}

// cutoverConditions sets CutoverComplete, and hands the cutover's state to
// the phase (migration.Phase), which a cutover owns once it began.
func (r *PaymentMigrationReconciler) cutoverConditions(st *statusWriter, rec cutover.Record) {
	if rec.State == cutover.Completed {
		st.condition(paymentsv1alpha1.ConditionCutoverComplete, metav1.ConditionTrue, "CutoverComplete", rec.Message)
	} else {
		reason := string(rec.State)
		if rec.State == cutover.Idle || rec.State == cutover.Held {
			reason = "NotStarted"
		}
		st.condition(paymentsv1alpha1.ConditionCutoverComplete, metav1.ConditionFalse, reason, orDefault(rec.Message, "no cutover yet"))
	}
	st.phaseInputs.Cutover, st.phaseInputs.CutoverMessage = rec.State, rec.Message
	st.settlePhase()
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// recordTraffic keeps status.traffic (the TARGET% column) on what Route 53
// has, as the last action left it.
func (r *PaymentMigrationReconciler) recordTraffic(pm *paymentsv1alpha1.PaymentMigration, rec cutover.Record, w cutover.World) {
	t := pm.Status.Traffic
	if t == nil {
		t = &paymentsv1alpha1.TrafficStatus{}
		pm.Status.Traffic = t
	}
	t.SourceWeight, t.TargetWeight, t.CurrentStep = w.Routes.SourceWeight, w.Routes.TargetWeight, rec.Step
	t.LastStepTime = metaTime(rec.LastStepAt)
}
