package controller_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// fakeDMS scripts the replication side per task ARN. DMS transitions complete
// on the next read (starting -> running, stopping -> stopped), the full load
// advances 50% per read, and lag samples are served from a script, each with a
// new datapoint time, so the suite can walk exact sequences.
type fakeDMS struct {
	mu        sync.Mutex
	tasks     map[string]*fakeTask
	preflight replication.PreflightObservation
	tested    map[string]int // endpoint ARN -> connection tests started
	reboots   int
	clock     time.Time
	// rebootLag is how many Preflight reads after a reboot still show the
	// source "available" with "pending-reboot", as RDS does for a while after
	// RebootDBInstance returns; one read then shows it "rebooting", and the
	// next ones "available" and "in-sync". 0: in-sync at once.
	rebootLag  int
	rebootShow []string // DB statuses still to show, then in-sync
	// rebootErr fails RebootDB (after counting it): a call that timed out.
	rebootErr error
}

type fakeTask struct {
	status, stopReason, failure string
	everStarted                 bool
	percent                     int32
	starts, resumes, stops      int
	startPosition               string
	lag                         []float64 // remaining scripted samples (target side); the last one repeats
	// sampleAge, when set, serves the lag stamped this long ago: DMS has
	// stopped publishing.
	sampleAge time.Duration
	tables    []replication.TableStats
	// startTag is the task's first-start tag; startErr fails the next
	// start-replication (after counting it).
	startTag string
	startErr error
	// crash scripts a manager dying around one call of the first start:
	// "before-tag" (TagStart fails untagged), "after-tag" (TagStart tags,
	// then fails) or "after-start" (StartTask starts, then fails). Used once.
	crash string
	// gone: DMS no longer knows the task (its stack was deleted).
	gone bool
}

func newFakeDMS() *fakeDMS {
	return &fakeDMS{
		tasks:  map[string]*fakeTask{},
		tested: map[string]int{},
		clock:  time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		preflight: replication.PreflightObservation{
			SourceDBStatus: "available", ParameterApplyStatus: "in-sync", LogicalReplication: "1",
			InstanceStatus: "available",
		},
	}
}

// task returns the scripted task of arn, created ready on first use.
func (f *fakeDMS) task(arn string) *fakeTask {
	t, ok := f.tasks[arn]
	if !ok {
		t = &fakeTask{status: replication.StatusReady, lag: []float64{3},
			tables: []replication.TableStats{{Schema: "public", Table: "payments", ValidationState: "Validated"}}}
		f.tasks[arn] = t
	}
	return t
}

// with runs fn on the task of arn under the lock.
func (f *fakeDMS) with(arn string, fn func(*fakeTask)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.task(arn))
}

func (f *fakeDMS) snapshot(arn string) fakeTask {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.task(arn)
}

func (f *fakeDMS) Task(_ context.Context, arn string) (replication.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	if t.gone {
		return replication.Task{ARN: arn}, nil
	}
	switch t.status {
	case replication.StatusStarting:
		t.status, t.everStarted = replication.StatusRunning, true
	case replication.StatusStopping:
		t.status, t.stopReason = replication.StatusStopped, "Stop Reason STOPPED_BY_USER"
	case replication.StatusRunning:
		t.percent = min(100, t.percent+50)
	}
	loaded, loading := int32(0), int32(0)
	switch {
	case t.percent == 100:
		loaded = 4
	case t.everStarted:
		loading = 4 // DMS has no statistics for a task before its first start
	}
	return replication.Task{ARN: arn, Status: t.status, StopReason: t.stopReason, LastFailureMessage: t.failure,
		EverStarted: t.everStarted, FullLoadPercent: t.percent, TablesLoaded: loaded, TablesLoading: loading}, nil
}

func (f *fakeDMS) StartTask(_ context.Context, arn string, how replication.TaskAction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	switch how {
	case replication.StartReplication:
		t.starts++
		if err := t.startErr; err != nil {
			t.startErr = nil
			return err
		}
		if t.crash == "after-start" {
			t.crash, t.status = "", replication.StatusStarting
			return errCrash
		}
	case replication.ResumeProcessing:
		t.resumes++
	default:
		return fmt.Errorf("unexpected start type %q", how)
	}
	t.status = replication.StatusStarting
	return nil
}

func (f *fakeDMS) StartTag(_ context.Context, arn string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.task(arn).startTag, nil
}

func (f *fakeDMS) TagStart(_ context.Context, arn, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	switch t.crash {
	case "before-tag":
		t.crash = ""
		return errCrash
	case "after-tag":
		t.crash, t.startTag = "", value
		return errCrash
	}
	t.startTag = value
	return nil
}

// errCrash ends a reconcile the way the manager dying there would: the call's
// effect (if any) stays, nothing after it runs. It is no DMS refusal.
var errCrash = errors.New("the manager stopped here")

func (f *fakeDMS) UntagStart(_ context.Context, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.task(arn).startTag = ""
	return nil
}

func (f *fakeDMS) StartTaskAt(_ context.Context, arn, position string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	if t.everStarted || t.status == replication.StatusStarting {
		return fmt.Errorf("task %s was started before: a second start-replication would replay it", arn)
	}
	t.starts++
	t.startPosition = position
	journal.add(strings.TrimPrefix(arn[strings.LastIndex(arn, ":")+1:], "reverse-"), "reverse start at "+position)
	t.status = replication.StatusStarting
	return nil
}

func (f *fakeDMS) StopTask(_ context.Context, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	t.stops++
	t.status = replication.StatusStopping
	journal.add(strings.TrimPrefix(arn[strings.LastIndex(arn, ":")+1:], "reverse-"), "stop "+arn[strings.LastIndex(arn, ":")+1:])
	return nil
}

func (f *fakeDMS) TableStatistics(_ context.Context, arn string) ([]replication.TableStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]replication.TableStats(nil), f.task(arn).tables...), nil
}

func (f *fakeDMS) Lag(_ context.Context, _, taskID string) (replication.LagSample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var t *fakeTask
	for arn, task := range f.tasks {
		if taskResourceID(arn) == taskID {
			t = task
		}
	}
	if t == nil {
		return replication.LagSample{}, nil
	}
	v := t.lag[0]
	if len(t.lag) > 1 {
		t.lag = t.lag[1:]
	}
	src := v / 2
	if t.sampleAge > 0 {
		return replication.LagSample{Source: &src, Target: &v, Time: time.Now().Add(-t.sampleAge).Truncate(time.Second)}, nil
	}
	// Each read is a new datapoint, stamped on whole seconds (status keeps
	// seconds) and never older than now: the gate judges its age.
	f.clock = f.clock.Add(time.Second)
	if now := time.Now().Truncate(time.Second); now.After(f.clock) {
		f.clock = now
	}
	return replication.LagSample{Source: &src, Target: &v, Time: f.clock}, nil
}

func (f *fakeDMS) Preflight(_ context.Context, in replication.PreflightTargets) (replication.PreflightObservation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rebootShow) > 0 {
		f.preflight.SourceDBStatus, f.rebootShow = f.rebootShow[0], f.rebootShow[1:]
		if len(f.rebootShow) == 0 {
			f.preflight.SourceDBStatus, f.preflight.ParameterApplyStatus = "available", "in-sync"
		}
	}
	obs := f.preflight
	obs.ParameterGroup = in.ParameterGroup
	obs.Roles = nil
	for _, name := range in.RoleNames {
		obs.Roles = append(obs.Roles, replication.RoleCheck{Name: name, Exists: true, TrustsDMS: true})
	}
	obs.Connections = nil
	for _, ep := range in.Endpoints {
		status := ""
		if f.tested[ep.ARN] > 0 {
			status = "successful"
		}
		obs.Connections = append(obs.Connections, replication.Connection{Side: ep.Side, EndpointARN: ep.ARN, Status: status})
	}
	return obs, nil
}

func (f *fakeDMS) TestConnection(_ context.Context, _, endpointARN string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tested[endpointARN]++
	return nil
}

func (f *fakeDMS) RebootDB(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reboots++
	if f.rebootErr != nil {
		return f.rebootErr
	}
	if f.rebootLag == 0 {
		f.preflight.ParameterApplyStatus = "in-sync"
		return nil
	}
	f.rebootShow = nil
	for range f.rebootLag {
		f.rebootShow = append(f.rebootShow, "available")
	}
	f.rebootShow = append(f.rebootShow, "rebooting", "available")
	return nil
}

// scriptReboot sets how RDS answers the next reboots.
func (f *fakeDMS) scriptReboot(lag int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rebootLag, f.rebootErr = lag, err
}

func (f *fakeDMS) rebootCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reboots
}

func (f *fakeDMS) setPreflight(fn func(*replication.PreflightObservation)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.preflight)
}

func taskResourceID(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == ':' {
			return arn[i+1:]
		}
	}
	return arn
}
