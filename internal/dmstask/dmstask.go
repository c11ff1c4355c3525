// Package dmstask reads and drives the AWS DMS replication task of a migration.
package dmstask

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
)

// API is the part of the DMS client this package uses.
type API interface {
	DescribeReplicationTasks(context.Context, *dms.DescribeReplicationTasksInput, ...func(*dms.Options)) (*dms.DescribeReplicationTasksOutput, error)
	StopReplicationTask(context.Context, *dms.StopReplicationTaskInput, ...func(*dms.Options)) (*dms.StopReplicationTaskOutput, error)
}

// Client is the DMS external client.
type Client struct {
	API         API
	CallTimeout time.Duration
}

// Task is a replication task as DMS reports it.
type Task struct {
	Exists bool
	ARN    string
	Status string
}

// Observe reads the task with the given ARN.
func (c *Client) Observe(ctx context.Context, arn string) (Task, error) {
	callCtx, cancel := c.call(ctx)
	defer cancel()
	out, err := c.API.DescribeReplicationTasks(callCtx, &dms.DescribeReplicationTasksInput{
		Filters:         []dmstypes.Filter{{Name: aws.String("replication-task-arn"), Values: []string{arn}}},
		WithoutSettings: aws.Bool(true),
		MaxRecords:      aws.Int32(20),
	})
	var notFound *dmstypes.ResourceNotFoundFault
	if errors.As(err, &notFound) {
		return Task{}, nil
	}
	if err != nil {
		return Task{}, fmt.Errorf("describing replication task %s: %w", arn, err)
	}
	for _, t := range out.ReplicationTasks {
		if aws.ToString(t.ReplicationTaskArn) == arn {
			return Task{Exists: true, ARN: arn, Status: aws.ToString(t.Status)}, nil
		}
	}
	return Task{}, nil
}

// Running reports whether a task status means DMS is moving data (or about to),
// so it must be stopped before the stack that holds it can be deleted.
func Running(status string) bool {
	switch status {
	case "running", "starting", "resuming":
		return true
	}
	return false
}

// StopIfRunning stops the task when it runs and reports whether it is stopped
// (or gone) now, so the caller knows whether to wait.
func (c *Client) StopIfRunning(ctx context.Context, arn string) (stopped bool, err error) {
	task, err := c.Observe(ctx, arn)
	if err != nil || !task.Exists {
		return err == nil, err
	}
	switch {
	case task.Status == "stopping":
		return false, nil
	case !Running(task.Status):
		return true, nil
	}
	callCtx, cancel := c.call(ctx)
	defer cancel()
	if _, err := c.API.StopReplicationTask(callCtx, &dms.StopReplicationTaskInput{ReplicationTaskArn: aws.String(arn)}); err != nil {
		return false, fmt.Errorf("stopping replication task %s: %w", arn, err)
	}
	return false, nil
}

func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := c.CallTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return context.WithTimeout(ctx, timeout)
}
