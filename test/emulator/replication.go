package emulator

import (
	"context"
	"fmt"
	"time"
)

// What DMS and RDS decide on their own, set through the control API: task
// failures, table statistics, CDC latency, connection test results, the
// parameter apply status of a DB instance, and how fast the emulated
// transitions run.
//
// The emulated RDS instances are real PostgreSQL 15 servers, each on its own
// loopback address (127.0.0.2, 127.0.0.3, ...; Servers lists them) and a running DMS task is logical replication between
// them: the statistics, the validation and the CDC latency are measured, and
// the controls here override what is measured while they are set.

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
	Rows            int64  `json:"rows,omitempty"` // full-load rows, default the copied ones
}

// Timings are the durations of the emulated DMS transitions; a zero field keeps
// the current value. Defaults: 1 s per transition and at least 1 s per
// connection test (which really connects), no minimum full load (the real copy
// decides), metrics every second.
type Timings struct {
	// Transition is how long a task stays starting or stopping.
	Transition time.Duration
	// FullLoad is the least running time a task's full load takes (the real
	// copy may take longer).
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
// publishes to CloudWatch while it runs, instead of the measured replication
// lag, until ClearTaskLag.
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

// SetFullLoadDuration sets the least running time the task's full load takes.
func (e *Emulator) SetFullLoadDuration(ctx context.Context, taskARN string, d time.Duration) error {
	return e.Control(ctx, "POST", "dms/task", map[string]any{"taskArn": taskARN, "fullLoadSeconds": d.Seconds()}, nil)
}

// SetTaskTables replaces the tables the task's next start replicates
// ("schema.table" or "table" in public; they must exist on the source), which
// by default come from its selection rules.
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
// now on fail with this LastFailureMessage, whatever the real connection does.
func (e *Emulator) FailConnection(ctx context.Context, endpointARN, message string) error {
	return e.Control(ctx, "POST", "dms/connection", map[string]any{
		"endpointArn": endpointARN, "status": "failed", "message": message,
	}, nil)
}

// PassConnection makes the connection tests of the endpoint that finish from
// now on succeed, whatever the real connection does.
func (e *Emulator) PassConnection(ctx context.Context, endpointARN string) error {
	return e.Control(ctx, "POST", "dms/connection", map[string]any{"endpointArn": endpointARN, "status": "successful"}, nil)
}

// SetParameterApplyStatus sets the ParameterApplyStatus DescribeDBInstances
// reports for the instance's parameter group (in-sync, pending-reboot or
// applying), in the emulator's region. A reboot brings it back to in-sync.
// pending-reboot restarts the instance's server without its parameter group's
// values (e.g. wal_level=replica: "changed but not applied"); the reboot
// restarts it with them.
func (e *Emulator) SetParameterApplyStatus(ctx context.Context, dbInstanceID, status string) error {
	return e.Control(ctx, "POST", "rds/parameter-apply-status", map[string]any{
		"dbInstanceIdentifier": dbInstanceID, "status": status, "region": Region,
	}, nil)
}

// DBServer is the PostgreSQL server behind one emulated RDS instance.
type DBServer struct {
	DBInstanceIdentifier string  `json:"dbInstanceIdentifier"`
	Host                 string  `json:"host"` // its own address in 127.0.0.0/8, the instance's Endpoint.Address
	Port                 int     `json:"port"`
	MasterUsername       string  `json:"masterUsername"`
	DBName               string  `json:"dbname"`
	DataDir              string  `json:"dataDir"`
	WalLevel             string  `json:"walLevel"`
	ForceSSL             bool    `json:"forceSsl"`
	Running              bool    `json:"running"`
	LogFile              string  `json:"logFile"`
	StartupSeconds       float64 `json:"startupSeconds"`
}

// Servers lists the PostgreSQL servers behind the emulated RDS instances
// (GET /_tapstack/rds/servers). The password is the instance's master
// password, in its secret.
func (e *Emulator) Servers(ctx context.Context) ([]DBServer, error) {
	var out struct {
		Servers []DBServer `json:"servers"`
	}
	if err := e.Control(ctx, "GET", "rds/servers", nil, &out); err != nil {
		return nil, err
	}
	return out.Servers, nil
}

// Server returns the server behind one instance.
func (e *Emulator) Server(ctx context.Context, dbInstanceID string) (DBServer, error) {
	servers, err := e.Servers(ctx)
	if err != nil {
		return DBServer{}, err
	}
	for _, s := range servers {
		if s.DBInstanceIdentifier == dbInstanceID {
			return s, nil
		}
	}
	return DBServer{}, fmt.Errorf("emulator: no database server for instance %q", dbInstanceID)
}

// ClearTaskLag makes the task publish its measured lag again after SetTaskLag.
func (e *Emulator) ClearTaskLag(ctx context.Context, taskARN string) error {
	return e.Control(ctx, "POST", "dms/task", map[string]any{
		"taskArn": taskARN, "latencySource": nil, "latencyTarget": nil,
	}, nil)
}

// SetSampling sets how often running tasks are sampled (copy state, applied
// changes, lag) and validated; a zero field keeps the current value
// (defaults 1 s and 3 s).
func (e *Emulator) SetSampling(ctx context.Context, sample, validation time.Duration) error {
	in := map[string]float64{}
	if sample > 0 {
		in["sampleIntervalSeconds"] = sample.Seconds()
	}
	if validation > 0 {
		in["validationIntervalSeconds"] = validation.Seconds()
	}
	return e.Control(ctx, "POST", "dms/settings", in, nil)
}
