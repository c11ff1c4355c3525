package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// deployed is what the resource checks know about the stack under test.
type deployed struct {
	names   naming.Names
	outputs map[string]string
}

// resourceChecks inspect the deployed TapStack through the AWS APIs of each
// service, one requirement of SPEC section 3 each.
var resourceChecks = []struct {
	name  string
	check func(t *testing.T, d deployed)
}{
	{"VPCSpansTwoAvailabilityZonesWithPublicAndPrivateSubnets", checkSubnets},
	{"NATGatewayPerAvailabilityZone", checkNATGateways},
	{"FourSecurityGroupsWithLeastPrivilegeRules", checkSecurityGroups},
	{"DatabasesArePostgres14EncryptedWithBackups", checkDatabases},
	{"SourceParameterGroupEnablesLogicalReplicationAndForcesSSL", checkParameterGroups},
	{"SecretsCarryGeneratedPasswordAndConnectionDetails", checkSecrets},
	{"DMSReplicationInstanceOnEngine354PrivateSubnets", checkDMSInstance},
	{"DMSEndpointsUseSecretsManagerAndRequireSSL", checkDMSEndpoints},
	{"DMSTaskIsFullLoadAndCDCWithValidationAndLogging", checkDMSTask},
	{"DMSServiceRolesTrustBothServicePrincipals", checkDMSRoles},
	{"BucketsAreVersionedEncryptedAndPrivate", checkBucketBasics},
	{"BucketsMoveToGlacierAfter90Days", checkBucketLifecycle},
	{"BucketPoliciesDenyInsecureTransport", checkBucketPolicies},
	{"SourceBucketReplicatesToTarget", checkBucketReplication},
	{"ECSServiceRunsNginxOnPort80", checkECS},
	{"LoadBalancerListenerAndTargetGroupOnPort80", checkLoadBalancer},
	{"ServiceScalesOnCPU70AndMemory80", checkAutoScaling},
	{"PrivateHostedZoneWithWeightedRecords", checkHostedZone},
	{"Route53HealthCheckProbesTheALB", checkHealthCheck},
	{"DashboardHasAtLeastSixWidgets", checkDashboard},
	{"AlarmsWatchLagDatabaseServiceAndALB", checkAlarms},
	{"AlarmTopicHasTheEmailSubscription", checkTopic},
	{"RequiredTagsOnTheStackAndItsResources", checkTags},
}

func checkSubnets(t *testing.T, d deployed) {
	out, err := ec2.NewFromConfig(awsCfg).DescribeSubnets(callCtx(t), &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{d.outputs["VpcId"]}}}})
	if err != nil {
		t.Fatal(err)
	}
	zones, public := map[string]bool{}, 0
	for _, s := range out.Subnets {
		zones[aws.ToString(s.AvailabilityZone)] = true
		if aws.ToBool(s.MapPublicIpOnLaunch) {
			public++
		}
	}
	if len(out.Subnets) != 4 || len(zones) != 2 {
		t.Errorf("%d subnets in %d zones, want 4 in 2", len(out.Subnets), len(zones))
	}
	for _, key := range []string{"PublicSubnetIds", "PrivateSubnetIds"} {
		if ids := strings.Split(d.outputs[key], ","); len(ids) != 2 {
			t.Errorf("%s = %q, want two subnets", key, d.outputs[key])
		}
	}
}

func checkNATGateways(t *testing.T, d deployed) {
	out, err := ec2.NewFromConfig(awsCfg).DescribeNatGateways(callCtx(t), &ec2.DescribeNatGatewaysInput{
		Filter: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{d.outputs["VpcId"]}}}})
	if err != nil {
		t.Fatal(err)
	}
	subnets := map[string]bool{}
	for _, g := range out.NatGateways {
		subnets[aws.ToString(g.SubnetId)] = true
	}
	public := strings.Split(d.outputs["PublicSubnetIds"], ",")
	if len(out.NatGateways) != 2 || !subnets[public[0]] || !subnets[public[1]] {
		t.Errorf("NAT gateways %d in subnets %v, want one in each public subnet %v", len(out.NatGateways), subnets, public)
	}
}

func checkSecurityGroups(t *testing.T, d deployed) {
	out, err := ec2.NewFromConfig(awsCfg).DescribeSecurityGroups(callCtx(t), &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{d.outputs["VpcId"]}}}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ec2types.SecurityGroup{}
	for _, g := range out.SecurityGroups {
		byName[aws.ToString(g.GroupName)] = g
	}
	tiers := map[string]string{}
	for _, tier := range []string{"alb", "ecs", "rds", "dms"} {
		g, ok := byName[d.names.SecurityGroup(tier)]
		if !ok {
			t.Fatalf("security group %s missing; have %v", d.names.SecurityGroup(tier), keys(byName))
		}
		tiers[tier] = aws.ToString(g.GroupId)
	}
	ingress := func(tier string) []ec2types.IpPermission { return byName[d.names.SecurityGroup(tier)].IpPermissions }

	// ALB: the service port from the Route 53 health checkers' AWS-managed
	// prefix list of the region and from the VPC, nothing else.
	pls, err := ec2.NewFromConfig(awsCfg).DescribeManagedPrefixLists(callCtx(t), &ec2.DescribeManagedPrefixListsInput{
		Filters: []ec2types.Filter{{Name: aws.String("prefix-list-name"), Values: []string{tapstack.Route53HealthChecksPrefixList(awsCfg.Region)}}}})
	if err != nil || len(pls.PrefixLists) != 1 {
		t.Fatalf("prefix list %s: %v %v", tapstack.Route53HealthChecksPrefixList(awsCfg.Region), pls, err)
	}
	vpcs, err := ec2.NewFromConfig(awsCfg).DescribeVpcs(callCtx(t), &ec2.DescribeVpcsInput{VpcIds: []string{d.outputs["VpcId"]}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("VPC %s: %v", d.outputs["VpcId"], err)
	}
	prefixList, vpcCIDR := aws.ToString(pls.PrefixLists[0].PrefixListId), aws.ToString(vpcs.Vpcs[0].CidrBlock)
	if p := ingress("alb"); len(p) != 1 || aws.ToInt32(p[0].FromPort) != 80 || aws.ToInt32(p[0].ToPort) != 80 ||
		len(p[0].IpRanges) != 1 || aws.ToString(p[0].IpRanges[0].CidrIp) != vpcCIDR || len(p[0].Ipv6Ranges) != 0 ||
		len(p[0].PrefixListIds) != 1 || aws.ToString(p[0].PrefixListIds[0].PrefixListId) != prefixList || len(p[0].UserIdGroupPairs) != 0 {
		t.Errorf("ALB ingress = %s, want 80 from the VPC %s and the Route 53 health checkers' prefix list %s only", describePerms(p), vpcCIDR, prefixList)
	}
	// ECS: the service port from the ALB's group only.
	if p := ingress("ecs"); len(p) != 1 || aws.ToInt32(p[0].FromPort) != 80 || len(p[0].IpRanges) != 0 || !fromGroups(p[0], tiers["alb"]) {
		t.Errorf("ECS ingress = %s, want 80 from the ALB group only", describePerms(p))
	}
	// RDS: 5432 from DMS and ECS only.
	p := ingress("rds")
	var groups []string
	for _, perm := range p {
		if aws.ToInt32(perm.FromPort) != 5432 || aws.ToInt32(perm.ToPort) != 5432 || len(perm.IpRanges) != 0 {
			t.Errorf("RDS ingress has a rule other than 5432 from a group: %s", describePerms(p))
		}
		for _, pair := range perm.UserIdGroupPairs {
			groups = append(groups, aws.ToString(pair.GroupId))
		}
	}
	slices.Sort(groups)
	want := []string{tiers["dms"], tiers["ecs"]}
	slices.Sort(want)
	if !slices.Equal(groups, want) {
		t.Errorf("RDS accepts 5432 from %v, want DMS and ECS %v", groups, want)
	}
	if p := ingress("dms"); len(p) != 0 {
		t.Errorf("DMS group accepts inbound traffic: %s", describePerms(p))
	}
}

func checkDatabases(t *testing.T, d deployed) {
	for _, side := range naming.Sides {
		out, err := rds.NewFromConfig(awsCfg).DescribeDBInstances(callCtx(t), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(d.names.DBInstance(side))})
		if err != nil {
			t.Fatalf("%s: %v", side, err)
		}
		db := out.DBInstances[0]
		got := fmt.Sprintf("%s %s %s %d encrypted=%v backups=%d public=%v deletionProtection=%v",
			aws.ToString(db.Engine), strings.Split(aws.ToString(db.EngineVersion), ".")[0], aws.ToString(db.DBInstanceClass),
			aws.ToInt32(db.AllocatedStorage), aws.ToBool(db.StorageEncrypted), aws.ToInt32(db.BackupRetentionPeriod),
			aws.ToBool(db.PubliclyAccessible), aws.ToBool(db.DeletionProtection))
		want := "postgres 14 db.r5.large 100 encrypted=true backups=7 public=false deletionProtection=false"
		if got != want {
			t.Errorf("%s database: %s, want %s", side, got, want)
		}
		var groups []string
		for _, g := range db.DBParameterGroups {
			groups = append(groups, aws.ToString(g.DBParameterGroupName))
		}
		if len(groups) != 1 || groups[0] != d.names.DBParameterGroup(side) {
			t.Errorf("%s database parameter groups = %v, want [%s]", side, groups, d.names.DBParameterGroup(side))
		}
		if aws.ToString(db.Endpoint.Address) != d.outputs[sidedKey(side, "DbEndpoint")] {
			t.Errorf("%s endpoint %s, output says %s", side, aws.ToString(db.Endpoint.Address), d.outputs[sidedKey(side, "DbEndpoint")])
		}
	}
}

func checkParameterGroups(t *testing.T, d deployed) {
	want := map[naming.Side]map[string]string{
		naming.Source: {"rds.logical_replication": "1", "rds.force_ssl": "1"},
		naming.Target: {"rds.force_ssl": "1"},
	}
	for side, params := range want {
		out, err := rds.NewFromConfig(awsCfg).DescribeDBParameters(callCtx(t), &rds.DescribeDBParametersInput{
			DBParameterGroupName: aws.String(d.names.DBParameterGroup(side)), Source: aws.String("user")})
		if err != nil {
			t.Fatalf("%s: %v", side, err)
		}
		got := map[string]string{}
		for _, p := range out.Parameters {
			got[aws.ToString(p.ParameterName)] = aws.ToString(p.ParameterValue)
		}
		for k, v := range params {
			if got[k] != v {
				t.Errorf("%s parameter group: %s = %q, want %q (all: %v)", side, k, got[k], v, got)
			}
		}
	}
}

func checkSecrets(t *testing.T, d deployed) {
	for _, side := range naming.Sides {
		out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(callCtx(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String(d.outputs[sidedKey(side, "DbSecretArn")])})
		if err != nil {
			t.Fatalf("%s: %v", side, err)
		}
		var secret map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &secret); err != nil {
			t.Fatalf("%s secret is not JSON: %v", side, err)
		}
		if pw, _ := secret["password"].(string); len(pw) < 16 {
			t.Errorf("%s secret has no generated password of at least 16 characters", side)
		}
		// The attachment adds the connection details of the instance (the
		// emulator's server listens on a port of its own, as RDS reports it).
		db, err := rds.NewFromConfig(awsCfg).DescribeDBInstances(callCtx(t), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(d.names.DBInstance(side))})
		if err != nil || len(db.DBInstances) != 1 || db.DBInstances[0].Endpoint == nil {
			t.Fatalf("%s instance: %v", side, err)
		}
		port := fmt.Sprint(aws.ToInt32(db.DBInstances[0].Endpoint.Port))
		if secret["host"] != d.outputs[sidedKey(side, "DbEndpoint")] || fmt.Sprint(secret["port"]) != port || secret["engine"] != "postgres" {
			t.Errorf("%s secret lacks the instance's connection details: host=%v port=%v engine=%v", side, secret["host"], secret["port"], secret["engine"])
		}
		if secret["username"] != "paymentsadmin" {
			t.Errorf("%s secret username = %v", side, secret["username"])
		}
	}
}

func checkDMSInstance(t *testing.T, d deployed) {
	out, err := dms.NewFromConfig(awsCfg).DescribeReplicationInstances(callCtx(t), &dms.DescribeReplicationInstancesInput{
		Filters: []dmstypes.Filter{{Name: aws.String("replication-instance-id"), Values: []string{d.names.DMSInstance()}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ReplicationInstances) != 1 {
		t.Fatalf("%d replication instances named %s", len(out.ReplicationInstances), d.names.DMSInstance())
	}
	ri := out.ReplicationInstances[0]
	if aws.ToString(ri.EngineVersion) != "3.5.4" || ri.PubliclyAccessible || aws.ToString(ri.ReplicationInstanceClass) != "dms.r5.large" {
		t.Errorf("replication instance: engine %s public %v class %s", aws.ToString(ri.EngineVersion), ri.PubliclyAccessible, aws.ToString(ri.ReplicationInstanceClass))
	}
	if aws.ToString(ri.ReplicationInstanceArn) != d.outputs["DMSReplicationInstanceArn"] {
		t.Errorf("instance ARN %s, output %s", aws.ToString(ri.ReplicationInstanceArn), d.outputs["DMSReplicationInstanceArn"])
	}
}

func checkDMSEndpoints(t *testing.T, d deployed) {
	for _, side := range naming.Sides {
		arn := d.outputs[fmt.Sprintf("DMS%sEndpointArn", titled(side))]
		out, err := dms.NewFromConfig(awsCfg).DescribeEndpoints(callCtx(t), &dms.DescribeEndpointsInput{
			Filters: []dmstypes.Filter{{Name: aws.String("endpoint-arn"), Values: []string{arn}}}})
		if err != nil {
			t.Fatalf("%s: %v", side, err)
		}
		if len(out.Endpoints) != 1 {
			t.Fatalf("%s endpoint %s not found", side, arn)
		}
		ep := out.Endpoints[0]
		ps := ep.PostgreSQLSettings
		if ps == nil || aws.ToString(ps.SecretsManagerSecretId) == "" || aws.ToString(ps.SecretsManagerAccessRoleArn) == "" {
			t.Errorf("%s endpoint does not take its credentials from Secrets Manager: %+v", side, ps)
		}
		if ep.Username != nil || (ps != nil && (ps.Username != nil || ps.Password != nil)) {
			t.Errorf("%s endpoint carries a username or password", side)
		}
		if ep.SslMode != dmstypes.DmsSslModeValueRequire || !strings.EqualFold(string(ep.EndpointType), string(side)) || aws.ToString(ep.EngineName) != "postgres" {
			t.Errorf("%s endpoint: ssl %s type %s engine %s", side, ep.SslMode, ep.EndpointType, aws.ToString(ep.EngineName))
		}
	}
}

func checkDMSTask(t *testing.T, d deployed) {
	out, err := dms.NewFromConfig(awsCfg).DescribeReplicationTasks(callCtx(t), &dms.DescribeReplicationTasksInput{
		Filters: []dmstypes.Filter{{Name: aws.String("replication-task-arn"), Values: []string{d.outputs["DMSTaskArn"]}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ReplicationTasks) != 1 {
		t.Fatalf("task %s not found", d.outputs["DMSTaskArn"])
	}
	task := out.ReplicationTasks[0]
	if task.MigrationType != dmstypes.MigrationTypeValueFullLoadAndCdc || aws.ToString(task.ReplicationTaskIdentifier) != d.names.DMSTask() {
		t.Errorf("task %s type %s", aws.ToString(task.ReplicationTaskIdentifier), task.MigrationType)
	}
	var settings struct {
		Logging            struct{ EnableLogging bool }
		ValidationSettings struct{ EnableValidation bool }
	}
	if err := json.Unmarshal([]byte(aws.ToString(task.ReplicationTaskSettings)), &settings); err != nil {
		t.Fatalf("task settings are not JSON: %v", err)
	}
	if !settings.Logging.EnableLogging || !settings.ValidationSettings.EnableValidation {
		t.Errorf("task settings: logging %v validation %v", settings.Logging.EnableLogging, settings.ValidationSettings.EnableValidation)
	}
	var mappings struct {
		Rules []struct {
			RuleType      string `json:"rule-type"`
			ObjectLocator struct {
				SchemaName string `json:"schema-name"`
				TableName  string `json:"table-name"`
			} `json:"object-locator"`
			RuleAction string `json:"rule-action"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(task.TableMappings)), &mappings); err != nil {
		t.Fatalf("table mappings are not JSON: %v", err)
	}
	var tables []string
	for _, r := range mappings.Rules {
		if r.RuleType == "selection" && r.RuleAction == "include" && r.ObjectLocator.SchemaName == "public" {
			tables = append(tables, r.ObjectLocator.TableName)
		}
	}
	slices.Sort(tables)
	// The spec's tables, and the cutover's drain watermark table.
	if want := []string{"payment_%", "payments", "refunds", "tapstack_cutover_watermark", "transactions"}; !slices.Equal(tables, want) {
		t.Errorf("selected tables %v, want %v", tables, want)
	}
}

func checkDMSRoles(t *testing.T, d deployed) {
	for _, name := range []string{"dms-vpc-role", "dms-cloudwatch-logs-role"} {
		out, err := iam.NewFromConfig(awsCfg).GetRole(callCtx(t), &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		doc, _ := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
		for _, principal := range []string{`"dms.amazonaws.com"`, `"dms.us-east-1.amazonaws.com"`} {
			if !strings.Contains(doc, principal) {
				t.Errorf("%s does not trust %s: %s", name, principal, doc)
			}
		}
		policies, err := iam.NewFromConfig(awsCfg).ListAttachedRolePolicies(callCtx(t), &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"dms-vpc-role": "AmazonDMSVPCManagementRole", "dms-cloudwatch-logs-role": "AmazonDMSCloudWatchLogsRole"}[name]
		if len(policies.AttachedPolicies) != 1 || aws.ToString(policies.AttachedPolicies[0].PolicyName) != want {
			t.Errorf("%s policies = %+v, want %s", name, policies.AttachedPolicies, want)
		}
	}
}

func checkBucketBasics(t *testing.T, d deployed) {
	s3c := s3Client()
	for _, side := range naming.Sides {
		bucket := d.outputs[sidedKey(side, "BucketName")]
		v, err := s3c.GetBucketVersioning(callCtx(t), &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
		if err != nil || v.Status != "Enabled" {
			t.Errorf("%s versioning = %v (%v)", bucket, v, err)
		}
		enc, err := s3c.GetBucketEncryption(callCtx(t), &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
		if err != nil || len(enc.ServerSideEncryptionConfiguration.Rules) == 0 ||
			enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm == "" {
			t.Errorf("%s is not encrypted: %v", bucket, err)
		}
		pab, err := s3c.GetPublicAccessBlock(callCtx(t), &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatalf("%s public access block: %v", bucket, err)
		}
		c := pab.PublicAccessBlockConfiguration
		if !aws.ToBool(c.BlockPublicAcls) || !aws.ToBool(c.BlockPublicPolicy) || !aws.ToBool(c.IgnorePublicAcls) || !aws.ToBool(c.RestrictPublicBuckets) {
			t.Errorf("%s public access block = %+v", bucket, c)
		}
	}
}

func checkBucketLifecycle(t *testing.T, d deployed) {
	for _, side := range naming.Sides {
		bucket := d.outputs[sidedKey(side, "BucketName")]
		lc, err := s3Client().GetBucketLifecycleConfiguration(callCtx(t), &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatalf("%s: %v", bucket, err)
		}
		var current, noncurrent bool
		for _, r := range lc.Rules {
			for _, tr := range r.Transitions {
				current = current || (tr.StorageClass == "GLACIER" && aws.ToInt32(tr.Days) == 90)
			}
			for _, tr := range r.NoncurrentVersionTransitions {
				noncurrent = noncurrent || (tr.StorageClass == "GLACIER" && aws.ToInt32(tr.NoncurrentDays) == 90)
			}
		}
		if !current || !noncurrent {
			t.Errorf("%s: Glacier after 90 days for current %v, noncurrent %v", bucket, current, noncurrent)
		}
	}
}

func checkBucketPolicies(t *testing.T, d deployed) {
	for _, side := range naming.Sides {
		bucket := d.outputs[sidedKey(side, "BucketName")]
		out, err := s3Client().GetBucketPolicy(callCtx(t), &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatalf("%s: %v", bucket, err)
		}
		policy := aws.ToString(out.Policy)
		if !strings.Contains(policy, `"Deny"`) || !strings.Contains(policy, "aws:SecureTransport") {
			t.Errorf("%s policy does not deny insecure transport: %s", bucket, policy)
		}
	}
}

func checkBucketReplication(t *testing.T, d deployed) {
	out, err := s3Client().GetBucketReplication(callCtx(t), &s3.GetBucketReplicationInput{Bucket: aws.String(d.outputs["SourceBucketName"])})
	if err != nil {
		t.Fatal(err)
	}
	cfg := out.ReplicationConfiguration
	if !strings.Contains(aws.ToString(cfg.Role), d.names.ReplicationRole()) {
		t.Errorf("replication role %s, want %s", aws.ToString(cfg.Role), d.names.ReplicationRole())
	}
	if len(cfg.Rules) == 0 || !strings.HasSuffix(aws.ToString(cfg.Rules[0].Destination.Bucket), ":::"+d.outputs["TargetBucketName"]) {
		t.Errorf("replication rules %+v, want the target bucket", cfg.Rules)
	}
}

func checkECS(t *testing.T, d deployed) {
	c := ecs.NewFromConfig(awsCfg)
	svc, err := c.DescribeServices(callCtx(t), &ecs.DescribeServicesInput{Cluster: aws.String(d.outputs["EcsClusterName"]), Services: []string{d.outputs["EcsServiceName"]}})
	if err != nil || len(svc.Services) != 1 {
		t.Fatalf("service: %v (%d found)", err, len(svc.Services))
	}
	s := svc.Services[0]
	if s.LaunchType != "FARGATE" || s.DesiredCount != 2 {
		t.Errorf("service launch type %s desired %d", s.LaunchType, s.DesiredCount)
	}
	if len(s.LoadBalancers) != 1 || aws.ToInt32(s.LoadBalancers[0].ContainerPort) != 80 || aws.ToString(s.LoadBalancers[0].TargetGroupArn) != d.outputs["TargetGroupArn"] {
		t.Errorf("service load balancers %+v", s.LoadBalancers)
	}
	td, err := c.DescribeTaskDefinition(callCtx(t), &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
	if err != nil {
		t.Fatal(err)
	}
	cd := td.TaskDefinition.ContainerDefinitions[0]
	if aws.ToString(cd.Image) != "nginx:latest" || len(cd.PortMappings) != 1 || aws.ToInt32(cd.PortMappings[0].ContainerPort) != 80 {
		t.Errorf("container %s ports %+v", aws.ToString(cd.Image), cd.PortMappings)
	}
	if td.TaskDefinition.NetworkMode != "awsvpc" || aws.ToString(td.TaskDefinition.Cpu) != "256" || aws.ToString(td.TaskDefinition.Memory) != "512" {
		t.Errorf("task definition network %s cpu %s memory %s", td.TaskDefinition.NetworkMode, aws.ToString(td.TaskDefinition.Cpu), aws.ToString(td.TaskDefinition.Memory))
	}
}

func checkLoadBalancer(t *testing.T, d deployed) {
	c := elbv2.NewFromConfig(awsCfg)
	lbs, err := c.DescribeLoadBalancers(callCtx(t), &elbv2.DescribeLoadBalancersInput{Names: []string{d.names.LoadBalancer()}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("load balancer: %v", err)
	}
	lb := lbs.LoadBalancers[0]
	if lb.Scheme != "internet-facing" || aws.ToString(lb.DNSName) != d.outputs["LoadBalancerDnsName"] {
		t.Errorf("ALB scheme %s DNS %s", lb.Scheme, aws.ToString(lb.DNSName))
	}
	ls, err := c.DescribeListeners(callCtx(t), &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil || len(ls.Listeners) != 1 || aws.ToInt32(ls.Listeners[0].Port) != 80 || ls.Listeners[0].Protocol != "HTTP" {
		t.Fatalf("listeners %+v (%v)", ls, err)
	}
	tgs, err := c.DescribeTargetGroups(callCtx(t), &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{d.outputs["TargetGroupArn"]}})
	if err != nil || len(tgs.TargetGroups) != 1 {
		t.Fatalf("target group: %v", err)
	}
	tg := tgs.TargetGroups[0]
	if aws.ToInt32(tg.Port) != 80 || aws.ToString(tg.HealthCheckPath) != "/" || tg.TargetType != "ip" || aws.ToString(tg.TargetGroupName) != d.names.TargetGroup() {
		t.Errorf("target group port %d path %s type %s name %s", aws.ToInt32(tg.Port), aws.ToString(tg.HealthCheckPath), tg.TargetType, aws.ToString(tg.TargetGroupName))
	}
}

func checkAutoScaling(t *testing.T, d deployed) {
	out, err := applicationautoscaling.NewFromConfig(awsCfg).DescribeScalingPolicies(callCtx(t), &applicationautoscaling.DescribeScalingPoliciesInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, p := range out.ScalingPolicies {
		if !strings.Contains(aws.ToString(p.ResourceId), d.outputs["EcsServiceName"]) || p.TargetTrackingScalingPolicyConfiguration == nil {
			continue
		}
		c := p.TargetTrackingScalingPolicyConfiguration
		got[string(c.PredefinedMetricSpecification.PredefinedMetricType)] = aws.ToFloat64(c.TargetValue)
	}
	if got["ECSServiceAverageCPUUtilization"] != 70 || got["ECSServiceAverageMemoryUtilization"] != 80 {
		t.Errorf("target tracking = %v, want CPU 70 and memory 80", got)
	}
	targets, err := applicationautoscaling.NewFromConfig(awsCfg).DescribeScalableTargets(callCtx(t), &applicationautoscaling.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range targets.ScalableTargets {
		if strings.Contains(aws.ToString(st.ResourceId), d.outputs["EcsServiceName"]) && (aws.ToInt32(st.MinCapacity) != 2 || aws.ToInt32(st.MaxCapacity) != 10) {
			t.Errorf("capacity %d..%d, want 2..10", aws.ToInt32(st.MinCapacity), aws.ToInt32(st.MaxCapacity))
		}
	}
}

func checkHostedZone(t *testing.T, d deployed) {
	c := route53.NewFromConfig(awsCfg)
	zone, err := c.GetHostedZone(callCtx(t), &route53.GetHostedZoneInput{Id: aws.String(d.outputs["HostedZoneId"])})
	if err != nil {
		t.Fatal(err)
	}
	if !zone.HostedZone.Config.PrivateZone || aws.ToString(zone.HostedZone.Name) != "payments.internal." {
		t.Errorf("zone %s private %v", aws.ToString(zone.HostedZone.Name), zone.HostedZone.Config.PrivateZone)
	}
	if len(zone.VPCs) != 1 || aws.ToString(zone.VPCs[0].VPCId) != d.outputs["VpcId"] {
		t.Errorf("zone VPCs %+v, want the stack's VPC", zone.VPCs)
	}
	records, err := c.ListResourceRecordSets(callCtx(t), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(d.outputs["HostedZoneId"])})
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string]int64{}
	for _, r := range records.ResourceRecordSets {
		if aws.ToString(r.Name) == "api.payments.internal." && r.SetIdentifier != nil {
			weights[aws.ToString(r.SetIdentifier)] = aws.ToInt64(r.Weight)
		}
	}
	if weights["source"] != 100 || weights["target"] != 0 || len(weights) != 2 {
		t.Errorf("weighted records = %v, want source 100 and target 0", weights)
	}
}

func checkHealthCheck(t *testing.T, d deployed) {
	out, err := route53.NewFromConfig(awsCfg).GetHealthCheck(callCtx(t), &route53.GetHealthCheckInput{HealthCheckId: aws.String(d.outputs["HealthCheckId"])})
	if err != nil {
		t.Fatal(err)
	}
	c := out.HealthCheck.HealthCheckConfig
	got := fmt.Sprintf("%s %s:%d%s every %ds threshold %d", c.Type, aws.ToString(c.FullyQualifiedDomainName), aws.ToInt32(c.Port),
		aws.ToString(c.ResourcePath), aws.ToInt32(c.RequestInterval), aws.ToInt32(c.FailureThreshold))
	want := fmt.Sprintf("HTTP %s:80/ every 30s threshold 3", d.outputs["LoadBalancerDnsName"])
	if got != want {
		t.Errorf("health check %s, want %s", got, want)
	}
}

func checkDashboard(t *testing.T, d deployed) {
	out, err := cloudwatch.NewFromConfig(awsCfg, awscfg.CloudWatchJSON).GetDashboard(callCtx(t), &cloudwatch.GetDashboardInput{DashboardName: aws.String(d.names.Dashboard())})
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Widgets []json.RawMessage }
	if err := json.Unmarshal([]byte(aws.ToString(out.DashboardBody)), &body); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	if len(body.Widgets) < 6 {
		t.Errorf("dashboard has %d widgets, want at least 6", len(body.Widgets))
	}
	if !strings.Contains(d.outputs["DashboardUrl"], d.names.Dashboard()) {
		t.Errorf("DashboardUrl %s does not name the dashboard", d.outputs["DashboardUrl"])
	}
}

func checkAlarms(t *testing.T, d deployed) {
	out, err := cloudwatch.NewFromConfig(awsCfg, awscfg.CloudWatchJSON).DescribeAlarms(callCtx(t), &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	taskID := d.outputs["DMSTaskArn"][strings.LastIndex(d.outputs["DMSTaskArn"], ":")+1:]
	metrics := map[string]bool{}
	for _, a := range out.MetricAlarms {
		if !strings.HasSuffix(aws.ToString(a.AlarmName), "-"+d.names.Suffix) {
			continue
		}
		metrics[aws.ToString(a.MetricName)] = true
		if len(a.AlarmActions) == 0 || a.AlarmActions[0] != d.outputs["AlarmTopicArn"] {
			t.Errorf("alarm %s does not notify the topic: %v", aws.ToString(a.AlarmName), a.AlarmActions)
		}
		if strings.HasPrefix(aws.ToString(a.MetricName), "CDCLatency") {
			if aws.ToFloat64(a.Threshold) != 60 {
				t.Errorf("%s threshold %v, want 60", aws.ToString(a.AlarmName), aws.ToFloat64(a.Threshold))
			}
			var dim string
			for _, dm := range a.Dimensions {
				if aws.ToString(dm.Name) == "ReplicationTaskIdentifier" {
					dim = aws.ToString(dm.Value)
				}
			}
			if dim != taskID {
				t.Errorf("%s task dimension %q, want the ARN's resource id %q", aws.ToString(a.AlarmName), dim, taskID)
			}
		}
	}
	for _, m := range []string{"CDCLatencySource", "CDCLatencyTarget", "CPUUtilization", "RunningTaskCount", "HTTPCode_Target_5XX_Count"} {
		if !metrics[m] {
			t.Errorf("no alarm on %s (alarms on %v)", m, keys(metrics))
		}
	}
}

func checkTopic(t *testing.T, d deployed) {
	out, err := sns.NewFromConfig(awsCfg).ListSubscriptionsByTopic(callCtx(t), &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(d.outputs["AlarmTopicArn"])})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Subscriptions) != 1 || aws.ToString(out.Subscriptions[0].Protocol) != "email" || aws.ToString(out.Subscriptions[0].Endpoint) != "payments-oncall@example.com" {
		t.Errorf("subscriptions %+v", out.Subscriptions)
	}
}

func checkTags(t *testing.T, d deployed) {
	out, err := ec2.NewFromConfig(awsCfg).DescribeVpcs(callCtx(t), &ec2.DescribeVpcsInput{VpcIds: []string{d.outputs["VpcId"]}})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tag := range out.Vpcs[0].Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	for _, k := range []string{"Environment", "MigrationPhase", "CostCenter"} {
		if tags[k] == "" {
			t.Errorf("VPC lacks tag %s: %v", k, tags)
		}
	}
	arn := d.outputs["AlarmTopicArn"]
	st, err := sns.NewFromConfig(awsCfg).ListTagsForResource(callCtx(t), &sns.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tags) < 3 {
		t.Errorf("SNS topic tags %+v", st.Tags)
	}
}

func s3Client() *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func sidedKey(side naming.Side, key string) string { return titled(side) + key }

func titled(side naming.Side) string { return strings.ToUpper(string(side)[:1]) + string(side)[1:] }

func fromGroups(p ec2types.IpPermission, groups ...string) bool {
	if len(p.UserIdGroupPairs) != len(groups) {
		return false
	}
	for i, pair := range p.UserIdGroupPairs {
		if aws.ToString(pair.GroupId) != groups[i] {
			return false
		}
	}
	return true
}

func describePerms(perms []ec2types.IpPermission) string {
	var parts []string
	for _, p := range perms {
		var from []string
		for _, r := range p.IpRanges {
			from = append(from, aws.ToString(r.CidrIp))
		}
		for _, g := range p.UserIdGroupPairs {
			from = append(from, aws.ToString(g.GroupId))
		}
		for _, pl := range p.PrefixListIds {
			from = append(from, aws.ToString(pl.PrefixListId))
		}
		parts = append(parts, fmt.Sprintf("%s %d-%d from %v", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort), from))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
