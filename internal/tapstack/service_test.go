package tapstack

import (
	"testing"
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

// The task role grants the two DB secrets and the two buckets, nothing more.
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
	mustEqual(t, "actions", actions, []any{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "s3:ListBucket", "s3:GetObject", "s3:PutObject"})
}
