package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// InVPCClients are what the in-VPC SQL runner calls: ECS to run its one-off
// tasks and CloudWatch Logs to read them back.
type InVPCClients struct {
	ECS  sqlrunner.ECSAPI
	Logs sqlrunner.LogsAPI
	// Poll paces the reads of a running task (sqlrunner.ECSTasks' default
	// when 0).
	Poll time.Duration
}

// inVPCOutputs are the stack outputs the in-VPC runner is built from.
var inVPCOutputs = []string{
	tapstack.OutputSQLRunnerTaskDefinitionArn, tapstack.OutputSQLRunnerCluster, tapstack.OutputSQLRunnerSubnets,
	tapstack.OutputSQLRunnerSecurityGroup, tapstack.OutputSQLRunnerLogGroup, tapstack.OutputSQLRunnerStreamPrefix,
	tapstack.OutputSourceDbSecretArn, tapstack.OutputTargetDbSecretArn, tapstack.OutputAppDbSecretArn,
}

// sqlRunner is the migration's runner, as spec.sqlRunner.mode chooses it:
// the region's Direct, or an InVPC running tasks of the stack's runner task
// definition. A runner that cannot be had yet (the stack update that adds
// the task definition has not finished) fails every call with the reason,
// so the steps that need no SQL go on and the ones that do say why not.
func sqlRunner(pm *paymentsv1alpha1.PaymentMigration, aws AWSClients) sqlrunner.Runner {
	r, err := newSQLRunner(pm, aws)
	if err != nil {
		return unavailableRunner{err}
	}
	return r
}

func newSQLRunner(pm *paymentsv1alpha1.PaymentMigration, aws AWSClients) (sqlrunner.Runner, error) {
	switch mode := pm.Spec.SQLRunner.Mode; mode {
	case "", paymentsv1alpha1.SQLRunnerDirect:
		if aws.SQL == nil {
			return nil, errors.New("spec.sqlRunner.mode Direct: the manager has no direct SQL runner")
		}
		return aws.SQL, nil
	case paymentsv1alpha1.SQLRunnerInVPC:
		if aws.InVPC == nil || aws.InVPC.ECS == nil || aws.InVPC.Logs == nil {
			return nil, errors.New("spec.sqlRunner.mode InVPC: the manager has no ECS and CloudWatch Logs clients to run the runner's tasks")
		}
		var out map[string]string
		if pm.Status.Stack != nil {
			out = pm.Status.Stack.Outputs
		}
		var missing []string
		for _, k := range inVPCOutputs {
			if out[k] == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("spec.sqlRunner.mode InVPC: the stack has no %s output yet (the runner's task definition comes with the stack update the mode asks for)", strings.Join(missing, ", "))
		}
		return &sqlrunner.InVPC{
			Tasks: &sqlrunner.ECSTasks{
				ECS: aws.InVPC.ECS, Logs: aws.InVPC.Logs,
				Cluster: out[tapstack.OutputSQLRunnerCluster], TaskDefinition: out[tapstack.OutputSQLRunnerTaskDefinitionArn],
				Container: tapstack.SQLRunnerContainer,
				Subnets:   strings.Split(out[tapstack.OutputSQLRunnerSubnets], ","), SecurityGroups: []string{out[tapstack.OutputSQLRunnerSecurityGroup]},
				LogGroup: out[tapstack.OutputSQLRunnerLogGroup], StreamPrefix: out[tapstack.OutputSQLRunnerStreamPrefix],
				Poll: aws.InVPC.Poll,
			},
			SourceSecretARN: out[tapstack.OutputSourceDbSecretArn], TargetSecretARN: out[tapstack.OutputTargetDbSecretArn],
			AppSecretARN: out[tapstack.OutputAppDbSecretArn],
		}, nil
	default:
		return nil, fmt.Errorf("spec.sqlRunner.mode %q is neither Direct nor InVPC", mode)
	}
}

// unavailableRunner is a runner that cannot run: every call returns why.
type unavailableRunner struct{ err error }

var _ sqlrunner.Runner = unavailableRunner{}

func (u unavailableRunner) Inspect(context.Context, sqlrunner.Database, sqlrunner.InspectRequest) (pgcatalog.Catalog, error) {
	return pgcatalog.Catalog{}, u.err
}
func (u unavailableRunner) ApplyDDL(context.Context, sqlrunner.Database, []string) error {
	return u.err
}
func (u unavailableRunner) EnsureAppRole(context.Context, sqlrunner.Database, sqlrunner.AppRole) error {
	return u.err
}
func (u unavailableRunner) EnsureWatermarkTable(context.Context, sqlrunner.Database, string) error {
	return u.err
}
func (u unavailableRunner) FenceState(context.Context, sqlrunner.Database, string) (bool, error) {
	return false, u.err
}
func (u unavailableRunner) SetFence(context.Context, sqlrunner.Database, string, bool) error {
	return u.err
}
func (u unavailableRunner) ConfirmFence(context.Context, sqlrunner.Database, string) (bool, error) {
	return false, u.err
}
func (u unavailableRunner) DrainSessions(context.Context, sqlrunner.Database, string, time.Duration) (sqlrunner.DrainResult, error) {
	return sqlrunner.DrainResult{}, u.err
}
func (u unavailableRunner) WriteWatermark(context.Context, sqlrunner.Database, string, string) error {
	return u.err
}
func (u unavailableRunner) WaitWatermark(context.Context, sqlrunner.Database, string, string, time.Duration) (bool, error) {
	return false, u.err
}
func (u unavailableRunner) SyncSequences(context.Context, sqlrunner.Database, sqlrunner.Database, string, int64) (int, error) {
	return 0, u.err
}
func (u unavailableRunner) CreateSlot(context.Context, sqlrunner.Database, string, string) (string, error) {
	return "", u.err
}
func (u unavailableRunner) MarkFlipPoint(context.Context, sqlrunner.Database, string, string) (string, error) {
	return "", u.err
}
func (u unavailableRunner) DropSlot(context.Context, sqlrunner.Database, string) error { return u.err }
func (u unavailableRunner) SlotExists(context.Context, sqlrunner.Database, string) (bool, error) {
	return false, u.err
}
func (u unavailableRunner) LongestWriteTransaction(context.Context, sqlrunner.Database) (time.Duration, error) {
	return 0, u.err
}
func (u unavailableRunner) ReplicationSettings(context.Context, sqlrunner.Database) (pgcatalog.Settings, error) {
	return pgcatalog.Settings{}, u.err
}
func (u unavailableRunner) LogicalSlots(context.Context, sqlrunner.Database) ([]sqlrunner.Slot, error) {
	return nil, u.err
}
