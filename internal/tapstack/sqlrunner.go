package tapstack

import (
	"fmt"
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/cloudformation/iam"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// The in-VPC SQL runner (SPEC 4.3, spec.sqlRunner.mode InVPC): a task
// definition the operator starts one-off tasks of (RunTask with the script
// as its command), in the stack's cluster and private subnets, with the ECS
// security group the databases admit. It is in the template only for a
// migration that selects it: the default stack stays at SPEC's 85-90
// resources.

const (
	idSQLRunnerTaskDefinition = "SqlRunnerTaskDefinition"

	// SQLRunnerContainer is the runner's one container, whose command a
	// RunTask overrides; SQLRunnerStreamPrefix its awslogs stream prefix in
	// the stack's log group, apart from the service's "payments" streams.
	SQLRunnerContainer    = "sql-runner"
	SQLRunnerStreamPrefix = "sql-runner"
)

// Outputs the manager builds the in-VPC runner from (present only with it).
const (
	OutputSQLRunnerTaskDefinitionArn = "SqlRunnerTaskDefinitionArn"
	OutputSQLRunnerCluster           = "SqlRunnerCluster"
	OutputSQLRunnerSubnets           = "SqlRunnerSubnetIds"
	OutputSQLRunnerSecurityGroup     = "SqlRunnerSecurityGroupId"
	OutputSQLRunnerLogGroup          = "SqlRunnerLogGroup"
	OutputSQLRunnerStreamPrefix      = "SqlRunnerLogStreamPrefix"
)

// inVPCRunner reports whether the migration runs its SQL in the VPC. An
// empty mode is Direct, the CRD's default.
func (b *builder) inVPCRunner() bool { return b.spec.SQLRunner.Mode == v1alpha1.SQLRunnerInVPC }

// sqlRunner adds the runner's task definition. It reuses the service's
// execution role, which the manager's policy may pass to ECS (and no other
// role), with the master secrets added to what it may read: the service's
// own task definition names only the application secret, so its containers
// never see a master credential.
func (b *builder) sqlRunner() {
	if !b.inVPCRunner() {
		return
	}
	b.add(idSQLRunnerTaskDefinition, b.sqlRunnerTaskDefinition())
}

// sqlRunnerSecrets are the environment the runner's scripts read
// (internal/sqlrunner's prelude): each master secret's connection fields and
// the application role's credentials, resolved by the ECS agent when the
// task starts, so none passes through the manager. An existing source's
// secret may hold only the user name and password (the one RDS manages):
// its host, port and database are plain values of the environment instead
// (sqlRunnerEnvironment).
func (b *builder) sqlRunnerSecrets() []ecs.TaskDefinition_Secret {
	var out []ecs.TaskDefinition_Secret
	for _, s := range naming.Sides {
		keys := []struct{ env, key string }{{"USER", "username"}, {"PASSWORD", "password"}}
		if b.creates(s) {
			keys = append([]struct{ env, key string }{{"HOST", "host"}, {"PORT", "port"}, {"DBNAME", "dbname"}}, keys...)
		}
		for _, k := range keys {
			out = append(out, ecs.TaskDefinition_Secret{Name: sideEnv(s) + "_" + k.env,
				ValueFrom: sub(fmt.Sprintf("${%s}:%s::", b.subDBSecret(s), k.key))})
		}
	}
	return append(out,
		ecs.TaskDefinition_Secret{Name: "APP_USER", ValueFrom: b.appSecretKey("username")},
		ecs.TaskDefinition_Secret{Name: "APP_PASSWORD", ValueFrom: b.appSecretKey("password")})
}

func sideEnv(s naming.Side) string {
	return map[naming.Side]string{naming.Source: "SOURCE", naming.Target: "TARGET"}[s]
}

// sqlRunnerEnvironment is where an existing source is: the values the
// operator resolved, as the stack's parameters.
func (b *builder) sqlRunnerEnvironment() []ecs.TaskDefinition_KeyValuePair {
	if !b.existingSource() {
		return nil
	}
	env := sideEnv(naming.Source)
	return []ecs.TaskDefinition_KeyValuePair{
		{Name: ptr(env + "_HOST"), Value: ptr(b.dbAddress(naming.Source))},
		{Name: ptr(env + "_PORT"), Value: ptr(strconv.Itoa(b.dbPort()))},
		{Name: ptr(env + "_DBNAME"), Value: ptr(b.spec.Database.DatabaseName)},
	}
}

func (b *builder) sqlRunnerTaskDefinition() *ecs.TaskDefinition {
	return &ecs.TaskDefinition{
		Family: ptr(b.names.SQLRunnerTaskFamily()),
		// The smallest Fargate size: psql sessions, one at a time.
		Cpu:                     ptr("256"),
		Memory:                  ptr("512"),
		NetworkMode:             ptr("awsvpc"),
		RequiresCompatibilities: []string{"FARGATE"},
		ExecutionRoleArn:        ptr(getAtt(idTaskExecutionRole, "Arn")),
		// No task role: the scripts call no AWS API.
		ContainerDefinitions: []ecs.TaskDefinition_ContainerDefinition{{
			Name:      SQLRunnerContainer,
			Image:     b.spec.SQLRunner.Image,
			Essential: ptr(true),
			// Every run gives its own command; without one the task fails
			// rather than start a PostgreSQL server.
			Command:     []string{"sh", "-c", "echo 'the SQL runner runs only with a command'; exit 2"},
			Secrets:     b.sqlRunnerSecrets(),
			Environment: b.sqlRunnerEnvironment(),
			LogConfiguration: &ecs.TaskDefinition_LogConfiguration{
				LogDriver: "awslogs",
				Options: map[string]string{
					"awslogs-group":         ref(idServiceLogGroup),
					"awslogs-region":        b.region,
					"awslogs-stream-prefix": SQLRunnerStreamPrefix,
				},
			},
		}},
	}
}

// executionRolePolicies: the execution role injects the application secret
// into the service's container, and with the runner also the two master
// secrets into the runner's.
func (b *builder) executionRolePolicies() []iam.Role_Policy {
	out := []iam.Role_Policy{inlinePolicy("read-app-database-secret", policy(allow(
		[]string{"secretsmanager:GetSecretValue"}, b.appSecretRef())))}
	if b.inVPCRunner() {
		out = append(out, inlinePolicy("sql-runner-read-master-secrets", policy(allow(
			[]string{"secretsmanager:GetSecretValue"}, b.dbSecret(naming.Source), b.dbSecret(naming.Target)))))
	}
	return out
}

func (b *builder) sqlRunnerOutputs() {
	if !b.inVPCRunner() {
		return
	}
	b.output(OutputSQLRunnerTaskDefinitionArn, "Task definition of the in-VPC SQL runner (one-off tasks, one per SQL call or freeze)", ref(idSQLRunnerTaskDefinition))
	b.output(OutputSQLRunnerCluster, "ECS cluster the SQL runner's tasks run in", ref(idCluster))
	b.output(OutputSQLRunnerSubnets, "Private subnets of the SQL runner's tasks, comma-separated", join(",", b.subnetIDs(idPrivateSubnet)...))
	b.output(OutputSQLRunnerSecurityGroup, "Security group of the SQL runner's tasks, which the databases admit", getAtt(idEcsSecurityGroup, "GroupId"))
	b.output(OutputSQLRunnerLogGroup, "Log group of the SQL runner's container logs", ref(idServiceLogGroup))
	b.output(OutputSQLRunnerStreamPrefix, "The SQL runner's log streams: <prefix>/"+SQLRunnerContainer+"/<task id>", SQLRunnerStreamPrefix)
}
