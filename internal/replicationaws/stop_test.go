package replicationaws_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// These tests came with StopIfRunning from internal/dmstask, the DMS client of
// the deletion path before it folded into this one.

const stopARN = "arn:aws:dms:eu-west-1:123456789012:task:ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func TestStopIfRunningStopsOnlyARunningTask(t *testing.T) {
	tests := []struct {
		status      string // "" means no such task
		wantStopped bool
		wantStop    bool
	}{
		{status: "creating", wantStopped: true},
		{status: "ready", wantStopped: true},
		{status: "starting", wantStop: true},
		{status: "running", wantStop: true},
		{status: "stopping", wantStopped: false},
		{status: "stopped", wantStopped: true},
		{status: "failed", wantStopped: true},
		{status: "modifying", wantStopped: true},
		{status: "deleting", wantStopped: true},
		{status: "testing", wantStopped: true},
		{status: "moving", wantStopped: true},
		{status: "failed-move", wantStopped: true},
		{status: "resuming", wantStop: true},
		{status: "", wantStopped: true},
	}
	for _, tt := range tests {
		name := tt.status
		if name == "" {
			name = "no task"
		}
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			if tt.status != "" {
				f.tasks[stopARN] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(stopARN), Status: aws.String(tt.status)}
			}
			stopped, err := f.client().StopIfRunning(context.Background(), stopARN)
			if err != nil {
				t.Fatalf("StopIfRunning: %v", err)
			}
			if stopped != tt.wantStopped {
				t.Errorf("stopped = %t, want %t", stopped, tt.wantStopped)
			}
			var wantStops []string
			if tt.wantStop {
				wantStops = []string{stopARN}
			}
			if !reflect.DeepEqual(f.stopped, wantStops) {
				t.Errorf("stopped tasks %v, want %v", f.stopped, wantStops)
			}
			if want := [][]string{{stopARN}}; !reflect.DeepEqual(f.taskFilters, want) {
				t.Errorf("task filters %v, want only replication-task-arn = %s", f.taskFilters, stopARN)
			}
		})
	}
}

func TestStopIfRunningFindsTheTaskAmongOthers(t *testing.T) {
	f := newFake(t)
	other := stopARN + "OTHER"
	f.tasks[other] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(other), Status: aws.String("running")}
	f.tasks[stopARN] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(stopARN), Status: aws.String("stopped")}
	stopped, err := f.client().StopIfRunning(context.Background(), stopARN)
	if err != nil || !stopped || len(f.stopped) != 0 {
		t.Errorf("StopIfRunning = %t, %v, stopping %v; want the stopped task reported and nothing stopped", stopped, err, f.stopped)
	}
}

func TestStopIfRunningErrors(t *testing.T) {
	tests := []struct {
		name        string
		describeErr error
		stopErr     error
		wantErr     string
	}{
		{name: "describing fails", describeErr: errors.New("throttled"), wantErr: "describing replication task"},
		{name: "stopping fails", stopErr: errors.New("InvalidResourceStateFault"), wantErr: "stopping replication task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.tasks[stopARN] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(stopARN), Status: aws.String("running")}
			f.describeErr, f.stopErr = tt.describeErr, tt.stopErr
			stopped, err := f.client().StopIfRunning(context.Background(), stopARN)
			if stopped || err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), stopARN) {
				t.Errorf("StopIfRunning = %t, %v; want false and an error naming the task containing %q", stopped, err, tt.wantErr)
			}
		})
	}
}

// The deletion path reads the task afresh, and a stop it makes drops the
// batched read, so the replication step does not see the old status either.
func TestStopIfRunningReadsAfreshAndInvalidates(t *testing.T) {
	f := newFake(t)
	f.tasks[stopARN] = dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(stopARN), Status: aws.String("running")}
	c := f.client()
	ctx := context.Background()
	if task, err := c.Task(ctx, stopARN); err != nil || task.Status != replication.StatusRunning {
		t.Fatalf("Task = %+v, %v; want running", task, err)
	}
	stopped, err := c.StopIfRunning(ctx, stopARN)
	if err != nil || stopped {
		t.Fatalf("StopIfRunning = %t, %v; want a stop requested", stopped, err)
	}
	if got := f.count("DescribeReplicationTasks"); got != 2 {
		t.Errorf("DescribeReplicationTasks called %d times, want 2: StopIfRunning must not use the batched read", got)
	}
	if task, err := c.Task(ctx, stopARN); err != nil || task.Status != replication.StatusStopping {
		t.Errorf("Task after the stop = %+v, %v; want stopping", task, err)
	}
}
