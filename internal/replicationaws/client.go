// Package replicationaws reads and drives DMS and what surrounds it (RDS
// parameters, IAM roles, CloudWatch metrics) for the migrations of one region.
// The reads every migration repeats on its sampling cadence (task status, CDC
// latency) are batched: one call serves every migration of the region.
package replicationaws

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// DefaultMaxAge is how stale a batched read may be. Shorter than the fastest
// sampling cadence (60 s while replicating) so each sample sees a fresh read,
// long enough that many migrations share one.
const DefaultMaxAge = 20 * time.Second

// DMSAPI is the part of the DMS client this package uses.
type DMSAPI interface {
	DescribeReplicationTasks(context.Context, *dms.DescribeReplicationTasksInput, ...func(*dms.Options)) (*dms.DescribeReplicationTasksOutput, error)
	StartReplicationTask(context.Context, *dms.StartReplicationTaskInput, ...func(*dms.Options)) (*dms.StartReplicationTaskOutput, error)
	StopReplicationTask(context.Context, *dms.StopReplicationTaskInput, ...func(*dms.Options)) (*dms.StopReplicationTaskOutput, error)
	DescribeTableStatistics(context.Context, *dms.DescribeTableStatisticsInput, ...func(*dms.Options)) (*dms.DescribeTableStatisticsOutput, error)
	DescribeReplicationInstances(context.Context, *dms.DescribeReplicationInstancesInput, ...func(*dms.Options)) (*dms.DescribeReplicationInstancesOutput, error)
	DescribeConnections(context.Context, *dms.DescribeConnectionsInput, ...func(*dms.Options)) (*dms.DescribeConnectionsOutput, error)
	TestConnection(context.Context, *dms.TestConnectionInput, ...func(*dms.Options)) (*dms.TestConnectionOutput, error)
}

// CloudWatchAPI is the part of the CloudWatch client this package uses.
type CloudWatchAPI interface {
	GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// RDSAPI is the part of the RDS client this package uses.
type RDSAPI interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBParameters(context.Context, *rds.DescribeDBParametersInput, ...func(*rds.Options)) (*rds.DescribeDBParametersOutput, error)
	RebootDBInstance(context.Context, *rds.RebootDBInstanceInput, ...func(*rds.Options)) (*rds.RebootDBInstanceOutput, error)
}

// IAMAPI is the part of the IAM client this package uses.
type IAMAPI interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// Client is the replication side of one region. The zero value of every
// tuning field means its default; the caches need no initialisation.
type Client struct {
	DMS        DMSAPI
	CloudWatch CloudWatchAPI
	RDS        RDSAPI
	IAM        IAMAPI

	// CallTimeout bounds each API call; 0 means 30 s.
	CallTimeout time.Duration
	// MaxAge is how old a batched task or lag read may be; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock of the caches and the metric window; nil means time.Now.
	Now func() time.Time

	tasks batcher[string, replication.Task]
	lags  batcher[lagKey, replication.LagSample]
}

// New returns a Client over the SDK clients of one region.
func New(dmsAPI DMSAPI, cw CloudWatchAPI, rdsAPI RDSAPI, iamAPI IAMAPI, callTimeout time.Duration) *Client {
	c := &Client{DMS: dmsAPI, CloudWatch: cw, RDS: rdsAPI, IAM: iamAPI, CallTimeout: callTimeout}
	c.tasks.volatile = inTransition
	return c
}

func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := c.CallTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return context.WithTimeout(ctx, timeout)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) maxAge() time.Duration {
	if c.MaxAge > 0 {
		return c.MaxAge
	}
	return DefaultMaxAge
}
