package emulator

import (
	"context"
	"time"
)

// What DMS and RDS decide on their own, set through the control API: task
// failures, table statistics, CDC latency, connection test results, the
// parameter apply status of a DB instance, and how fast the emulated
// transitions run.

// TableStatistics overrides what DescribeTableStatistics reports for one table
// of a task. The validation counts are always set (0 included); an empty state
// keeps the emulated one. A table the task's selection rules do not name is
// added to the task's tables.
type TableStatistics struct {
	Schema          string `json:"schema,omitempty"` // default public
	Table           string `json:"table"`
	ValidationState string `json:"validationState,omitempty"`
	Failed          int64  `json:"failed"`
	Pending         int64  `json:"pending"`
	Suspended       int64  `json:"suspended"`
	TableState      string `json:"tableState,omitempty"`
	Rows            int64  `json:"rows,omitempty"` // full-load rows, default 1000
}

// Timings are the durations of the emulated DMS transitions; a zero field keeps
// the current value. Defaults: 1 s per transition and connection test, 3 s of
// full load, metrics every second.
type Timings struct {
	// Transition is how long a task stays starting or stopping.
	Transition time.Duration
	// FullLoad is the running time a task's full load takes.
	FullLoad time.Duration
	// ConnectionTest is how long a connection test stays testing.
	ConnectionTest time.Duration
	// MetricPeriod is how often running tasks publish their CDC latency.
	MetricPeriod time.Duration
}

// SetTimings changes how fast the emulated DMS transitions run, for every task.
func (e *Emulator) SetTimings(ctx context.Context, t Timings) error {
	in := map[string]float64{}
	for key, d := range map[string]time.Duration{
		"transitionSeconds":     t.Transition,
		"fullLoadSeconds":       t.FullLoad,
		"connectionTestSeconds": t.ConnectionTest,
		"metricPeriodSeconds":   t.MetricPeriod,
	} {
		if d > 0 {
			in[key] = d.Seconds()
		}
	}
	return e.Control(ctx, "POST", "dms/settings", in, nil)
}

// SetTaskLag sets the CDCLatencySource and CDCLatencyTarget (seconds) the task
// publishes to CloudWatch while it runs (default 2 and 3).
func (e *Emulator) SetTaskLag(ctx context.Context, taskARN string, source, target float64) error {
	return e.Control(ctx, "POST", "dms/task", map[string]any{
		"taskArn": taskARN, "latencySource": source, "latencyTarget": target,
	}, nil)
}

// FailTask makes the task fail with this LastFailureMessage: now if it is
// running, else as soon as it runs.
func (e *Emulator) FailTask(ctx context.Context, taskARN, message string) error {
	return e.Control(ctx, "POST", "dms/task", map[string]any{"taskArn": taskARN, "failWith": message}, nil)
}

// SetFullLoadDuration sets how much running time the task's full load takes.
func (e *Emulator) SetFullLoadDuration(ctx context.Context, taskARN string, d time.Duration) error {
	return e.Control(ctx, "POST", "dms/task", map[string]any{"taskArn": taskARN, "fullLoadSeconds": d.Seconds()}, nil)
}

// SetTaskTables replaces the tables the task loads ("schema.table" or "table"
// in public), which by default come from its selection rules.
func (e *Emulator) SetTaskTables(ctx context.Context, taskARN string, tables ...string) error {
	if tables == nil {
		tables = []string{}
	}
	return e.Control(ctx, "POST", "dms/task", map[string]any{"taskArn": taskARN, "tables": tables}, nil)
}

// SetTableStatistics overrides the statistics of some tables of the task.
func (e *Emulator) SetTableStatistics(ctx context.Context, taskARN string, tables ...TableStatistics) error {
	return e.Control(ctx, "POST", "dms/table-statistics", map[string]any{"taskArn": taskARN, "tables": tables}, nil)
}

// FailConnection makes the connection tests of the endpoint that finish from
// now on fail with this LastFailureMessage.
func (e *Emulator) FailConnection(ctx context.Context, endpointARN, message string) error {
	return e.Control(ctx, "POST", "dms/connection", map[string]any{
		"endpointArn": endpointARN, "status": "failed", "message": message,
	}, nil)
}

// PassConnection makes the connection tests of the endpoint that finish from
// now on succeed again.
func (e *Emulator) PassConnection(ctx context.Context, endpointARN string) error {
	return e.Control(ctx, "POST", "dms/connection", map[string]any{"endpointArn": endpointARN, "status": "successful"}, nil)
}

// SetParameterApplyStatus sets the ParameterApplyStatus DescribeDBInstances
// reports for the instance's parameter group (in-sync, pending-reboot or
// applying), in the emulator's region. A reboot brings it back to in-sync.
func (e *Emulator) SetParameterApplyStatus(ctx context.Context, dbInstanceID, status string) error {
	return e.Control(ctx, "POST", "rds/parameter-apply-status", map[string]any{
		"dbInstanceIdentifier": dbInstanceID, "status": status, "region": Region,
	}, nil)
}
