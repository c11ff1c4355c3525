package controllers

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// runnerOutputs are a stack's outputs with the in-VPC runner.
func runnerOutputs() map[string]string {
	return map[string]string{
		tapstack.OutputSQLRunnerTaskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/payments-task-target-x-sql-runner:1",
		tapstack.OutputSQLRunnerCluster:           "ecs-cluster-target-x",
		tapstack.OutputSQLRunnerSubnets:           "subnet-a,subnet-b",
		tapstack.OutputSQLRunnerSecurityGroup:     "sg-ecs",
		tapstack.OutputSQLRunnerLogGroup:          "/ecs/payments-x",
		tapstack.OutputSQLRunnerStreamPrefix:      "sql-runner",
		tapstack.OutputSourceDbSecretArn:          "arn:source",
		tapstack.OutputTargetDbSecretArn:          "arn:target",
		tapstack.OutputAppDbSecretArn:             "arn:app",
	}
}

func TestSQLRunnerFollowsTheSpecAndTheStackOutputs(t *testing.T) {
	direct := &sqlrunner.Direct{}
	clients := &InVPCClients{ECS: &ecs.Client{}, Logs: &cloudwatchlogs.Client{}, Poll: 100 * time.Millisecond}
	without := func(k string) map[string]string { out := runnerOutputs(); delete(out, k); return out }
	cases := []struct {
		name    string
		mode    paymentsv1alpha1.SQLRunnerMode
		outputs map[string]string
		inVPC   *InVPCClients
		err     string // the runner's calls fail with this; "" for a working runner
	}{
		{"empty mode is Direct", "", nil, nil, ""},
		{"Direct", paymentsv1alpha1.SQLRunnerDirect, nil, clients, ""},
		{"InVPC from the outputs", paymentsv1alpha1.SQLRunnerInVPC, runnerOutputs(), clients, ""},
		{"InVPC before the stack has the runner", paymentsv1alpha1.SQLRunnerInVPC, without(tapstack.OutputSQLRunnerTaskDefinitionArn), clients, "no SqlRunnerTaskDefinitionArn output yet"},
		{"InVPC without the app secret", paymentsv1alpha1.SQLRunnerInVPC, without(tapstack.OutputAppDbSecretArn), clients, "AppDbSecretArn"},
		{"InVPC without ECS clients", paymentsv1alpha1.SQLRunnerInVPC, runnerOutputs(), nil, "no ECS and CloudWatch Logs clients"},
		{"unknown mode", "Bastion", runnerOutputs(), clients, `"Bastion" is neither Direct nor InVPC`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pm := &paymentsv1alpha1.PaymentMigration{}
			pm.Spec.SQLRunner.Mode = tc.mode
			pm.Status.Stack = &paymentsv1alpha1.StackStatus{Outputs: tc.outputs}
			r := sqlRunner(pm, AWSClients{SQL: direct, InVPC: tc.inVPC})
			if tc.err != "" {
				_, err := r.FenceState(context.Background(), sqlrunner.Database{Side: "source", SecretARN: "arn:source"}, "app")
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "spec.sqlRunner.mode") {
					t.Fatalf("a call through the runner: %v, want an error naming spec.sqlRunner.mode and saying %q", err, tc.err)
				}
				return
			}
			switch tc.mode {
			case "", paymentsv1alpha1.SQLRunnerDirect:
				if r != sqlrunner.Runner(direct) {
					t.Fatalf("runner %T, want the region's Direct", r)
				}
			case paymentsv1alpha1.SQLRunnerInVPC:
				v, ok := r.(*sqlrunner.InVPC)
				if !ok {
					t.Fatalf("runner %T, want *sqlrunner.InVPC", r)
				}
				tasks := v.Tasks.(*sqlrunner.ECSTasks)
				want := &sqlrunner.ECSTasks{ECS: clients.ECS, Logs: clients.Logs,
					Cluster: "ecs-cluster-target-x", TaskDefinition: runnerOutputs()[tapstack.OutputSQLRunnerTaskDefinitionArn],
					Container: tapstack.SQLRunnerContainer, Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroups: []string{"sg-ecs"},
					LogGroup: "/ecs/payments-x", StreamPrefix: "sql-runner", Poll: 100 * time.Millisecond}
				if !reflect.DeepEqual(tasks, want) {
					t.Errorf("tasks %+v\nwant %+v", tasks, want)
				}
				if v.SourceSecretARN != "arn:source" || v.TargetSecretARN != "arn:target" || v.AppSecretARN != "arn:app" {
					t.Errorf("secrets %q %q %q", v.SourceSecretARN, v.TargetSecretARN, v.AppSecretARN)
				}
			}
		})
	}
}

// Every call of a runner that cannot run says why, whatever the call.
func TestUnavailableRunnerFailsEveryCall(t *testing.T) {
	why := errors.New("spec.sqlRunner.mode InVPC: not yet")
	u := unavailableRunner{why}
	ctx, db := context.Background(), sqlrunner.Database{}
	_, e1 := u.Inspect(ctx, db, sqlrunner.InspectRequest{})
	_, e2 := u.ReplicationSettings(ctx, db)
	_, e3 := u.LongestWriteTransaction(ctx, db)
	_, e4 := u.LogicalSlots(ctx, db)
	_, e5 := u.MarkFlipPoint(ctx, db, "s", "p")
	for i, err := range []error{e1, e2, e3, e4, e5, u.ApplyDDL(ctx, db, nil), u.EnsureAppRole(ctx, db, sqlrunner.AppRole{}), u.SetFence(ctx, db, "r", true), u.DropSlot(ctx, db, "s")} {
		if !errors.Is(err, why) {
			t.Errorf("call %d: %v", i, err)
		}
	}
}
