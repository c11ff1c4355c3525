// Package replicationaws reads and drives DMS and what surrounds it (RDS
// parameters, IAM roles, CloudWatch metrics) for the migrations of one region.
// The reads every migration repeats each time it samples (task status, CDC
// latency) are batched: one call serves every migration of the region. It is
// the operator's one DMS client: the deletion path stops tasks through it too.
// Each call is bounded by the SDK clients' middleware (awscfg.CallTimeout).
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

// DefaultMaxAge is how stale a batched read may be. Shorter than the shortest
// sampling interval (60 s while replicating) so each sample sees a fresh read,
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
	ListTagsForResource(context.Context, *dms.ListTagsForResourceInput, ...func(*dms.Options)) (*dms.ListTagsForResourceOutput, error)
	AddTagsToResource(context.Context, *dms.AddTagsToResourceInput, ...func(*dms.Options)) (*dms.AddTagsToResourceOutput, error)
	RemoveTagsFromResource(context.Context, *dms.RemoveTagsFromResourceInput, ...func(*dms.Options)) (*dms.RemoveTagsFromResourceOutput, error)
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

	// MaxAge is how old a batched task or lag read may be; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock of the caches and the metric window; nil means time.Now.
	Now func() time.Time
	// PollInterval and TaskPollInterval are the cadences of the region
	// poller (see WatchTask); 0 means DefaultPollInterval and
	// DefaultTaskPollInterval.
	PollInterval, TaskPollInterval time.Duration

	tasks batcher[string, replication.Task]
	lags  batcher[lagKey, replication.LagSample]
	poll  poller
	// lifetime bounds the poller's loop and the batched fetches (StopWith).
	lifetime context.Context
}

// New returns a Client over the SDK clients of one region. The calls are
// bounded by the SDK clients' own middleware (awscfg.CallTimeout).
func New(dmsAPI DMSAPI, cw CloudWatchAPI, rdsAPI RDSAPI, iamAPI IAMAPI) *Client {
	c := &Client{DMS: dmsAPI, CloudWatch: cw, RDS: rdsAPI, IAM: iamAPI}
	c.tasks.volatile = inTransition
	return c
}

// StopWith ends the batched fetches in flight, and refuses new ones, once ctx
// is done (the manager stopping). A fetch outlives the caller that started it,
// because other callers wait for it too; without a lifetime it would outlive
// the manager as well.
//
// It is also the lifetime of the region poller: WatchTask starts its loop
// only when the client has one, and the loop ends with it.
func (c *Client) StopWith(ctx context.Context) {
	c.tasks.lifetime, c.lags.lifetime, c.lifetime = ctx, ctx, ctx
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
