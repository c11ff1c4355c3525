package dmstask

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
)

// callTimeout is the client's call timeout in tests; every call the fake
// serves must carry a deadline within it.
const callTimeout = 5 * time.Second

// fakeDMS holds tasks by ARN. Like DMS, it answers a filter that matches
// nothing with ResourceNotFoundFault.
type fakeDMS struct {
	t     *testing.T
	tasks map[string]string // ARN → status
	// extra is returned besides the matches, as if the filter were ignored.
	extra       []dmstypes.ReplicationTask
	describeErr error
	stopErr     error

	filters []dmstypes.Filter
	stopped []string
}

func (f *fakeDMS) checkDeadline(ctx context.Context, op string) {
	f.t.Helper()
	if deadline, ok := ctx.Deadline(); !ok {
		f.t.Errorf("%s called without a deadline", op)
	} else if left := time.Until(deadline); left > callTimeout {
		f.t.Errorf("%s called with a deadline %s away, beyond the %s call timeout", op, left, callTimeout)
	}
}

func (f *fakeDMS) DescribeReplicationTasks(ctx context.Context, in *dms.DescribeReplicationTasksInput, _ ...func(*dms.Options)) (*dms.DescribeReplicationTasksOutput, error) {
	f.checkDeadline(ctx, "DescribeReplicationTasks")
	f.filters = append(f.filters, in.Filters...)
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	out := &dms.DescribeReplicationTasksOutput{ReplicationTasks: f.extra}
	for _, flt := range in.Filters {
		if aws.ToString(flt.Name) != "replication-task-arn" {
			continue
		}
		for _, arn := range flt.Values {
			if status, ok := f.tasks[arn]; ok {
				out.ReplicationTasks = append(out.ReplicationTasks, dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(arn), Status: aws.String(status)})
			}
		}
	}
	if len(out.ReplicationTasks) == 0 {
		return nil, &dmstypes.ResourceNotFoundFault{Message: aws.String("No Tasks found matching provided filters")}
	}
	return out, nil
}

func (f *fakeDMS) StopReplicationTask(ctx context.Context, in *dms.StopReplicationTaskInput, _ ...func(*dms.Options)) (*dms.StopReplicationTaskOutput, error) {
	f.checkDeadline(ctx, "StopReplicationTask")
	f.stopped = append(f.stopped, aws.ToString(in.ReplicationTaskArn))
	return &dms.StopReplicationTaskOutput{}, f.stopErr
}

const taskARN = "arn:aws:dms:eu-west-1:123456789012:task:ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func newClient(f *fakeDMS) *Client { return &Client{API: f, CallTimeout: callTimeout} }
