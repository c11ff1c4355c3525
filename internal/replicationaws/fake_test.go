package replicationaws_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
)

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// series returns the datapoints of one metric of one task in [start, end),
// newest first as ScanBy TimestampDescending asks.
type series func(instanceID, taskID, metric string, start, end time.Time) ([]time.Time, []float64)

// fakeAWS stands in for DMS, CloudWatch, RDS and IAM. It counts every call
// and validates requests the way the real APIs would reject them. The bound on
// each call is the SDK clients' (awscfg.CallTimeout), which the fake stands in
// for; internal/awsclients tests it on the real clients.
type fakeAWS struct {
	t testing.TB

	mu    sync.Mutex
	calls map[string]int

	// DMS
	tasks       map[string]dmstypes.ReplicationTask
	describeErr error
	// describeGate, when set, holds the answer of DescribeReplicationTasks,
	// read before the wait, until closed.
	describeGate chan struct{}
	taskFilters  [][]string
	// taskPage overrides MaxRecords to exercise pagination.
	taskPage    int
	startErr    error
	started     []*dms.StartReplicationTaskInput
	stopErr     error
	stopped     []string
	tableStats  map[string][]dmstypes.TableStatistics
	instances   map[string]string // ARN → status
	connections []dmstypes.Connection
	connFilters [][]string
	testErr     error
	tested      [][2]string
	tags        map[string]map[string]string // resource ARN → tags

	// CloudWatch
	lag series
	// metricPage splits GetMetricData results into pages of this many
	// datapoints per result; 0 means one page.
	metricPage    int
	metricQueries [][]cwtypes.MetricDataQuery
	metricErr     error

	// RDS
	dbs         map[string]rdstypes.DBInstance
	params      map[string][]rdstypes.Parameter
	paramsPages int
	rebooted    []string

	// IAM: role name → trust policy document as IAM returns it
	roles map[string]string
}

func newFake(t testing.TB) *fakeAWS {
	return &fakeAWS{t: t, calls: map[string]int{}, tasks: map[string]dmstypes.ReplicationTask{}}
}

func (f *fakeAWS) client() *replicationaws.Client {
	return replicationaws.New(f, f, f, f)
}

// record counts a call; the caller holds no lock.
func (f *fakeAWS) record(_ context.Context, op string) {
	f.t.Helper()
	f.mu.Lock()
	f.calls[op]++
	f.mu.Unlock()
}

func (f *fakeAWS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeAWS) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// reset forgets the calls counted and the requests recorded so far.
func (f *fakeAWS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
	f.taskFilters, f.metricQueries, f.connFilters = nil, nil, nil
}

// page cuts items into the page the marker (an offset) points at.
func page[T any](items []T, marker *string, size int) ([]T, *string) {
	start, _ := strconv.Atoi(aws.ToString(marker))
	end := min(start+size, len(items))
	if end < len(items) {
		return items[start:end], aws.String(strconv.Itoa(end))
	}
	return items[start:end], nil
}

func (f *fakeAWS) DescribeReplicationTasks(ctx context.Context, in *dms.DescribeReplicationTasksInput, _ ...func(*dms.Options)) (*dms.DescribeReplicationTasksOutput, error) {
	f.record(ctx, "DescribeReplicationTasks")
	if !aws.ToBool(in.WithoutSettings) {
		f.t.Errorf("DescribeReplicationTasks without WithoutSettings: the settings are large and unused")
	}
	size := int(aws.ToInt32(in.MaxRecords))
	if size < 20 || size > 100 {
		f.t.Errorf("DescribeReplicationTasks MaxRecords %d outside 20..100", size)
	}
	out, gate, err := f.describeTasks(in, size)
	if gate != nil {
		<-gate
	}
	return out, err
}

func (f *fakeAWS) describeTasks(in *dms.DescribeReplicationTasksInput, size int) (*dms.DescribeReplicationTasksOutput, chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.describeErr != nil {
		return nil, f.describeGate, f.describeErr
	}
	var matched []dmstypes.ReplicationTask
	for _, flt := range in.Filters {
		if aws.ToString(flt.Name) != "replication-task-arn" {
			f.t.Errorf("DescribeReplicationTasks filter %q", aws.ToString(flt.Name))
			continue
		}
		if in.Marker == nil {
			f.taskFilters = append(f.taskFilters, slices.Clone(flt.Values))
		}
		for _, arn := range flt.Values {
			if t, ok := f.tasks[arn]; ok {
				matched = append(matched, t)
			}
		}
	}
	if len(matched) == 0 {
		return nil, f.describeGate, &dmstypes.ResourceNotFoundFault{Message: aws.String("No Tasks found matching provided filters")}
	}
	if f.taskPage > 0 {
		size = f.taskPage
	}
	items, next := page(matched, in.Marker, size)
	return &dms.DescribeReplicationTasksOutput{ReplicationTasks: items, Marker: next}, f.describeGate, nil
}

func (f *fakeAWS) StartReplicationTask(ctx context.Context, in *dms.StartReplicationTaskInput, _ ...func(*dms.Options)) (*dms.StartReplicationTaskOutput, error) {
	f.record(ctx, "StartReplicationTask")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, in)
	if f.startErr != nil {
		return nil, f.startErr
	}
	t := f.tasks[aws.ToString(in.ReplicationTaskArn)]
	t.Status = aws.String("starting")
	f.tasks[aws.ToString(in.ReplicationTaskArn)] = t
	return &dms.StartReplicationTaskOutput{}, nil
}

func (f *fakeAWS) ListTagsForResource(ctx context.Context, in *dms.ListTagsForResourceInput, _ ...func(*dms.Options)) (*dms.ListTagsForResourceOutput, error) {
	f.record(ctx, "ListTagsForResource")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &dms.ListTagsForResourceOutput{}
	for k, v := range f.tags[aws.ToString(in.ResourceArn)] {
		out.TagList = append(out.TagList, dmstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

func (f *fakeAWS) AddTagsToResource(ctx context.Context, in *dms.AddTagsToResourceInput, _ ...func(*dms.Options)) (*dms.AddTagsToResourceOutput, error) {
	f.record(ctx, "AddTagsToResource")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tags == nil {
		f.tags = map[string]map[string]string{}
	}
	arn := aws.ToString(in.ResourceArn)
	if f.tags[arn] == nil {
		f.tags[arn] = map[string]string{}
	}
	for _, t := range in.Tags {
		f.tags[arn][aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &dms.AddTagsToResourceOutput{}, nil
}

func (f *fakeAWS) RemoveTagsFromResource(ctx context.Context, in *dms.RemoveTagsFromResourceInput, _ ...func(*dms.Options)) (*dms.RemoveTagsFromResourceOutput, error) {
	f.record(ctx, "RemoveTagsFromResource")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range in.TagKeys {
		delete(f.tags[aws.ToString(in.ResourceArn)], k)
	}
	return &dms.RemoveTagsFromResourceOutput{}, nil
}

func (f *fakeAWS) StopReplicationTask(ctx context.Context, in *dms.StopReplicationTaskInput, _ ...func(*dms.Options)) (*dms.StopReplicationTaskOutput, error) {
	f.record(ctx, "StopReplicationTask")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, aws.ToString(in.ReplicationTaskArn))
	if f.stopErr != nil {
		return nil, f.stopErr
	}
	t := f.tasks[aws.ToString(in.ReplicationTaskArn)]
	t.Status = aws.String("stopping")
	f.tasks[aws.ToString(in.ReplicationTaskArn)] = t
	return &dms.StopReplicationTaskOutput{}, nil
}

func (f *fakeAWS) DescribeTableStatistics(ctx context.Context, in *dms.DescribeTableStatisticsInput, _ ...func(*dms.Options)) (*dms.DescribeTableStatisticsOutput, error) {
	f.record(ctx, "DescribeTableStatistics")
	size := int(aws.ToInt32(in.MaxRecords))
	if size < 20 || size > 500 {
		f.t.Errorf("DescribeTableStatistics MaxRecords %d outside 20..500", size)
		size = 100
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	stats, ok := f.tableStats[aws.ToString(in.ReplicationTaskArn)]
	if !ok {
		return nil, &dmstypes.ResourceNotFoundFault{Message: aws.String("task not found")}
	}
	items, next := page(stats, in.Marker, size)
	return &dms.DescribeTableStatisticsOutput{TableStatistics: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeReplicationInstances(ctx context.Context, in *dms.DescribeReplicationInstancesInput, _ ...func(*dms.Options)) (*dms.DescribeReplicationInstancesOutput, error) {
	f.record(ctx, "DescribeReplicationInstances")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out dms.DescribeReplicationInstancesOutput
	for _, flt := range in.Filters {
		if aws.ToString(flt.Name) != "replication-instance-arn" {
			f.t.Errorf("DescribeReplicationInstances filter %q", aws.ToString(flt.Name))
		}
		for _, arn := range flt.Values {
			if status, ok := f.instances[arn]; ok {
				out.ReplicationInstances = append(out.ReplicationInstances, dmstypes.ReplicationInstance{
					ReplicationInstanceArn: aws.String(arn), ReplicationInstanceStatus: aws.String(status)})
			}
		}
	}
	if len(out.ReplicationInstances) == 0 {
		return nil, &dmstypes.ResourceNotFoundFault{Message: aws.String("No replication instances found")}
	}
	return &out, nil
}

func (f *fakeAWS) DescribeConnections(ctx context.Context, in *dms.DescribeConnectionsInput, _ ...func(*dms.Options)) (*dms.DescribeConnectionsOutput, error) {
	f.record(ctx, "DescribeConnections")
	f.mu.Lock()
	defer f.mu.Unlock()
	var matched []dmstypes.Connection
	for _, flt := range in.Filters {
		if aws.ToString(flt.Name) != "endpoint-arn" {
			f.t.Errorf("DescribeConnections filter %q", aws.ToString(flt.Name))
		}
		if in.Marker == nil {
			f.connFilters = append(f.connFilters, slices.Clone(flt.Values))
		}
		for _, c := range f.connections {
			if slices.Contains(flt.Values, aws.ToString(c.EndpointArn)) {
				matched = append(matched, c)
			}
		}
	}
	if len(matched) == 0 {
		return nil, &dmstypes.ResourceNotFoundFault{Message: aws.String("No connections found")}
	}
	// One connection per page exercises pagination.
	items, next := page(matched, in.Marker, 1)
	return &dms.DescribeConnectionsOutput{Connections: items, Marker: next}, nil
}

func (f *fakeAWS) TestConnection(ctx context.Context, in *dms.TestConnectionInput, _ ...func(*dms.Options)) (*dms.TestConnectionOutput, error) {
	f.record(ctx, "TestConnection")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tested = append(f.tested, [2]string{aws.ToString(in.ReplicationInstanceArn), aws.ToString(in.EndpointArn)})
	if f.testErr != nil {
		return nil, f.testErr
	}
	return &dms.TestConnectionOutput{}, nil
}

func (f *fakeAWS) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.record(ctx, "GetMetricData")
	if n := len(in.MetricDataQueries); n == 0 || n > 500 {
		f.t.Errorf("GetMetricData with %d queries, want 1..500", n)
	}
	if in.ScanBy != cwtypes.ScanByTimestampDescending {
		f.t.Errorf("GetMetricData ScanBy %q", in.ScanBy)
	}
	start, end := aws.ToTime(in.StartTime), aws.ToTime(in.EndTime)
	if got := end.Sub(start); got != 4*time.Minute {
		f.t.Errorf("GetMetricData window %s, want 4m (four metric periods)", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.metricErr != nil {
		return nil, f.metricErr
	}
	if in.NextToken == nil {
		f.metricQueries = append(f.metricQueries, slices.Clone(in.MetricDataQueries))
	}
	offset, _ := strconv.Atoi(aws.ToString(in.NextToken))
	more := false
	seen := map[string]bool{}
	var out cloudwatch.GetMetricDataOutput
	for _, q := range in.MetricDataQueries {
		id := aws.ToString(q.Id)
		if !queryID.MatchString(id) || seen[id] {
			f.t.Errorf("GetMetricData query id %q invalid or repeated", id)
		}
		seen[id] = true
		st := q.MetricStat
		if st == nil || aws.ToInt32(st.Period) != 60 || aws.ToString(st.Stat) != "Maximum" || aws.ToString(st.Metric.Namespace) != "AWS/DMS" {
			f.t.Errorf("GetMetricData query %s: %+v", id, st)
			continue
		}
		dims := map[string]string{}
		for _, d := range st.Metric.Dimensions {
			dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		if len(dims) != 2 || dims["ReplicationInstanceIdentifier"] == "" || dims["ReplicationTaskIdentifier"] == "" {
			f.t.Errorf("GetMetricData query %s dimensions %v", id, dims)
		}
		var times []time.Time
		var values []float64
		if f.lag != nil {
			times, values = f.lag(dims["ReplicationInstanceIdentifier"], dims["ReplicationTaskIdentifier"], aws.ToString(st.Metric.MetricName), start, end)
		}
		if f.metricPage > 0 {
			lo, hi := min(offset, len(times)), min(offset+f.metricPage, len(times))
			more = more || hi < len(times)
			times, values = times[lo:hi], values[lo:hi]
		} else if offset > 0 {
			times, values = nil, nil
		}
		out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{
			Id: q.Id, Timestamps: times, Values: values, StatusCode: cwtypes.StatusCodeComplete})
	}
	if more {
		out.NextToken = aws.String(strconv.Itoa(offset + f.metricPage))
	}
	return &out, nil
}

func (f *fakeAWS) DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, _ ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	f.record(ctx, "DescribeDBInstances")
	f.mu.Lock()
	defer f.mu.Unlock()
	db, ok := f.dbs[aws.ToString(in.DBInstanceIdentifier)]
	if !ok {
		return nil, &rdstypes.DBInstanceNotFoundFault{Message: aws.String("DBInstance not found")}
	}
	return &rds.DescribeDBInstancesOutput{DBInstances: []rdstypes.DBInstance{db}}, nil
}

func (f *fakeAWS) DescribeDBParameters(ctx context.Context, in *rds.DescribeDBParametersInput, _ ...func(*rds.Options)) (*rds.DescribeDBParametersOutput, error) {
	f.record(ctx, "DescribeDBParameters")
	size := int(aws.ToInt32(in.MaxRecords))
	if size < 20 || size > 100 {
		f.t.Errorf("DescribeDBParameters MaxRecords %d outside 20..100", size)
		size = 100
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paramsPages++
	params, ok := f.params[aws.ToString(in.DBParameterGroupName)]
	if !ok {
		return nil, &rdstypes.DBParameterGroupNotFoundFault{Message: aws.String("group not found")}
	}
	items, next := page(params, in.Marker, size)
	return &rds.DescribeDBParametersOutput{Parameters: items, Marker: next}, nil
}

func (f *fakeAWS) RebootDBInstance(ctx context.Context, in *rds.RebootDBInstanceInput, _ ...func(*rds.Options)) (*rds.RebootDBInstanceOutput, error) {
	f.record(ctx, "RebootDBInstance")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rebooted = append(f.rebooted, aws.ToString(in.DBInstanceIdentifier))
	return &rds.RebootDBInstanceOutput{}, nil
}

func (f *fakeAWS) GetRole(ctx context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	f.record(ctx, "GetRole")
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, ok := f.roles[aws.ToString(in.RoleName)]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String(fmt.Sprintf("The role with name %s cannot be found.", aws.ToString(in.RoleName)))}
	}
	return &iam.GetRoleOutput{Role: &iamtypes.Role{RoleName: in.RoleName, AssumeRolePolicyDocument: aws.String(doc)}}, nil
}

// clock is a settable clock for the caches.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }
