package replicationaws

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/smithy-go"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// tasksPerCall is how many task ARNs one DescribeReplicationTasks filter
// carries. DMS documents no limit on the values of a filter, but a page holds at
// most 100 tasks (MaxRecords), so larger filters would only add pages while
// growing the request without bound.
const tasksPerCall = 100

// tableStatsPage is DescribeTableStatistics' largest page.
const tableStatsPage = 500

// Task describes the replication task with this ARN, from a read shared with
// every task of the region asked for recently; Status "" when DMS has no such
// task.
//
// A task the region poller watches (WatchTask) is served from the poller's
// last read, up to a task poll interval old, while the poller keeps up.
func (c *Client) Task(ctx context.Context, arn string) (replication.Task, error) {
	now, maxAge := c.now(), c.maxAge()
	if c.polled(arn, now) {
		maxAge = max(maxAge, c.taskPollInterval()+c.pollInterval())
	}
	t, err := c.tasks.get(ctx, arn, now, maxAge, c.describeTasks)
	if err != nil {
		return replication.Task{}, err
	}
	c.poll.sawTask(arn, t)
	t.ARN = arn
	return t, nil
}

// inTransition reports task statuses that change within seconds; caching them
// would hold a starting task as "starting" for MaxAge and skip the phases
// after it.
func inTransition(t replication.Task) bool {
	switch t.Status {
	case replication.StatusStarting, replication.StatusStopping, replication.StatusCreating,
		replication.StatusModifying, replication.StatusTesting, replication.StatusMoving, replication.StatusDeleting:
		return true
	}
	return false
}

// describeTasks reads the tasks with these ARNs; a task DMS does not know maps
// to a Task with no status.
func (c *Client) describeTasks(ctx context.Context, arns []string) (map[string]replication.Task, error) {
	out := make(map[string]replication.Task, len(arns))
	var errs []error
	for chunk := range slices.Chunk(arns, tasksPerCall) {
		tasks, err := c.describeTaskChunk(ctx, chunk)
		if err != nil {
			errs = append(errs, fmt.Errorf("describing %d replication tasks: %w", len(chunk), err))
			continue
		}
		for _, arn := range chunk {
			out[arn] = tasks[arn]
		}
	}
	return out, errors.Join(errs...)
}

// describeTaskChunk reads the tasks with these ARNs, at most tasksPerCall of
// them; a task DMS does not know is absent from the map.
func (c *Client) describeTaskChunk(ctx context.Context, arns []string) (map[string]replication.Task, error) {
	tasks := map[string]replication.Task{}
	pages := dms.NewDescribeReplicationTasksPaginator(c.DMS, &dms.DescribeReplicationTasksInput{
		Filters:         []dmstypes.Filter{{Name: aws.String("replication-task-arn"), Values: arns}},
		WithoutSettings: aws.Bool(true),
		MaxRecords:      aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		// DMS answers a filter that matches nothing with this fault.
		var notFound *dmstypes.ResourceNotFoundFault
		if errors.As(err, &notFound) {
			return tasks, nil
		}
		if err != nil {
			return nil, err
		}
		for _, t := range page.ReplicationTasks {
			tasks[aws.ToString(t.ReplicationTaskArn)] = taskFromSDK(t)
		}
	}
	return tasks, nil
}

func taskFromSDK(t dmstypes.ReplicationTask) replication.Task {
	out := replication.Task{
		ARN:                aws.ToString(t.ReplicationTaskArn),
		Status:             aws.ToString(t.Status),
		StopReason:         aws.ToString(t.StopReason),
		LastFailureMessage: aws.ToString(t.LastFailureMessage),
		EverStarted:        t.ReplicationTaskStartDate != nil,
	}
	if s := t.ReplicationTaskStats; s != nil {
		// Any date in the statistics is DMS's record of a run too.
		out.EverStarted = out.EverStarted || s.StartDate != nil || s.FreshStartDate != nil || s.StopDate != nil || s.FullLoadStartDate != nil
		out.FullLoadPercent = s.FullLoadProgressPercent
		out.TablesLoaded = s.TablesLoaded
		out.TablesLoading = s.TablesLoading
		out.TablesQueued = s.TablesQueued
		out.TablesErrored = s.TablesErrored
	}
	return out
}

// StartTask starts (start-replication) or resumes (resume-processing) a task.
// Any other action is refused: reload-target, in particular, would wipe the
// target, and nothing in the operator asks for it.
func (c *Client) StartTask(ctx context.Context, arn string, how replication.TaskAction) error {
	var kind dmstypes.StartReplicationTaskTypeValue
	switch how {
	case replication.StartReplication:
		kind = dmstypes.StartReplicationTaskTypeValueStartReplication
	case replication.ResumeProcessing:
		kind = dmstypes.StartReplicationTaskTypeValueResumeProcessing
	default:
		return fmt.Errorf("starting replication task %s: %q is not a way to start a task (want %q or %q)",
			arn, how, replication.StartReplication, replication.ResumeProcessing)
	}
	// The cached status predates the start; drop it even when the call fails,
	// since DMS may have acted on a request that timed out.
	defer c.tasks.invalidate(arn)
	if _, err := c.DMS.StartReplicationTask(ctx, &dms.StartReplicationTaskInput{
		ReplicationTaskArn:       aws.String(arn),
		StartReplicationTaskType: kind,
	}); err != nil {
		return fmt.Errorf("starting replication task %s (%s): %w", arn, how, err)
	}
	return nil
}

// StartTag reads the task's first-start tag (replication.StartTagKey); ""
// when it has none.
func (c *Client) StartTag(ctx context.Context, arn string) (string, error) {
	out, err := c.DMS.ListTagsForResource(ctx, &dms.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("reading the tags of replication task %s: %w", arn, err)
	}
	for _, tag := range out.TagList {
		if aws.ToString(tag.Key) == replication.StartTagKey {
			return aws.ToString(tag.Value), nil
		}
	}
	return "", nil
}

// TagStart writes the first-start tag on the task, before its first start.
func (c *Client) TagStart(ctx context.Context, arn, value string) error {
	if _, err := c.DMS.AddTagsToResource(ctx, &dms.AddTagsToResourceInput{
		ResourceArn: aws.String(arn),
		Tags:        []dmstypes.Tag{{Key: aws.String(replication.StartTagKey), Value: aws.String(value)}},
	}); err != nil {
		return fmt.Errorf("tagging replication task %s with %s before its first start: %w", arn, replication.StartTagKey, err)
	}
	return nil
}

// UntagStart removes the first-start tag: DMS refused the start it announced.
func (c *Client) UntagStart(ctx context.Context, arn string) error {
	if _, err := c.DMS.RemoveTagsFromResource(ctx, &dms.RemoveTagsFromResourceInput{
		ResourceArn: aws.String(arn), TagKeys: []string{replication.StartTagKey},
	}); err != nil {
		return fmt.Errorf("removing %s from replication task %s after DMS refused its start: %w", replication.StartTagKey, arn, err)
	}
	return nil
}

// Refused reports whether err is DMS refusing a request (a client fault such
// as InvalidResourceStateFault, or throttling): the request did not take
// effect. Any other error (a timeout, a server fault) leaves the outcome
// unknown.
func Refused(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "Throttling", "RequestLimitExceeded":
		return true
	}
	return ae.ErrorFault() == smithy.FaultClient
}

// StartTaskAt starts a CDC-only task for the first time, reading changes
// from cdcStartPosition (an LSN, or the slot the source endpoint names).
// Only the reverse path starts a task this way, once.
func (c *Client) StartTaskAt(ctx context.Context, arn, cdcStartPosition string) error {
	if cdcStartPosition == "" {
		return fmt.Errorf("starting replication task %s: no CDC start position", arn)
	}
	defer c.tasks.invalidate(arn)
	if _, err := c.DMS.StartReplicationTask(ctx, &dms.StartReplicationTaskInput{
		ReplicationTaskArn:       aws.String(arn),
		StartReplicationTaskType: dmstypes.StartReplicationTaskTypeValueStartReplication,
		CdcStartPosition:         aws.String(cdcStartPosition),
	}); err != nil {
		return fmt.Errorf("starting replication task %s at %s: %w", arn, cdcStartPosition, err)
	}
	return nil
}

// StopTask stops a running task.
func (c *Client) StopTask(ctx context.Context, arn string) error {
	defer c.tasks.invalidate(arn)
	if _, err := c.DMS.StopReplicationTask(ctx, &dms.StopReplicationTaskInput{ReplicationTaskArn: aws.String(arn)}); err != nil {
		return fmt.Errorf("stopping replication task %s: %w", arn, err)
	}
	return nil
}

// TableStatistics lists the per-table statistics of a task. It is not batched:
// DescribeTableStatistics reads one task per call.
func (c *Client) TableStatistics(ctx context.Context, arn string) ([]replication.TableStats, error) {
	var stats []replication.TableStats
	pages := dms.NewDescribeTableStatisticsPaginator(c.DMS, &dms.DescribeTableStatisticsInput{
		ReplicationTaskArn: aws.String(arn),
		MaxRecords:         aws.Int32(tableStatsPage),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing table statistics of %s: %w", arn, err)
		}
		for _, t := range page.TableStatistics {
			stats = append(stats, replication.TableStats{
				Schema:          aws.ToString(t.SchemaName),
				Table:           aws.ToString(t.TableName),
				TableState:      aws.ToString(t.TableState),
				ValidationState: aws.ToString(t.ValidationState),
				Failed:          t.ValidationFailedRecords,
				Pending:         t.ValidationPendingRecords,
				Suspended:       t.ValidationSuspendedRecords,
			})
		}
	}
	return stats, nil
}

// movesData reports whether a task status means DMS is moving data (or about
// to), so the task must be stopped before the stack that holds it can be
// deleted.
func movesData(status string) bool {
	switch status {
	case replication.StatusRunning, replication.StatusStarting, "resuming":
		return true
	}
	return false
}

// StopIfRunning stops the task when it runs and reports whether it is stopped
// (or gone) now, so the caller knows whether to wait. It reads the task
// afresh, not from the batched read: the deletion path acts on what DMS says
// now.
func (c *Client) StopIfRunning(ctx context.Context, arn string) (stopped bool, err error) {
	tasks, err := c.describeTaskChunk(ctx, []string{arn})
	if err != nil {
		return false, fmt.Errorf("describing replication task %s: %w", arn, err)
	}
	task, exists := tasks[arn]
	switch {
	case !exists:
		return true, nil
	case task.Status == replication.StatusStopping:
		return false, nil
	case !movesData(task.Status):
		return true, nil
	}
	if err := c.StopTask(ctx, arn); err != nil {
		return false, err
	}
	return false, nil
}
