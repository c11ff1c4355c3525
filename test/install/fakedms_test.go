package install_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// fakeDMS is DMS, CloudWatch, RDS and IAM as the replication step reads
// them: the source is ready for logical replication, every connection test
// succeeds, a start or stop completes on the next read, the full load takes
// two reads, and the lag is 3 s with a new datapoint on every read.
type fakeDMS struct {
	mu     sync.Mutex
	tasks  map[string]*fakeTask
	tested map[string]bool
	clock  time.Time
}

type fakeTask struct {
	status, startTag string
	everStarted      bool
	percent          int32
}

func newFakeDMS() *fakeDMS {
	return &fakeDMS{tasks: map[string]*fakeTask{}, tested: map[string]bool{}, clock: time.Now().Truncate(time.Second)}
}

func (f *fakeDMS) task(arn string) *fakeTask {
	t, ok := f.tasks[arn]
	if !ok {
		t = &fakeTask{status: replication.StatusReady}
		f.tasks[arn] = t
	}
	return t
}

func (f *fakeDMS) Task(_ context.Context, arn string) (replication.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	switch t.status {
	case replication.StatusStarting:
		t.status, t.everStarted = replication.StatusRunning, true
	case replication.StatusStopping:
		t.status = replication.StatusStopped
	case replication.StatusRunning:
		t.percent = min(100, t.percent+50)
	}
	var loaded, loading int32
	switch {
	case t.percent == 100:
		loaded = 1
	case t.everStarted:
		loading = 1
	}
	return replication.Task{ARN: arn, Status: t.status, EverStarted: t.everStarted, FullLoadPercent: t.percent,
		TablesLoaded: loaded, TablesLoading: loading}, nil
}

func (f *fakeDMS) StartTask(_ context.Context, arn string, _ replication.TaskAction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.task(arn).status = replication.StatusStarting
	return nil
}

func (f *fakeDMS) StartTaskAt(_ context.Context, arn, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	if t.everStarted {
		return fmt.Errorf("task %s was started before", arn)
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
	f.task(arn).startTag = value
	return nil
}

func (f *fakeDMS) UntagStart(_ context.Context, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.task(arn).startTag = ""
	return nil
}

func (f *fakeDMS) StopTask(_ context.Context, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.task(arn).status = replication.StatusStopping
	return nil
}

// StopIfRunning is the deletion path's stop (controllers.TaskStopper).
func (f *fakeDMS) StopIfRunning(_ context.Context, arn string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(arn)
	switch t.status {
	case replication.StatusRunning, replication.StatusStarting:
		t.status = replication.StatusStopping
		return false, nil
	case replication.StatusStopping:
		t.status = replication.StatusStopped
		return false, nil
	}
	return true, nil
}

func (f *fakeDMS) TableStatistics(context.Context, string) ([]replication.TableStats, error) {
	return []replication.TableStats{{Schema: "public", Table: "payments", TableState: "Table completed", ValidationState: "Validated"}}, nil
}

// Lag serves a fresh datapoint on whole seconds (status keeps seconds),
// never older than now: the lag gate judges its age.
func (f *fakeDMS) Lag(context.Context, string, string) (replication.LagSample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(time.Second)
	if now := time.Now().Truncate(time.Second); now.After(f.clock) {
		f.clock = now
	}
	source, target := 1.0, 3.0
	return replication.LagSample{Source: &source, Target: &target, Time: f.clock}, nil
}

func (f *fakeDMS) Preflight(_ context.Context, in replication.PreflightTargets) (replication.PreflightObservation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	obs := replication.PreflightObservation{SourceDBStatus: "available", ParameterGroup: in.ParameterGroup, ParameterApplyStatus: "in-sync",
		LogicalReplication: "1", InstanceStatus: "available"}
	for _, name := range in.RoleNames {
		obs.Roles = append(obs.Roles, replication.RoleCheck{Name: name, Exists: true, TrustsDMS: true})
	}
	for _, ep := range in.Endpoints {
		status := ""
		if f.tested[ep.ARN] {
			status = "successful"
		}
		obs.Connections = append(obs.Connections, replication.Connection{Side: ep.Side, EndpointARN: ep.ARN, Status: status})
	}
	return obs, nil
}

func (f *fakeDMS) TestConnection(_ context.Context, _, endpointARN string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tested[endpointARN] = true
	return nil
}

func (f *fakeDMS) RebootDB(_ context.Context, id string) error {
	return fmt.Errorf("the source %s needs no reboot here: its parameters are in sync", strings.TrimSpace(id))
}
