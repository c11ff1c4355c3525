package dmstask

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
)

func TestObserveFindsTheTaskByARN(t *testing.T) {
	other := dmstypes.ReplicationTask{ReplicationTaskArn: aws.String(taskARN + "OTHER"), Status: aws.String("running")}
	tests := []struct {
		name        string
		tasks       map[string]string
		extra       []dmstypes.ReplicationTask
		describeErr error
		want        Task
		wantErr     string
	}{
		{name: "existing task", tasks: map[string]string{taskARN: "running"}, want: Task{Exists: true, ARN: taskARN, Status: "running"}},
		{name: "the task among others", tasks: map[string]string{taskARN: "stopped"}, extra: []dmstypes.ReplicationTask{other},
			want: Task{Exists: true, ARN: taskARN, Status: "stopped"}},
		{name: "not found fault means no task", want: Task{}},
		{name: "only another task means no task", extra: []dmstypes.ReplicationTask{other}, want: Task{}},
		{name: "other errors are errors", describeErr: errors.New("AccessDeniedException: not authorized"), wantErr: "not authorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDMS{t: t, tasks: tt.tasks, extra: tt.extra, describeErr: tt.describeErr}
			got, err := newClient(f).Observe(context.Background(), taskARN)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), taskARN) {
					t.Errorf("error = %v, want one naming the task and containing %q", err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Errorf("Observe = %+v, %v; want %+v", got, err, tt.want)
			}
			wantFilter := []dmstypes.Filter{{Name: aws.String("replication-task-arn"), Values: []string{taskARN}}}
			if !reflect.DeepEqual(f.filters, wantFilter) {
				t.Errorf("filters = %+v, want only replication-task-arn = %s", f.filters, taskARN)
			}
		})
	}
}

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
			f := &fakeDMS{t: t, tasks: map[string]string{}}
			if tt.status != "" {
				f.tasks[taskARN] = tt.status
			}
			stopped, err := newClient(f).StopIfRunning(context.Background(), taskARN)
			if err != nil {
				t.Fatalf("StopIfRunning: %v", err)
			}
			if stopped != tt.wantStopped {
				t.Errorf("stopped = %t, want %t", stopped, tt.wantStopped)
			}
			if Running(tt.status) != tt.wantStop {
				t.Errorf("Running(%q) = %t, want %t", tt.status, Running(tt.status), tt.wantStop)
			}
			var wantStops []string
			if tt.wantStop {
				wantStops = []string{taskARN}
			}
			if !reflect.DeepEqual(f.stopped, wantStops) {
				t.Errorf("stopped tasks %v, want %v", f.stopped, wantStops)
			}
		})
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
			f := &fakeDMS{t: t, tasks: map[string]string{taskARN: "running"}, describeErr: tt.describeErr, stopErr: tt.stopErr}
			stopped, err := newClient(f).StopIfRunning(context.Background(), taskARN)
			if stopped || err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), taskARN) {
				t.Errorf("StopIfRunning = %t, %v; want false and an error naming the task containing %q", stopped, err, tt.wantErr)
			}
		})
	}
}
