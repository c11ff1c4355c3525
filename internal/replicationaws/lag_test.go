package replicationaws_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

type point struct {
	at time.Time
	v  float64
}

// staticSeries serves fixed datapoints by "taskID/metric", in the order given.
func staticSeries(points map[string][]point) series {
	return func(_, taskID, metric string, start, end time.Time) ([]time.Time, []float64) {
		var times []time.Time
		var values []float64
		for _, p := range points[taskID+"/"+metric] {
			if !p.at.Before(start) && p.at.Before(end) {
				times, values = append(times, p.at), append(values, p.v)
			}
		}
		return times, values
	}
}

func ptr(v float64) *float64 { return &v }

func TestLagSample(t *testing.T) {
	m := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	tests := []struct {
		name   string
		points map[string][]point
		page   int
		want   replication.LagSample
	}{
		{
			name: "both sides, newest first",
			points: map[string][]point{
				"t1/CDCLatencySource": {{m(-1), 4}, {m(-2), 40}},
				"t1/CDCLatencyTarget": {{m(-2), 9}, {m(-3), 90}},
			},
			want: replication.LagSample{Source: ptr(4), Target: ptr(9), Time: m(-1)},
		},
		{
			name: "target newer than source",
			points: map[string][]point{
				"t1/CDCLatencySource": {{m(-3), 4}},
				"t1/CDCLatencyTarget": {{m(-1), 9}},
			},
			want: replication.LagSample{Source: ptr(4), Target: ptr(9), Time: m(-1)},
		},
		{
			name:   "oldest first is still read by timestamp",
			points: map[string][]point{"t1/CDCLatencyTarget": {{m(-5), 50}, {m(-4), 40}, {m(-2), 20}}},
			want:   replication.LagSample{Target: ptr(20), Time: m(-2)},
		},
		{
			name:   "source only",
			points: map[string][]point{"t1/CDCLatencySource": {{m(-2), 0}}},
			want:   replication.LagSample{Source: ptr(0), Time: m(-2)},
		},
		{name: "no datapoint", want: replication.LagSample{}},
		{
			name:   "outside the window of four metric periods",
			points: map[string][]point{"t1/CDCLatencySource": {{m(-5), 7}}},
			want:   replication.LagSample{},
		},
		{
			name: "datapoints spread over pages",
			page: 1,
			points: map[string][]point{
				"t1/CDCLatencySource": {{m(-3), 30}, {m(-2), 20}, {m(-1), 10}},
				"t1/CDCLatencyTarget": {{m(-3), 4}},
			},
			want: replication.LagSample{Source: ptr(10), Target: ptr(4), Time: m(-1)},
		},
		{
			name:   "another task's datapoints are not ours",
			points: map[string][]point{"t2/CDCLatencySource": {{m(-1), 99}}},
			want:   replication.LagSample{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.lag, f.metricPage = staticSeries(tt.points), tt.page
			c, _ := newClockedClient(f)
			got, err := c.Lag(context.Background(), "ri-source-x", "t1")
			if err != nil {
				t.Fatal(err)
			}
			if !sameSample(got, tt.want) {
				t.Errorf("Lag = %s, want %s", show(got), show(tt.want))
			}
			wantCalls := 1
			if tt.page > 0 {
				wantCalls = 3
			}
			if n := f.count("GetMetricData"); n != wantCalls {
				t.Errorf("%d GetMetricData calls, want %d", n, wantCalls)
			}
		})
	}
}

func sameSample(a, b replication.LagSample) bool {
	eq := func(x, y *float64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.Source, b.Source) && eq(a.Target, b.Target) && a.Time.Equal(b.Time)
}

func show(s replication.LagSample) string {
	side := func(v *float64) string {
		if v == nil {
			return "nil"
		}
		return fmt.Sprint(*v)
	}
	return fmt.Sprintf("{source %s target %s at %s}", side(s.Source), side(s.Target), s.Time.Format(time.TimeOnly))
}

func TestLagQueries(t *testing.T) {
	f := newFake(t)
	c, _ := newClockedClient(f)
	if _, err := c.Lag(context.Background(), "ri-source-x", "ABCDEF"); err != nil {
		t.Fatal(err)
	}
	qs := f.metricQueries[0]
	if len(qs) != 2 {
		t.Fatalf("%d queries for one task, want 2", len(qs))
	}
	var metrics []string
	for _, q := range qs {
		metrics = append(metrics, aws.ToString(q.MetricStat.Metric.MetricName))
		dims := map[string]string{}
		for _, d := range q.MetricStat.Metric.Dimensions {
			dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		if dims["ReplicationInstanceIdentifier"] != "ri-source-x" || dims["ReplicationTaskIdentifier"] != "ABCDEF" {
			t.Errorf("query %s dimensions %v", aws.ToString(q.Id), dims)
		}
		if !aws.ToBool(q.ReturnData) {
			t.Errorf("query %s does not return data", aws.ToString(q.Id))
		}
	}
	slices.Sort(metrics)
	if fmt.Sprint(metrics) != "[CDCLatencySource CDCLatencyTarget]" {
		t.Errorf("metrics %v", metrics)
	}
}

func TestLagReadsAreBatchedAndChunked(t *testing.T) {
	const n = 600
	f := newFake(t)
	// Each task's latency is its index, so a result mapped to the wrong task
	// shows.
	f.lag = func(_, taskID, metric string, _, end time.Time) ([]time.Time, []float64) {
		var i int
		fmt.Sscanf(taskID, "task%d", &i)
		v := float64(i)
		if metric == "CDCLatencyTarget" {
			v += 0.5
		}
		return []time.Time{end.Add(-time.Minute).Truncate(time.Minute)}, []float64{v}
	}
	c, clk := newClockedClient(f)
	ctx := context.Background()
	read := func() {
		t.Helper()
		for i := range n {
			s, err := c.Lag(ctx, "ri", fmt.Sprintf("task%d", i))
			if err != nil {
				t.Fatal(err)
			}
			if s.Source == nil || s.Target == nil || *s.Source != float64(i) || *s.Target != float64(i)+0.5 {
				t.Fatalf("task%d read %s", i, show(s))
			}
		}
	}
	read()
	if got := f.count("GetMetricData"); got < n {
		t.Fatalf("%d calls for the first sight of %d tasks, want at least one each", got, n)
	}
	clk.Advance(30 * time.Second)
	before := f.count("GetMetricData")
	f.metricQueries = nil
	read()
	var sizes []int
	for _, qs := range f.metricQueries {
		sizes = append(sizes, len(qs))
	}
	if fmt.Sprint(sizes) != "[500 500 200]" {
		t.Errorf("query counts per call %v, want [500 500 200]", sizes)
	}
	if got := f.count("GetMetricData") - before; got != 3 {
		t.Errorf("%d GetMetricData calls for %d stale tasks, want 3", got, n)
	}
}

func TestLagWindowFollowsTheInjectedClock(t *testing.T) {
	f := newFake(t)
	var ends []time.Time
	f.lag = func(_, _, _ string, _, end time.Time) ([]time.Time, []float64) {
		ends = append(ends, end)
		return nil, nil
	}
	c, clk := newClockedClient(f)
	clk.Set(t0.Add(time.Hour))
	if _, err := c.Lag(context.Background(), "ri", "t"); err != nil {
		t.Fatal(err)
	}
	if len(ends) != 2 || !ends[0].Equal(t0.Add(time.Hour)) {
		t.Errorf("window ends %v, want %s", ends, t0.Add(time.Hour))
	}
}

func TestLagErrors(t *testing.T) {
	f := newFake(t)
	f.metricErr = errors.New("AccessDenied")
	c, _ := newClockedClient(f)
	_, err := c.Lag(context.Background(), "ri", "t")
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "CDC latency") {
		t.Fatalf("Lag error = %v", err)
	}
}
