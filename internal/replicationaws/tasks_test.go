package replicationaws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/smithy-go"

	"github.com/tapstack/payment-migration-operator/internal/replication"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func arnOf(i int) string {
	return fmt.Sprintf("arn:aws:dms:eu-west-1:123456789012:task:TASK%04d", i)
}

// withTasks adds n running tasks to the fake.
func withTasks(f *fakeAWS, n int) {
	for i := range n {
		f.tasks[arnOf(i)] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(arnOf(i)), Status: aws.String("running")}
	}
}

func newClockedClient(f *fakeAWS) (*replicationaws.Client, *clock) {
	clk := &clock{now: t0}
	c := f.client()
	c.Now = clk.Now
	return c, clk
}

func TestTaskMapsEveryField(t *testing.T) {
	started := t0.Add(-time.Hour)
	tests := []struct {
		name string
		sdk  *dmstypes.ReplicationTask // nil: DMS has no such task
		want replication.Task
	}{
		{
			name: "running with statistics",
			sdk: &dmstypes.ReplicationTask{
				Status:                   aws.String("running"),
				StopReason:               aws.String("Stop Reason NORMAL"),
				LastFailureMessage:       aws.String("earlier failure"),
				ReplicationTaskStartDate: &started,
				ReplicationTaskStats: &dmstypes.ReplicationTaskStats{
					FullLoadProgressPercent: 73, TablesLoaded: 4, TablesLoading: 2, TablesQueued: 1, TablesErrored: 3,
				},
			},
			want: replication.Task{Status: "running", StopReason: "Stop Reason NORMAL", LastFailureMessage: "earlier failure",
				EverStarted: true, FullLoadPercent: 73, TablesLoaded: 4, TablesLoading: 2, TablesQueued: 1, TablesErrored: 3},
		},
		{
			name: "never started, no statistics",
			sdk:  &dmstypes.ReplicationTask{Status: aws.String("ready")},
			want: replication.Task{Status: "ready"},
		},
		{
			name: "failed",
			sdk: &dmstypes.ReplicationTask{Status: aws.String("failed"), LastFailureMessage: aws.String("Last Error ODBC general error"),
				ReplicationTaskStartDate: &started, StopReason: aws.String("Stop Reason FATAL_ERROR")},
			want: replication.Task{Status: "failed", LastFailureMessage: "Last Error ODBC general error", EverStarted: true, StopReason: "Stop Reason FATAL_ERROR"},
		},
		{
			name: "a start date only in the statistics (a modified task)",
			sdk: &dmstypes.ReplicationTask{Status: aws.String("ready"),
				ReplicationTaskStats: &dmstypes.ReplicationTaskStats{FreshStartDate: &started}},
			want: replication.Task{Status: "ready", EverStarted: true},
		},
		{
			name: "a stop date only in the statistics",
			sdk: &dmstypes.ReplicationTask{Status: aws.String("ready"),
				ReplicationTaskStats: &dmstypes.ReplicationTaskStats{StopDate: &started}},
			want: replication.Task{Status: "ready", EverStarted: true},
		},
		{name: "absent", want: replication.Task{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			arn := arnOf(1)
			if tt.sdk != nil {
				tt.sdk.ReplicationTaskArn = aws.String(arn)
				f.tasks[arn] = *tt.sdk
			}
			got, err := f.client().Task(context.Background(), arn)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.ARN = arn
			if got != tt.want {
				t.Errorf("Task = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}

func TestTaskReadsAreBatched(t *testing.T) {
	f := newFake(t)
	withTasks(f, 10)
	c, clk := newClockedClient(f)
	ctx := context.Background()
	askAll := func() {
		t.Helper()
		for i := range 10 {
			task, err := c.Task(ctx, arnOf(i))
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != "running" {
				t.Fatalf("Task(%d).Status = %q", i, task.Status)
			}
		}
	}
	steps := []struct {
		name      string
		advance   time.Duration
		wantCalls int
	}{
		// Until a task is first asked for nobody knows its ARN, so each new
		// one costs a call; from then on one call serves all of them.
		{"first sight of each task", 0, 10},
		{"within MaxAge", 19 * time.Second, 10},
		{"stale after MaxAge: one call for all", time.Second, 11},
		{"fresh again", 10 * time.Second, 11},
		{"stale again", 10 * time.Second, 12},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		askAll()
		if got := f.count("DescribeReplicationTasks"); got != s.wantCalls {
			t.Fatalf("%s: %d DescribeReplicationTasks calls, want %d", s.name, got, s.wantCalls)
		}
	}
	last := f.taskFilters[len(f.taskFilters)-1]
	if len(last) != 10 {
		t.Errorf("the batched call filtered on %d ARNs, want 10", len(last))
	}
}

func TestANewTaskIsReadAlone(t *testing.T) {
	f := newFake(t)
	withTasks(f, 11)
	c, clk := newClockedClient(f)
	ctx := context.Background()
	for i := range 10 {
		if _, err := c.Task(ctx, arnOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(10 * time.Second)
	if _, err := c.Task(ctx, arnOf(10)); err != nil {
		t.Fatal(err)
	}
	// The ten others are fresh: re-reading them would cost pages for nothing
	// and split the region's refreshes in two cohorts no sooner.
	if last := f.taskFilters[len(f.taskFilters)-1]; len(last) != 1 || last[0] != arnOf(10) {
		t.Errorf("reading a new task filtered on %v, want it alone", last)
	}
	clk.Advance(10 * time.Second)
	for i := range 11 {
		if _, err := c.Task(ctx, arnOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	if last := f.taskFilters[len(f.taskFilters)-1]; len(last) != 11 {
		t.Errorf("the refresh after MaxAge filtered on %d tasks, want all 11", len(last))
	}
	if got := f.count("DescribeReplicationTasks"); got != 12 {
		t.Errorf("%d calls, want 12: one per new task, then one for all", got)
	}
}

func TestTaskReadsAreChunkedAndPaginated(t *testing.T) {
	f := newFake(t)
	withTasks(f, 250)
	f.taskPage = 30
	c, clk := newClockedClient(f)
	ctx := context.Background()
	for i := range 250 {
		if _, err := c.Task(ctx, arnOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Minute)
	f.taskFilters = nil
	before := f.count("DescribeReplicationTasks")
	for i := range 250 {
		task, err := c.Task(ctx, arnOf(i))
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != "running" {
			t.Fatalf("Task(%d) = %+v after a chunked refresh", i, task)
		}
	}
	var sizes []int
	for _, flt := range f.taskFilters {
		sizes = append(sizes, len(flt))
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("filter sizes %v, want [100 100 50]", sizes)
	}
	// 100 tasks at 30 a page take 4 pages, 50 take 2.
	if got := f.count("DescribeReplicationTasks") - before; got != 4+4+2 {
		t.Errorf("%d calls for the refresh, want 10", got)
	}
}

func TestTasksNotAskedForAreForgotten(t *testing.T) {
	f := newFake(t)
	withTasks(f, 2)
	c, clk := newClockedClient(f)
	ctx := context.Background()
	for i := range 2 {
		if _, err := c.Task(ctx, arnOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 11 {
		clk.Advance(time.Minute)
		if _, err := c.Task(ctx, arnOf(0)); err != nil {
			t.Fatal(err)
		}
	}
	last := f.taskFilters[len(f.taskFilters)-1]
	if len(last) != 1 || last[0] != arnOf(0) {
		t.Errorf("after 11 minutes without asking for task 1 the refresh filters on %v", last)
	}
}

func TestTaskErrors(t *testing.T) {
	f := newFake(t)
	withTasks(f, 1)
	f.describeErr = errors.New("throttled")
	c, _ := newClockedClient(f)
	_, err := c.Task(context.Background(), arnOf(0))
	if err == nil || !strings.Contains(err.Error(), "throttled") || !strings.Contains(err.Error(), "describing") {
		t.Fatalf("Task error = %v, want the API error wrapped", err)
	}
	f.mu.Lock()
	f.describeErr = nil
	f.mu.Unlock()
	// A failed read is not cached.
	if task, err := c.Task(context.Background(), arnOf(0)); err != nil || task.Status != "running" {
		t.Fatalf("Task after the error = %+v, %v", task, err)
	}
}

func TestStartTask(t *testing.T) {
	tests := []struct {
		how     replication.TaskAction
		want    dmstypes.StartReplicationTaskTypeValue
		wantErr bool
	}{
		{how: replication.StartReplication, want: dmstypes.StartReplicationTaskTypeValueStartReplication},
		{how: replication.ResumeProcessing, want: dmstypes.StartReplicationTaskTypeValueResumeProcessing},
		{how: replication.StopTask, wantErr: true},
		{how: replication.NoAction, wantErr: true},
		{how: "reload-target", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.how), func(t *testing.T) {
			f := newFake(t)
			withTasks(f, 1)
			err := f.client().StartTask(context.Background(), arnOf(0), tt.how)
			if tt.wantErr {
				if err == nil {
					t.Fatal("StartTask accepted", tt.how)
				}
				if len(f.started) != 0 {
					t.Fatalf("StartTask(%q) called DMS", tt.how)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.started) != 1 || f.started[0].StartReplicationTaskType != tt.want || aws.ToString(f.started[0].ReplicationTaskArn) != arnOf(0) {
				t.Fatalf("StartReplicationTask calls %+v", f.started)
			}
		})
	}
}

func TestStartAndStopInvalidateTheCache(t *testing.T) {
	tests := []struct {
		name string
		act  func(*replicationaws.Client) error
		want string
	}{
		{"start", func(c *replicationaws.Client) error {
			return c.StartTask(context.Background(), arnOf(0), replication.ResumeProcessing)
		}, "starting"},
		{"stop", func(c *replicationaws.Client) error { return c.StopTask(context.Background(), arnOf(0)) }, "stopping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			withTasks(f, 1)
			c, _ := newClockedClient(f)
			if _, err := c.Task(context.Background(), arnOf(0)); err != nil {
				t.Fatal(err)
			}
			if err := tt.act(c); err != nil {
				t.Fatal(err)
			}
			task, err := c.Task(context.Background(), arnOf(0))
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != tt.want {
				t.Errorf("Task after %s = %q, want %q: the cached status survived", tt.name, task.Status, tt.want)
			}
		})
	}
}

func TestStartErrorStillInvalidates(t *testing.T) {
	f := newFake(t)
	withTasks(f, 1)
	f.startErr = &dmstypes.InvalidResourceStateFault{Message: aws.String("task is starting")}
	c, _ := newClockedClient(f)
	if _, err := c.Task(context.Background(), arnOf(0)); err != nil {
		t.Fatal(err)
	}
	err := c.StartTask(context.Background(), arnOf(0), replication.StartReplication)
	var fault *dmstypes.InvalidResourceStateFault
	if !errors.As(err, &fault) {
		t.Fatalf("StartTask error = %v, want the fault wrapped", err)
	}
	if _, err := c.Task(context.Background(), arnOf(0)); err != nil {
		t.Fatal(err)
	}
	if got := f.count("DescribeReplicationTasks"); got != 2 {
		t.Errorf("%d DescribeReplicationTasks calls, want 2: a start that may have reached DMS must drop the cache", got)
	}
}

func TestTableStatistics(t *testing.T) {
	f := newFake(t)
	var tables []dmstypes.TableStatistics
	for i := range 600 {
		tables = append(tables, dmstypes.TableStatistics{
			SchemaName: aws.String("public"), TableName: aws.String(fmt.Sprintf("payment_%d", i)),
			TableState: aws.String("Table completed"), ValidationState: aws.String("Validated"),
			ValidationFailedRecords: int64(i), ValidationPendingRecords: int64(2 * i), ValidationSuspendedRecords: int64(3 * i),
		})
	}
	f.tableStats = map[string][]dmstypes.TableStatistics{arnOf(0): tables}
	got, err := f.client().TableStatistics(context.Background(), arnOf(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 600 {
		t.Fatalf("%d tables, want 600", len(got))
	}
	want := replication.TableStats{Schema: "public", Table: "payment_599", TableState: "Table completed",
		ValidationState: "Validated", Failed: 599, Pending: 1198, Suspended: 1797}
	if got[599] != want {
		t.Errorf("table 599 = %+v\nwant        %+v", got[599], want)
	}
	if n := f.count("DescribeTableStatistics"); n != 2 {
		t.Errorf("%d DescribeTableStatistics calls for 600 tables, want 2 pages of 500", n)
	}
	if _, err := f.client().TableStatistics(context.Background(), arnOf(9)); err == nil {
		t.Error("TableStatistics of a missing task: no error")
	}
}

func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	const n = 50
	f := newFake(t)
	withTasks(f, n)
	c, clk := newClockedClient(f)
	ctx := context.Background()
	for i := range n {
		if _, err := c.Task(ctx, arnOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Minute)
	before := f.count("DescribeReplicationTasks")
	gate := make(chan struct{})
	f.mu.Lock()
	f.describeGate = gate
	f.mu.Unlock()

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			task, err := c.Task(ctx, arnOf(i))
			if err == nil && task.Status != "running" {
				err = fmt.Errorf("task %d status %q", i, task.Status)
			}
			errs <- err
		})
	}
	// A caller that gives up does not cancel the refresh the others wait for.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Task(cancelled, arnOf(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Task with a cancelled context = %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := f.count("DescribeReplicationTasks") - before; got != 1 {
		t.Errorf("%d concurrent callers made %d calls, want 1", n, got)
	}
}

func TestInvalidationDuringARefreshIsNotOverwritten(t *testing.T) {
	f := newFake(t)
	withTasks(f, 1)
	c, _ := newClockedClient(f)
	gate := make(chan struct{})
	f.describeGate = gate
	result := make(chan replication.Task, 1)
	go func() {
		task, err := c.Task(context.Background(), arnOf(0))
		if err != nil {
			t.Error(err)
		}
		result <- task
	}()
	// Wait until the read is in DMS, then stop the task under it.
	for f.count("DescribeReplicationTasks") == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := c.StopTask(context.Background(), arnOf(0)); err != nil {
		t.Fatal(err)
	}
	close(gate)
	// The in-flight read saw the task running, before the stop: neither its
	// caller nor a later one may get that as the state after the stop.
	if got := (<-result).Status; got != "stopping" {
		t.Errorf("the caller of the in-flight read got %q, want stopping", got)
	}
	task, err := c.Task(context.Background(), arnOf(0))
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != "stopping" {
		t.Errorf("Task after StopTask = %q, want stopping", task.Status)
	}
	// The stale read, one after the stop, and one more for the last Task:
	// "stopping" is a transition and is never served from the cache.
	if got := f.count("DescribeReplicationTasks"); got != 3 {
		t.Errorf("%d DescribeReplicationTasks calls, want 3", got)
	}
}

// A task in a transition changes within seconds: serving it from the cache for
// MaxAge would hide "running" behind "starting" and skip the full-load phase.
func TestTasksInTransitionAreReadAgainButSettledOnesAreCached(t *testing.T) {
	for _, tc := range []struct {
		status    string
		wantCalls int
	}{
		{"starting", 2}, {"stopping", 2}, {"modifying", 2}, {"creating", 2},
		{"running", 1}, {"stopped", 1}, {"ready", 1}, {"failed", 1},
	} {
		t.Run(tc.status, func(t *testing.T) {
			f := newFake(t)
			f.tasks[arnOf(0)] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(arnOf(0)), Status: aws.String(tc.status)}
			c, _ := newClockedClient(f)
			for range 2 {
				if _, err := c.Task(context.Background(), arnOf(0)); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.count("DescribeReplicationTasks"); got != tc.wantCalls {
				t.Errorf("%d DescribeReplicationTasks calls for two reads of a %s task, want %d", got, tc.status, tc.wantCalls)
			}
		})
	}
}

func TestTheFirstStartTagIsWrittenReadAndTakenBack(t *testing.T) {
	f := newFake(t)
	c := f.client()
	ctx := context.Background()
	arn := arnOf(1)
	if tag, err := c.StartTag(ctx, arn); err != nil || tag != "" {
		t.Fatalf("StartTag of an untagged task = %q, %v", tag, err)
	}
	if err := c.TagStart(ctx, arn, "2026-12-02T10:00:00Z default/pm uid"); err != nil {
		t.Fatal(err)
	}
	f.tags[arn]["Owner"] = "someone else"
	if tag, err := c.StartTag(ctx, arn); err != nil || tag != "2026-12-02T10:00:00Z default/pm uid" {
		t.Errorf("StartTag = %q, %v", tag, err)
	}
	if err := c.UntagStart(ctx, arn); err != nil {
		t.Fatal(err)
	}
	if tag, _ := c.StartTag(ctx, arn); tag != "" || f.tags[arn]["Owner"] != "someone else" {
		t.Errorf("after UntagStart: first-start tag %q, other tags %v; want only the first-start tag gone", tag, f.tags[arn])
	}
}

func TestRefusedTellsARefusalFromAnUnknownOutcome(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"a modeled client fault", &dmstypes.InvalidResourceStateFault{Message: aws.String("cannot start")}, true},
		{"wrapped", fmt.Errorf("starting: %w", &dmstypes.ResourceNotFoundFault{}), true},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"a server fault", &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, false},
		{"an unclassified API error", &smithy.GenericAPIError{Code: "Mystery"}, false},
		{"a timeout", context.DeadlineExceeded, false},
		{"a network error", errors.New("read tcp: connection reset by peer"), false},
	} {
		if got := replicationaws.Refused(c.err); got != c.want {
			t.Errorf("%s: Refused = %v, want %v", c.name, got, c.want)
		}
	}
}
