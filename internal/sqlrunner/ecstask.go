package sqlrunner

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ECSAPI is the part of ECS the runner task needs.
type ECSAPI interface {
	RunTask(ctx context.Context, in *ecs.RunTaskInput, optFns ...func(*ecs.Options)) (*ecs.RunTaskOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

// LogsAPI is the part of CloudWatch Logs that reads the task's log.
type LogsAPI interface {
	GetLogEvents(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error)
}

// ECSTasks runs scripts in the stack's runner task definition on Fargate,
// in the private subnets with the ECS security group (which reaches the
// databases), and reads the container's awslogs stream
// (<prefix>/<container>/<task id>).
type ECSTasks struct {
	ECS  ECSAPI
	Logs LogsAPI

	Cluster, TaskDefinition, Container string
	Subnets, SecurityGroups            []string
	LogGroup, StreamPrefix             string
	// Poll paces DescribeTasks (default 2 s); LogSettle bounds the wait for
	// the log's last line after the task stopped (default 30 s: awslogs
	// delivers within seconds).
	Poll, LogSettle time.Duration
}

// RunScript starts one task with the script as its command and waits for it
// to stop (bounded by ctx).
func (e *ECSTasks) RunScript(ctx context.Context, script string) (TaskResult, error) {
	out, err := e.ECS.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(e.Cluster), TaskDefinition: aws.String(e.TaskDefinition), Count: aws.Int32(1),
		LaunchType:  ecstypes.LaunchTypeFargate,
		ClientToken: aws.String(token()),
		StartedBy:   aws.String(applicationName),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: e.Subnets, SecurityGroups: e.SecurityGroups, AssignPublicIp: ecstypes.AssignPublicIpDisabled,
		}},
		Overrides: &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{{
			Name: aws.String(e.Container), Command: []string{"sh", "-c", packScript(script)},
		}}},
	})
	if err != nil {
		return TaskResult{}, fmt.Errorf("starting the runner task: %w", err)
	}
	if len(out.Failures) > 0 {
		f := out.Failures[0]
		return TaskResult{}, fmt.Errorf("starting the runner task: %s: %s", aws.ToString(f.Reason), aws.ToString(f.Detail))
	}
	if len(out.Tasks) != 1 {
		return TaskResult{}, fmt.Errorf("starting the runner task: %d tasks started", len(out.Tasks))
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	res := TaskResult{ID: arn}
	poll := e.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	var task ecstypes.Task
	for {
		d, err := e.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.Cluster), Tasks: []string{arn}})
		if err != nil {
			return res, fmt.Errorf("reading the runner task: %w", err)
		}
		if len(d.Tasks) == 1 && aws.ToString(d.Tasks[0].LastStatus) == "STOPPED" {
			task = d.Tasks[0]
			break
		}
		if err := sleep(ctx, poll); err != nil {
			return res, fmt.Errorf("waiting for the runner task to stop: %w", err)
		}
	}
	exit := -1
	for _, c := range task.Containers {
		if aws.ToString(c.Name) == e.Container && c.ExitCode != nil {
			exit = int(*c.ExitCode)
		}
	}
	res.ExitCode = exit
	res.Lines, err = e.logs(ctx, arn, exit == 0)
	if exit < 0 {
		return res, fmt.Errorf("the container did not run (%s %s); its log ends:\n%s", task.StopCode, aws.ToString(task.StoppedReason), tail(res.Lines, logTail))
	}
	return res, err
}

// maxPlainScript is the longest script passed as it is. ECS takes at most
// 8192 characters of overrides for a RunTask, and the whole freeze is longer:
// a longer script is passed gzipped and base64-encoded, unpacked by the
// container's shell (busybox has both in the postgres alpine image).
const maxPlainScript = 4096

func packScript(script string) string {
	if len(script) <= maxPlainScript {
		return script
	}
	var b bytes.Buffer
	z, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = z.Write([]byte(script))
	_ = z.Close()
	return `exec sh -c "$(printf %s '` + base64.StdEncoding.EncodeToString(b.Bytes()) + `' | base64 -d | gunzip -c)"`
}

// logs reads the task's stream from the start, until its last line is there
// (the script's end marker) or, for a task that failed, the log settles.
func (e *ECSTasks) logs(ctx context.Context, taskARN string, complete bool) ([]string, error) {
	id := taskARN[strings.LastIndex(taskARN, "/")+1:]
	stream := e.StreamPrefix + "/" + e.Container + "/" + id
	settle := e.LogSettle
	if settle <= 0 {
		settle = 30 * time.Second
	}
	deadline := time.Now().Add(settle)
	var lines []string
	var next *string
	for {
		out, err := e.Logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(e.LogGroup), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), NextToken: next,
		})
		if err != nil && !strings.Contains(err.Error(), "ResourceNotFound") {
			return lines, fmt.Errorf("reading the runner task's log %s: %w", stream, err)
		}
		if err == nil {
			for _, ev := range out.Events {
				lines = append(lines, strings.Split(strings.TrimRight(aws.ToString(ev.Message), "\n"), "\n")...)
			}
			same := next != nil && aws.ToString(out.NextForwardToken) == aws.ToString(next)
			next = out.NextForwardToken
			if len(out.Events) > 0 && !same {
				continue // more may follow at once
			}
		}
		if parseResult(lines).ended || (!complete && len(lines) > 0 && time.Now().After(deadline.Add(-settle+5*time.Second))) {
			return lines, nil
		}
		if time.Now().After(deadline) {
			if complete {
				return lines, errors.New("the runner task's log has no end line: its last lines may be missing")
			}
			return lines, nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return lines, err
		}
	}
}
