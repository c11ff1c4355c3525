package tapstack

import (
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// spec.service.port is the one port: container, target group, listener, security
// group rules and the Route 53 health check must all agree, for any port.
func TestServicePortIsAlignedEverywhere(t *testing.T) {
	for _, port := range []int32{80, 8080} {
		spec := sampleSpec(t)
		spec.Service.Port = port
		d := rendered(t, synth(t, spec, sampleRegion))
		places := map[string]any{
			"container port":       at(d.props(t, idTaskDefinition), "ContainerDefinitions", 0, "PortMappings", 0, "ContainerPort"),
			"service LB port":      at(d.props(t, idService), "LoadBalancers", 0, "ContainerPort"),
			"target group":         d.props(t, idTargetGroup)["Port"],
			"listener":             d.props(t, idListener)["Port"],
			"ALB ingress from":     at(d.props(t, idAlbSecurityGroup), "SecurityGroupIngress", 0, "FromPort"),
			"ALB ingress to":       at(d.props(t, idAlbSecurityGroup), "SecurityGroupIngress", 0, "ToPort"),
			"ALB->ECS egress":      d.props(t, "AlbToEcsEgress")["FromPort"],
			"ALB->ECS ingress":     d.props(t, "AlbToEcsIngress")["ToPort"],
			"Route 53 health port": at(d.props(t, idHealthCheck), "HealthCheckConfig", "Port"),
		}
		for where, got := range places {
			if js(got) != js(port) {
				t.Errorf("port %d: %s = %s", port, where, js(got))
			}
		}
		mustEqual(t, "health check port", d.props(t, idTargetGroup)["HealthCheckPort"], "traffic-port")
	}
}

func TestTargetGroupHealthCheckUsesTheServicePath(t *testing.T) {
	spec, region := variantSpec(t, variants[1])
	for _, c := range []struct {
		name string
		d    doc
		path string
	}{{"sample", sampleDoc(t), "/"}, {"custom", rendered(t, synth(t, spec, region)), "/healthz"}} {
		p := c.d.props(t, idTargetGroup)
		mustEqual(t, c.name+" path", p["HealthCheckPath"], c.path)
		mustEqual(t, c.name+" target type", p["TargetType"], "ip")
	}
}

func TestFargateTaskRunsTheImageWithItsSize(t *testing.T) {
	p := sampleDoc(t).props(t, idTaskDefinition)
	mustEqual(t, "image", at(p, "ContainerDefinitions", 0, "Image"), "nginx:latest")
	mustEqual(t, "cpu/memory", []any{p["Cpu"], p["Memory"]}, []any{"256", "512"})
	mustEqual(t, "compatibilities", p["RequiresCompatibilities"], []any{"FARGATE"})
	mustEqual(t, "network mode", p["NetworkMode"], "awsvpc")
	mustEqual(t, "logs", at(p, "ContainerDefinitions", 0, "LogConfiguration", "Options", "awslogs-group"), refTo(idServiceLogGroup))
}

func TestServiceRunsPrivatelyWithDesiredCountBehindTheListener(t *testing.T) {
	d := sampleDoc(t)
	r := d.resource(t, idService)
	p := r["Properties"]
	mustEqual(t, "DesiredCount", at(p, "DesiredCount"), 2)
	mustEqual(t, "AssignPublicIp", at(p, "NetworkConfiguration", "AwsvpcConfiguration", "AssignPublicIp"), "DISABLED")
	mustEqual(t, "Subnets", at(p, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets"), []any{refTo("PrivateSubnet1"), refTo("PrivateSubnet2")})
	mustEqual(t, "DependsOn", r["DependsOn"], []string{idListener})
	mustEqual(t, "ALB scheme", d.props(t, idLoadBalancer)["Scheme"], "internet-facing")
	mustEqual(t, "ALB name", d.props(t, idLoadBalancer)["Name"], "alb-target-pr6185")
}

func TestAutoScalingTracksCPU70AndMemory80Between2And10(t *testing.T) {
	d := sampleDoc(t)
	st := d.props(t, idScalableTarget)
	mustEqual(t, "capacity", []any{st["MinCapacity"], st["MaxCapacity"]}, []any{2, 10})
	mustEqual(t, "ResourceId", st["ResourceId"], map[string]any{"Fn::Sub": "service/${EcsCluster}/${EcsService.Name}"})
	for id, want := range map[string][]any{
		idCPUScalingPolicy:    {"ECSServiceAverageCPUUtilization", 70},
		idMemoryScalingPolicy: {"ECSServiceAverageMemoryUtilization", 80},
	} {
		cfg := d.props(t, id)["TargetTrackingScalingPolicyConfiguration"]
		mustEqual(t, id, []any{at(cfg, "PredefinedMetricSpecification", "PredefinedMetricType"), at(cfg, "TargetValue")}, want)
	}
}

// The task role grants the two buckets, nothing more. It no longer reads the
// master secrets: the service writes as its own role, with its own secret,
// never as the master user (SPEC 4.2a), because the cutover fences that role
// and needs the master user free for replication and the drain watermark.
func TestTaskRoleIsLeastPrivilege(t *testing.T) {
	stmts := at(sampleDoc(t).props(t, idTaskRole), "Policies", 0, "PolicyDocument", "Statement").([]any)
	var actions []any
	for _, s := range stmts {
		mustEqual(t, "Effect", at(s, "Effect"), "Allow")
		for _, r := range at(s, "Resource").([]any) {
			if r == "*" {
				t.Errorf("statement %s grants every resource", js(s))
			}
		}
		actions = append(actions, at(s, "Action").([]any)...)
	}
	mustEqual(t, "actions", actions, []any{"s3:ListBucket", "s3:GetObject", "s3:PutObject"})
}

// No role of the service, nor its task definition, reaches a master secret.
func TestServiceNeverHoldsTheMasterCredentials(t *testing.T) {
	d := sampleDoc(t)
	for _, id := range []string{idTaskRole, idTaskExecutionRole, idTaskDefinition} {
		text := js(d.props(t, id))
		for _, s := range naming.Sides {
			if strings.Contains(text, `"`+idDBSecret(s)+`"`) || strings.Contains(text, "${"+idDBSecret(s)+"}") {
				t.Errorf("%s refers to the %s master secret: %s", id, s, text)
			}
		}
	}
}

// The execution role injects the app secret's keys into the container and may
// read that one secret only.
func TestExecutionRoleReadsOnlyTheAppSecret(t *testing.T) {
	p := sampleDoc(t).props(t, idTaskExecutionRole)
	mustEqual(t, "managed", p["ManagedPolicyArns"],
		[]any{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}})
	mustEqual(t, "statements", at(p, "Policies", 0, "PolicyDocument", "Statement"), []any{map[string]any{
		"Effect": "Allow", "Action": []any{"secretsmanager:GetSecretValue"}, "Resource": []any{refTo(idAppSecret)}}})
}

// The service reaches its database through the writer record only, as its own
// role; the credentials come from the app secret's JSON keys.
func TestTaskDefinitionGetsTheWriterRecordAndTheAppRoleCredentials(t *testing.T) {
	spec, region := variantSpec(t, noReversePath)
	for _, c := range []struct {
		name, host string
		d          doc
	}{
		{"sample", "db.payments.internal", sampleDoc(t)},
		{"custom writer record", "primary.payments.internal", rendered(t, synth(t, spec, region))},
	} {
		t.Run(c.name, func(t *testing.T) {
			container := at(c.d.props(t, idTaskDefinition), "ContainerDefinitions", 0)
			env := map[string]any{}
			for _, kv := range at(container, "Environment").([]any) {
				env[at(kv, "Name").(string)] = at(kv, "Value")
			}
			for k, v := range map[string]any{"DB_HOST": c.host, "DB_PORT": "5432", "DB_NAME": "payments"} {
				mustEqual(t, "env "+k, env[k], v)
			}
			for k := range env {
				if strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD") {
					t.Errorf("environment carries %s; credentials belong in Secrets", k)
				}
			}
			mustEqual(t, "Secrets", at(container, "Secrets"), []any{
				map[string]any{"Name": "DB_USER", "ValueFrom": map[string]any{"Fn::Sub": "${" + idAppSecret + "}:username::"}},
				map[string]any{"Name": "DB_PASSWORD", "ValueFrom": map[string]any{"Fn::Sub": "${" + idAppSecret + "}:password::"}},
			})
		})
	}
}
