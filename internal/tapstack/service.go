package tapstack

import (
	"fmt"
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation/applicationautoscaling"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/cloudformation/elasticloadbalancingv2"
	"github.com/awslabs/goformation/v7/cloudformation/logs"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Service layer: the payment service on ECS Fargate behind an internet-facing
// ALB. spec.service.port is the one port of the service: container, target
// group, listener, security-group rules and the Route 53 health check all use it.

const (
	idCluster             = "EcsCluster"
	idServiceLogGroup     = "ServiceLogGroup"
	idTaskExecutionRole   = "TaskExecutionRole"
	idTaskRole            = "TaskRole"
	idTaskDefinition      = "TaskDefinition"
	idService             = "EcsService"
	idLoadBalancer        = "LoadBalancer"
	idTargetGroup         = "TargetGroup"
	idListener            = "Listener"
	idScalableTarget      = "ServiceScalableTarget"
	idCPUScalingPolicy    = "ServiceCpuScalingPolicy"
	idMemoryScalingPolicy = "ServiceMemoryScalingPolicy"

	containerName     = "payments"
	logRetentionDays  = 30
	scalingCooldown   = 60
	healthGracePeriod = 60
)

func (b *builder) service() {
	b.add(idCluster, &ecs.Cluster{
		ClusterName: ptr(b.names.Cluster()),
		// Container Insights publishes RunningTaskCount, which the ECS alarm watches.
		ClusterSettings: []ecs.Cluster_ClusterSettings{{Name: ptr("containerInsights"), Value: ptr("enabled")}},
	})
	b.add(idServiceLogGroup, &logs.LogGroup{LogGroupName: ptr(b.names.LogGroup()), RetentionInDays: ptr(logRetentionDays)})
	b.add(idTaskExecutionRole, role(b.names.ExecutionRole(),
		"ECS agent: pull the image, write container logs, inject the service's database credentials",
		trust("ecs-tasks.amazonaws.com"),
		[]string{managedPolicy("service-role/AmazonECSTaskExecutionRolePolicy")},
		b.executionRolePolicies()...))
	b.add(idTaskRole, role(b.names.TaskRole(),
		"Payment service: read and write the two buckets",
		trust("ecs-tasks.amazonaws.com"), nil,
		inlinePolicy("payments-data-access", b.taskPolicy())))
	b.add(idTaskDefinition, b.taskDefinition())
	b.loadBalancing()
	b.add(idService, b.ecsService())
	b.autoScaling()
	b.sqlRunner()
}

// taskPolicy grants exactly the two buckets. No master secret: the service
// writes as its own role (SPEC 4.2a), since the cutover fences that role and
// must leave the master user free to replicate and drain; credentials it could
// read it could also use to write past the fence.
func (b *builder) taskPolicy() policyDocument {
	var buckets, objects []string
	for _, s := range naming.Sides {
		buckets = append(buckets, b.bucketARN(s, ""))
		objects = append(objects, b.bucketARN(s, "/*"))
	}
	return policy(
		allow([]string{"s3:ListBucket"}, buckets...),
		allow([]string{"s3:GetObject", "s3:PutObject"}, objects...),
	)
}

func (b *builder) taskDefinition() *ecs.TaskDefinition {
	svc := b.spec.Service
	env := []ecs.TaskDefinition_KeyValuePair{
		// The writer record, never an instance address: the flip then moves
		// the service by name resolution, and a session the fence ends
		// reconnects to whichever database accepts writes.
		{Name: ptr("DB_HOST"), Value: ptr(b.writerHost())},
		{Name: ptr("DB_PORT"), Value: ptr(strconv.Itoa(b.dbPort()))},
		{Name: ptr("DB_NAME"), Value: ptr(b.spec.Database.DatabaseName)},
		{Name: ptr("SOURCE_BUCKET"), Value: ptr(b.bucketRef(naming.Source))},
		{Name: ptr("TARGET_BUCKET"), Value: ptr(b.bucketRef(naming.Target))},
	}
	// The ECS agent resolves these with the execution role when the task
	// starts; the task role never sees a secret.
	secrets := []ecs.TaskDefinition_Secret{
		{Name: "DB_USER", ValueFrom: b.appSecretKey("username")},
		{Name: "DB_PASSWORD", ValueFrom: b.appSecretKey("password")},
	}
	return &ecs.TaskDefinition{
		Family:                  ptr(b.names.TaskFamily()),
		Cpu:                     ptr(strconv.Itoa(int(svc.CPU))),
		Memory:                  ptr(strconv.Itoa(int(svc.MemoryMiB))),
		NetworkMode:             ptr("awsvpc"),
		RequiresCompatibilities: []string{"FARGATE"},
		ExecutionRoleArn:        ptr(getAtt(idTaskExecutionRole, "Arn")),
		TaskRoleArn:             ptr(getAtt(idTaskRole, "Arn")),
		ContainerDefinitions: []ecs.TaskDefinition_ContainerDefinition{{
			Name:         containerName,
			Image:        svc.Image,
			Essential:    ptr(true),
			PortMappings: []ecs.TaskDefinition_PortMapping{{ContainerPort: ptr(int(svc.Port)), Protocol: ptr("tcp")}},
			Environment:  env,
			Secrets:      secrets,
			LogConfiguration: &ecs.TaskDefinition_LogConfiguration{
				LogDriver: "awslogs",
				Options: map[string]string{
					"awslogs-group":         ref(idServiceLogGroup),
					"awslogs-region":        b.region,
					"awslogs-stream-prefix": "payments",
				},
			},
		}},
	}
}

// appSecretKey is the ECS valueFrom of one JSON key of the app secret
// (<arn>:<key>:<version stage>:<version id>, empty for the current version).
func (b *builder) appSecretKey(key string) string {
	return sub(fmt.Sprintf("${%s}:%s::", b.subAppSecret(), key))
}

func (b *builder) loadBalancing() {
	port := int(b.spec.Service.Port)
	b.add(idLoadBalancer, &elasticloadbalancingv2.LoadBalancer{
		Name:           ptr(b.names.LoadBalancer()),
		Type:           ptr("application"),
		Scheme:         ptr("internet-facing"),
		Subnets:        b.subnetIDs(idPublicSubnet),
		SecurityGroups: []string{getAtt(idAlbSecurityGroup, "GroupId")},
		LoadBalancerAttributes: []elasticloadbalancingv2.LoadBalancer_LoadBalancerAttribute{
			{Key: ptr("deletion_protection.enabled"), Value: ptr("false")}, // dev/test: deletable
			{Key: ptr("routing.http.drop_invalid_header_fields.enabled"), Value: ptr("true")},
		},
		// Every public subnet's default route goes through the gateway attachment.
		AWSCloudFormationDependsOn: []string{idPublicDefaultRoute},
	})
	b.add(idTargetGroup, &elasticloadbalancingv2.TargetGroup{
		Name:                       ptr(b.names.TargetGroup()),
		Port:                       ptr(port),
		Protocol:                   ptr("HTTP"),
		TargetType:                 ptr("ip"), // Fargate tasks register by IP (awsvpc)
		VpcId:                      ptr(ref(idVPC)),
		HealthCheckEnabled:         ptr(true),
		HealthCheckProtocol:        ptr("HTTP"),
		HealthCheckPort:            ptr("traffic-port"),
		HealthCheckPath:            ptr(b.spec.Service.HealthCheckPath),
		HealthCheckIntervalSeconds: ptr(15),
		HealthyThresholdCount:      ptr(2),
		UnhealthyThresholdCount:    ptr(3),
		Matcher:                    &elasticloadbalancingv2.TargetGroup_Matcher{HttpCode: ptr("200-399")},
		TargetGroupAttributes: []elasticloadbalancingv2.TargetGroup_TargetGroupAttribute{
			{Key: ptr("deregistration_delay.timeout_seconds"), Value: ptr("30")},
		},
	})
	b.add(idListener, &elasticloadbalancingv2.Listener{
		LoadBalancerArn: ref(idLoadBalancer),
		Port:            ptr(port),
		Protocol:        ptr("HTTP"),
		DefaultActions:  []elasticloadbalancingv2.Listener_Action{{Type: "forward", TargetGroupArn: ptr(ref(idTargetGroup))}},
	})
}

func (b *builder) ecsService() *ecs.Service {
	svc := b.spec.Service
	return &ecs.Service{
		ServiceName:                   ptr(b.names.Service()),
		Cluster:                       ptr(ref(idCluster)),
		TaskDefinition:                ptr(ref(idTaskDefinition)),
		LaunchType:                    ptr("FARGATE"),
		DesiredCount:                  ptr(int(svc.DesiredCount)),
		HealthCheckGracePeriodSeconds: ptr(healthGracePeriod),
		PropagateTags:                 ptr("SERVICE"),
		EnableECSManagedTags:          ptr(true),
		DeploymentConfiguration: &ecs.Service_DeploymentConfiguration{
			MinimumHealthyPercent:    ptr(100), // zero downtime during deployments
			MaximumPercent:           ptr(200),
			DeploymentCircuitBreaker: &ecs.Service_DeploymentCircuitBreaker{Enable: true, Rollback: true},
		},
		NetworkConfiguration: &ecs.Service_NetworkConfiguration{AwsvpcConfiguration: &ecs.Service_AwsVpcConfiguration{
			AssignPublicIp: ptr("DISABLED"),
			Subnets:        b.subnetIDs(idPrivateSubnet),
			SecurityGroups: []string{getAtt(idEcsSecurityGroup, "GroupId")},
		}},
		LoadBalancers: []ecs.Service_LoadBalancer{{
			ContainerName:  ptr(containerName),
			ContainerPort:  ptr(int(svc.Port)),
			TargetGroupArn: ptr(ref(idTargetGroup)),
		}},
		// ECS refuses a target group that no listener attaches to a load balancer yet.
		AWSCloudFormationDependsOn: []string{idListener},
	}
}

func (b *builder) autoScaling() {
	svc := b.spec.Service
	b.add(idScalableTarget, &applicationautoscaling.ScalableTarget{
		ServiceNamespace:  "ecs",
		ScalableDimension: "ecs:service:DesiredCount",
		// service/<cluster>/<service>; the references also order it after the service.
		ResourceId:  sub(fmt.Sprintf("service/${%s}/${%s.Name}", idCluster, idService)),
		MinCapacity: int(svc.MinCapacity),
		MaxCapacity: int(svc.MaxCapacity),
	})
	b.add(idCPUScalingPolicy, b.targetTracking(b.names.Service()+"-cpu", "ECSServiceAverageCPUUtilization", svc.CPUTargetPercent))
	b.add(idMemoryScalingPolicy, b.targetTracking(b.names.Service()+"-memory", "ECSServiceAverageMemoryUtilization", svc.MemoryTargetPercent))
}

func (b *builder) targetTracking(name, metric string, target int32) *applicationautoscaling.ScalingPolicy {
	return &applicationautoscaling.ScalingPolicy{
		PolicyName:      name,
		PolicyType:      "TargetTrackingScaling",
		ScalingTargetId: ptr(ref(idScalableTarget)),
		TargetTrackingScalingPolicyConfiguration: &applicationautoscaling.ScalingPolicy_TargetTrackingScalingPolicyConfiguration{
			PredefinedMetricSpecification: &applicationautoscaling.ScalingPolicy_PredefinedMetricSpecification{PredefinedMetricType: metric},
			TargetValue:                   float64(target),
			ScaleInCooldown:               ptr(scalingCooldown),
			ScaleOutCooldown:              ptr(scalingCooldown),
		},
	}
}
