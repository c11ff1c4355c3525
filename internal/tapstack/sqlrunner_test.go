package tapstack

import (
	"fmt"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
)

var sqlRunnerOutputs = []string{OutputSQLRunnerTaskDefinitionArn, OutputSQLRunnerCluster, OutputSQLRunnerSubnets,
	OutputSQLRunnerSecurityGroup, OutputSQLRunnerLogGroup, OutputSQLRunnerStreamPrefix}

// The runner is one task definition, only for a migration that selects it:
// the default stack keeps its count, its outputs and its execution role's
// reach.
func TestSQLRunnerIsInTheStackOnlyWhenSelected(t *testing.T) {
	spec, region := variantSpec(t, inVPCRunner)
	for _, c := range []struct {
		name      string
		d         doc
		resources int
		policies  int
		present   bool
	}{
		{"direct (the default)", sampleDoc(t), 90, 1, false},
		{"in-VPC", rendered(t, synth(t, spec, region)), 91, 2, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if n := len(c.d.resources()); n != c.resources {
				t.Errorf("%d resources, want %d", n, c.resources)
			}
			if _, ok := c.d.resources()[idSQLRunnerTaskDefinition]; ok != c.present {
				t.Errorf("runner task definition present %t, want %t", ok, c.present)
			}
			outs := c.d.outputs()
			for _, k := range sqlRunnerOutputs {
				if _, ok := outs[k]; ok != c.present {
					t.Errorf("output %s present %t, want %t", k, ok, c.present)
				}
			}
			if got := len(c.d.props(t, idTaskExecutionRole)["Policies"].([]any)); got != c.policies {
				t.Errorf("execution role has %d inline policies, want %d", got, c.policies)
			}
		})
	}
}

// The runner's container holds what the runner's scripts read, each from
// the right key of the right secret, logs to the stack's log group under
// its own prefix, and runs the spec's image on Fargate with the execution
// role the manager may pass.
func TestSQLRunnerTaskDefinitionHoldsTheSecretsTheScriptsRead(t *testing.T) {
	spec, region := variantSpec(t, inVPCRunner)
	d := rendered(t, synth(t, spec, region))
	p := d.props(t, idSQLRunnerTaskDefinition)
	c := at(p, "ContainerDefinitions", 0).(map[string]any)
	mustEqual(t, "family", p["Family"], naming.New(spec.EnvironmentSuffix).TaskFamily()+"-sql-runner")
	mustEqual(t, "image", c["Image"], "registry.example.com/tools/psql:15.8")
	mustEqual(t, "container", c["Name"], SQLRunnerContainer)
	mustEqual(t, "compatibilities", p["RequiresCompatibilities"], []any{"FARGATE"})
	mustEqual(t, "network mode", p["NetworkMode"], "awsvpc")
	mustEqual(t, "execution role", p["ExecutionRoleArn"], getAttOf(idTaskExecutionRole, "Arn"))
	if _, ok := p["TaskRoleArn"]; ok {
		t.Error("the runner has a task role; its scripts call no AWS API")
	}
	mustEqual(t, "log group", at(c, "LogConfiguration", "Options", "awslogs-group"), refTo(idServiceLogGroup))
	mustEqual(t, "stream prefix", at(c, "LogConfiguration", "Options", "awslogs-stream-prefix"), SQLRunnerStreamPrefix)

	want := map[string]string{}
	for _, s := range []struct {
		env, id string
	}{{"SOURCE", idDBSecret(naming.Source)}, {"TARGET", idDBSecret(naming.Target)}} {
		for env, key := range map[string]string{"HOST": "host", "PORT": "port", "DBNAME": "dbname", "USER": "username", "PASSWORD": "password"} {
			want[s.env+"_"+env] = fmt.Sprintf("${%s}:%s::", s.id, key)
		}
	}
	want["APP_USER"], want["APP_PASSWORD"] = "${"+idAppSecret+"}:username::", "${"+idAppSecret+"}:password::"
	got := map[string]string{}
	for _, s := range c["Secrets"].([]any) {
		s := s.(map[string]any)
		got[s["Name"].(string)] = at(s, "ValueFrom", "Fn::Sub").(string)
	}
	for _, name := range sqlrunner.TaskEnvironment {
		if got[name] == "" {
			t.Errorf("the container lacks %s, which the runner's scripts read", name)
		}
	}
	mustEqual(t, "secrets", got, want)
	if env, ok := c["Environment"]; ok {
		t.Errorf("environment %v: everything the runner needs comes from the secrets", env)
	}

	role := d.props(t, idTaskExecutionRole)["Policies"].([]any)[1]
	mustEqual(t, "master secrets policy", at(role, "PolicyDocument", "Statement", 0, "Resource"),
		[]any{refTo(idDBSecret(naming.Source)), refTo(idDBSecret(naming.Target))})
	mustEqual(t, "master secrets actions", at(role, "PolicyDocument", "Statement", 0, "Action"), []any{"secretsmanager:GetSecretValue"})

	outs := d.outputs()
	mustEqual(t, "task definition output", outs[OutputSQLRunnerTaskDefinitionArn]["Value"], refTo(idSQLRunnerTaskDefinition))
	mustEqual(t, "cluster output", outs[OutputSQLRunnerCluster]["Value"], refTo(idCluster))
	mustEqual(t, "security group output", outs[OutputSQLRunnerSecurityGroup]["Value"], getAttOf(idEcsSecurityGroup, "GroupId"))
	mustEqual(t, "log group output", outs[OutputSQLRunnerLogGroup]["Value"], refTo(idServiceLogGroup))
	mustEqual(t, "stream prefix output", outs[OutputSQLRunnerStreamPrefix]["Value"], SQLRunnerStreamPrefix)
	mustEqual(t, "subnets output", at(outs[OutputSQLRunnerSubnets]["Value"], "Fn::Join", 1),
		[]any{refTo(idPrivateSubnet(0)), refTo(idPrivateSubnet(1))})
}
