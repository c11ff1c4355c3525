package controllers

import (
	"context"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// ReplicationAWS reads and drives DMS and what surrounds it (RDS parameters,
// IAM roles, CloudWatch metrics). Reads are cheap to repeat: implementations
// batch and cache them across the migrations of a region.
type ReplicationAWS interface {
	// Task describes the replication task with this ARN; Status "" when absent.
	Task(ctx context.Context, arn string) (replication.Task, error)
	// StartTask starts (start-replication) or resumes (resume-processing) a task.
	StartTask(ctx context.Context, arn string, how replication.TaskAction) error
	// StartTaskAt starts a CDC-only task for the first time at a CDC start
	// position (the reverse path, at the slot the cutover created).
	StartTaskAt(ctx context.Context, arn, cdcStartPosition string) error
	// StartTag reads the task's first-start tag (replication.StartTagKey), ""
	// when it has none; TagStart writes it before the first start, and
	// UntagStart takes it back when DMS refused that start.
	StartTag(ctx context.Context, arn string) (string, error)
	TagStart(ctx context.Context, arn, value string) error
	UntagStart(ctx context.Context, arn string) error
	// StopTask stops a running task.
	StopTask(ctx context.Context, arn string) error
	// TableStatistics lists the per-table statistics of a task.
	TableStatistics(ctx context.Context, arn string) ([]replication.TableStats, error)
	// Lag reads the latest CDCLatencySource/CDCLatencyTarget datapoints of a
	// task, by the replication instance identifier and the task's resource id
	// (the last part of its ARN), the dimensions DMS publishes them under.
	Lag(ctx context.Context, instanceID, taskID string) (replication.LagSample, error)
	// Preflight gathers what the preflight checks read.
	Preflight(ctx context.Context, in replication.PreflightTargets) (replication.PreflightObservation, error)
	// TestConnection starts a connection test from the instance to an endpoint.
	TestConnection(ctx context.Context, instanceARN, endpointARN string) error
	// RebootDB reboots an RDS instance (to apply a pending parameter).
	RebootDB(ctx context.Context, dbInstanceID string) error
}
