package replicationaws_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
)

// wakes records which tasks the poller woke.
type wakes struct {
	mu  sync.Mutex
	got []string
}

func (w *wakes) fn(arn string) func() {
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.got = append(w.got, arn)
	}
}

func (w *wakes) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := w.got
	w.got = nil
	slices.Sort(got)
	return got
}

// minuteLag serves, for each task, one datapoint per minute stamped at the
// minute, visible from the minute on, with the value values[taskID] (5 when
// unset).
func minuteLag(clk *clock, values map[string]float64, mu *sync.Mutex) series {
	return func(_, taskID, _ string, start, end time.Time) ([]time.Time, []float64) {
		mu.Lock()
		defer mu.Unlock()
		v, ok := values[taskID]
		if !ok {
			v = 5
		}
		var times []time.Time
		var vals []float64
		for at := clk.Now().Truncate(time.Minute); !at.Before(start); at = at.Add(-time.Minute) {
			if at.Before(end) {
				times, vals = append(times, at), append(vals, v)
			}
		}
		return times, vals
	}
}

func TestPollerReadsTheRegionInOneCallAndWakesOnlyWhatChanged(t *testing.T) {
	const n = 300 // two GetMetricData calls (250 tasks each), three DescribeReplicationTasks
	f := newFake(t)
	withTasks(f, n)
	c, clk := newClockedClient(f)
	var mu sync.Mutex
	values := map[string]float64{}
	f.lag = minuteLag(clk, values, &mu)
	ctx := context.Background()
	clk.Set(t0.Add(time.Second))
	var w wakes
	for i := range n {
		arn := arnOf(i)
		if _, err := c.Task(ctx, arn); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Lag(ctx, "ri", fmt.Sprintf("TASK%04d", i)); err != nil {
			t.Fatal(err)
		}
		c.WatchTask(arn, "ri", fmt.Sprintf("TASK%04d", i), w.fn(arn))
	}
	f.reset()

	// Nothing changed since the reconciles read: one read of the region,
	// no wake-up.
	clk.Advance(replicationaws.DefaultPollInterval)
	if err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.take(); len(got) != 0 {
		t.Errorf("woke %d migrations although nothing changed", len(got))
	}
	if g, d := f.count("GetMetricData"), f.count("DescribeReplicationTasks"); g != 2 || d != 3 {
		t.Errorf("first tick: %d GetMetricData and %d DescribeReplicationTasks calls, want 2 and 3", g, d)
	}

	// One task's lag changes: only its migration is woken, and its reconcile
	// is served from the poller's read.
	mu.Lock()
	values["TASK0007"] = 95
	mu.Unlock()
	f.reset()
	clk.Advance(replicationaws.DefaultPollInterval)
	if err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.take(); !slices.Equal(got, []string{arnOf(7)}) {
		t.Errorf("woke %v, want only %s", got, arnOf(7))
	}
	if g, d := f.count("GetMetricData"), f.count("DescribeReplicationTasks"); g != 2 || d != 0 {
		t.Errorf("second tick: %d GetMetricData and %d DescribeReplicationTasks calls, want 2 and 0 (tasks are read once a minute)", g, d)
	}
	f.reset()
	s, err := c.Lag(ctx, "ri", "TASK0007")
	if err != nil || s.Target == nil || *s.Target != 95 {
		t.Fatalf("Lag after the wake-up = %+v, %v; want the 95 s the poller read", s, err)
	}
	if _, err := c.Task(ctx, arnOf(7)); err != nil {
		t.Fatal(err)
	}
	if total := f.total(); total != 0 {
		t.Errorf("the woken reconcile cost %d calls, want 0: the poller's read serves it", total)
	}

	// A new minute: every datapoint is new, every migration is woken once.
	clk.Set(t0.Add(time.Minute + time.Second))
	if err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.take(); len(got) != n {
		t.Errorf("a new minute woke %d migrations, want all %d", len(got), n)
	}

	// A task that stops is woken on the next task read.
	f.mu.Lock()
	task := f.tasks[arnOf(3)]
	task.Status = aws.String("stopped")
	f.tasks[arnOf(3)] = task
	f.mu.Unlock()
	clk.Set(t0.Add(2*time.Minute + time.Second))
	if err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.take(); len(got) != n { // every lag moved to the new minute, and task 3 stopped
		t.Errorf("woke %d, want %d", len(got), n)
	}
	if got, err := c.Task(ctx, arnOf(3)); err != nil || got.Status != "stopped" {
		t.Errorf("Task after the poll = %+v, %v; want stopped", got, err)
	}
}

func TestPollerWatchLapsesWithoutRefresh(t *testing.T) {
	f := newFake(t)
	withTasks(f, 2)
	c, clk := newClockedClient(f)
	var mu sync.Mutex
	f.lag = minuteLag(clk, map[string]float64{}, &mu)
	ctx := context.Background()
	var w wakes
	c.WatchTask(arnOf(0), "ri", "TASK0000", w.fn(arnOf(0)))
	c.WatchTask(arnOf(1), "ri", "TASK0001", w.fn(arnOf(1)))
	for range 5 {
		clk.Advance(3 * time.Minute)
		c.WatchTask(arnOf(1), "ri", "TASK0001", w.fn(arnOf(1))) // refreshed by its reconciles
		if err := c.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.take()
	f.reset()
	clk.Advance(time.Minute)
	if err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.take(); !slices.Equal(got, []string{arnOf(1)}) {
		t.Errorf("woke %v, want only the watch still refreshed", got)
	}
	if n := len(f.metricQueries[0]); n != 2 {
		t.Errorf("the lapsed watch is still read: %d queries, want 2", n)
	}
}

// The loop runs within the client's lifetime: once the manager stops, no
// more calls are made.
func TestPollerLoopStopsWithTheManager(t *testing.T) {
	f := newFake(t)
	withTasks(f, 1)
	c := f.client()
	c.PollInterval = 10 * time.Millisecond
	lifetime, stop := context.WithCancel(context.Background())
	c.StopWith(lifetime)
	woken := make(chan struct{}, 100)
	var mu sync.Mutex
	f.lag = func(_, _, _ string, start, end time.Time) ([]time.Time, []float64) {
		mu.Lock()
		defer mu.Unlock()
		return []time.Time{end.Add(-time.Second)}, []float64{5} // a new datapoint every read
	}
	c.WatchTask(arnOf(0), "ri", "TASK0000", func() { woken <- struct{}{} })
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop never polled")
	}
	stop()
	time.Sleep(50 * time.Millisecond)
	before := f.count("GetMetricData")
	time.Sleep(100 * time.Millisecond)
	if after := f.count("GetMetricData"); after != before {
		t.Errorf("%d GetMetricData calls after the manager stopped", after-before)
	}
}
