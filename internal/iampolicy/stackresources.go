package iampolicy

// resourceActions are the IAM actions CloudFormation makes, with the
// credentials of the stack operation (the caller's or the service role's),
// to create, read, update and delete a resource of each type the TapStack
// template holds.
//
// For the types of the CloudFormation registry they are the handler
// permissions of the type's schema (create, read, update, delete; list is
// not used by stack operations). Writes that serve only properties the
// TapStack never sets are left out, each named next to its type; reads stay,
// because handlers read unconditionally. The types without a registry schema
// (the DMS ones and AWS::Route53::RecordSet) list the API calls of their
// create, update and delete.
//
// A type the template holds that is missing here fails Stack (and its
// test); an entry no template uses fails the test too.
var resourceActions = map[string][]string{
	// Left out: PutScheduledAction, DeleteScheduledAction (no ScheduledActions);
	// lambda:Put/DeleteProvisionedConcurrencyConfig (an ECS service, not a function).
	"AWS::ApplicationAutoScaling::ScalableTarget": {
		"application-autoscaling:RegisterScalableTarget", "application-autoscaling:DescribeScalableTargets",
		"application-autoscaling:DeregisterScalableTarget", "application-autoscaling:DescribeScheduledActions",
		"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
		"iam:CreateServiceLinkedRole", "lambda:GetProvisionedConcurrencyConfig",
	},
	"AWS::ApplicationAutoScaling::ScalingPolicy": {
		"application-autoscaling:PutScalingPolicy", "application-autoscaling:DescribeScalingPolicies",
		"application-autoscaling:DeleteScalingPolicy", "cloudwatch:GetMetricData",
	},
	"AWS::CloudWatch::Alarm": {
		"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
		"cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
	},
	"AWS::CloudWatch::Dashboard": {
		"cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards",
	},

	// DMS: the endpoints pass the Secrets Manager access role to DMS; the
	// replication instance's network interfaces, subnets and key are checked
	// in the caller's name (the DMS user guide's minimum permissions).
	"AWS::DMS::Endpoint": {
		"dms:CreateEndpoint", "dms:DescribeEndpoints", "dms:ModifyEndpoint", "dms:DeleteEndpoint",
		"dms:AddTagsToResource", "dms:RemoveTagsFromResource", "dms:ListTagsForResource",
		"iam:PassRole",
	},
	"AWS::DMS::ReplicationInstance": {
		"dms:CreateReplicationInstance", "dms:DescribeReplicationInstances", "dms:ModifyReplicationInstance",
		"dms:DeleteReplicationInstance", "dms:AddTagsToResource", "dms:RemoveTagsFromResource", "dms:ListTagsForResource",
		"ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeAvailabilityZones",
		"ec2:DescribeInternetGateways", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
		"ec2:ModifyNetworkInterfaceAttribute", "iam:GetRole", "kms:DescribeKey", "kms:ListAliases",
	},
	"AWS::DMS::ReplicationSubnetGroup": {
		"dms:CreateReplicationSubnetGroup", "dms:DescribeReplicationSubnetGroups", "dms:ModifyReplicationSubnetGroup",
		"dms:DeleteReplicationSubnetGroup", "dms:AddTagsToResource", "dms:RemoveTagsFromResource", "dms:ListTagsForResource",
		"ec2:DescribeSubnets", "ec2:DescribeVpcs", "iam:GetRole",
	},
	"AWS::DMS::ReplicationTask": {
		"dms:CreateReplicationTask", "dms:DescribeReplicationTasks", "dms:ModifyReplicationTask", "dms:DeleteReplicationTask",
		"dms:AddTagsToResource", "dms:RemoveTagsFromResource", "dms:ListTagsForResource",
	},

	// Left out: AcceptAddressTransfer (no transfer).
	"AWS::EC2::EIP": {
		"ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DescribeAddresses", "ec2:AssociateAddress",
		"ec2:DisassociateAddress", "ec2:CreateTags", "ec2:DeleteTags",
	},
	"AWS::EC2::InternetGateway": {
		"ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", "ec2:DescribeInternetGateways",
		"ec2:CreateTags", "ec2:DeleteTags",
	},
	// Left out: Associate/DisassociateNatGatewayAddress, Assign/UnassignPrivateNatGatewayAddress
	// (no secondary addresses).
	"AWS::EC2::NatGateway": {
		"ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:DescribeNatGateways", "ec2:CreateTags", "ec2:DeleteTags",
	},
	"AWS::EC2::Route": {
		"ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", "ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces",
	},
	"AWS::EC2::RouteTable": {
		"ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:DescribeRouteTables", "ec2:CreateTags", "ec2:DeleteTags",
	},
	"AWS::EC2::SecurityGroup": {
		"ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
		"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
		"ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress",
		"ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
		"ec2:CreateTags", "ec2:DeleteTags",
	},
	"AWS::EC2::SecurityGroupEgress": {
		"ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules",
		"ec2:UpdateSecurityGroupRuleDescriptionsEgress",
	},
	"AWS::EC2::SecurityGroupIngress": {
		"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules",
		"ec2:DescribeSecurityGroups", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
	},
	// Left out: Associate/DisassociateSubnetCidrBlock (no IPv6).
	"AWS::EC2::Subnet": {
		"ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:DescribeSubnets", "ec2:DescribeNetworkAcls",
		"ec2:ModifySubnetAttribute", "ec2:CreateTags", "ec2:DeleteTags",
	},
	"AWS::EC2::SubnetRouteTableAssociation": {
		"ec2:AssociateRouteTable", "ec2:ReplaceRouteTableAssociation", "ec2:DisassociateRouteTable",
		"ec2:DescribeSubnets", "ec2:DescribeRouteTables",
	},
	// Left out: ModifyVpcTenancy (default tenancy).
	"AWS::EC2::VPC": {
		"ec2:CreateVpc", "ec2:DeleteVpc", "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:ModifyVpcAttribute",
		"ec2:DescribeSecurityGroups", "ec2:DescribeNetworkAcls", "ec2:CreateTags", "ec2:DeleteTags",
	},
	// Left out: Attach/DetachVpnGateway (an internet gateway only).
	"AWS::EC2::VPCGatewayAttachment": {
		"ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DescribeInternetGateways", "ec2:DescribeVpnGateways",
	},

	// Left out: PutAccountSetting, PutAccountSettingDefault (account-wide
	// settings), PutClusterCapacityProviders (no capacity providers).
	"AWS::ECS::Cluster": {
		"ecs:CreateCluster", "ecs:DeleteCluster", "ecs:DescribeClusters", "ecs:UpdateCluster", "ecs:UpdateClusterSettings",
		"ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource", "iam:CreateServiceLinkedRole", "kms:DescribeKey",
	},
	"AWS::ECS::Service": {
		"ecs:CreateService", "ecs:DeleteService", "ecs:DescribeServices", "ecs:UpdateService",
		"ecs:DescribeServiceDeployments", "ecs:ListServiceDeployments", "ecs:StopServiceDeployment",
		"ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource", "iam:PassRole",
	},
	"AWS::ECS::TaskDefinition": {
		"ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition",
		"ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource", "iam:GetRole", "iam:PassRole",
	},

	// Left out: cognito-idp:DescribeUserPoolClient (no Cognito action).
	"AWS::ElasticLoadBalancingV2::Listener": {
		"elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:ModifyListener",
		"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerAttributes",
		"elasticloadbalancing:ModifyListenerAttributes",
	},
	// Left out: ModifyCapacityReservation, ModifyIpPools (neither is set).
	// iam:CreateServiceLinkedRole: the first load balancer of an account
	// creates Elastic Load Balancing's service-linked role.
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {
		"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer",
		"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
		"elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:DescribeCapacityReservation",
		"elasticloadbalancing:SetSubnets", "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetIpAddressType",
		"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "elasticloadbalancing:DescribeTags",
		"ec2:DescribeIpamPools", "iam:CreateServiceLinkedRole",
	},
	"AWS::ElasticLoadBalancingV2::TargetGroup": {
		"elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyTargetGroup",
		"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
		"elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:RegisterTargets",
		"elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:DescribeTargetHealth",
		"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "elasticloadbalancing:DescribeTags",
	},

	"AWS::IAM::Role": {
		"iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
		"iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
		"iam:ListRolePolicies", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies",
		"iam:TagRole", "iam:UntagRole", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
	},
	// Left out: AssociateKmsKey, DisassociateKmsKey (no key); CreateLogDelivery,
	// firehose:TagDeliveryStream and "s3:REST.PUT.OBJECT", which is no IAM
	// action (no log delivery); Put/DeleteDataProtectionPolicy on update,
	// Put/DeleteIndexPolicy, Put/DeleteResourcePolicy (none is set). The
	// delete handler's DeleteDataProtectionPolicy stays.
	"AWS::Logs::LogGroup": {
		"logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy",
		"logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource",
		"logs:GetDataProtectionPolicy", "logs:DeleteDataProtectionPolicy", "logs:DescribeIndexPolicies",
		"logs:DescribeResourcePolicies",
	},

	// Left out: CreateDBInstanceReadReplica, RestoreDBInstanceFromDBSnapshot,
	// RestoreDBInstanceToPointInTime, PromoteReadReplica (no replica, no
	// restore); Start/StopDBInstanceAutomatedBackupsReplication (no
	// cross-region backups); AddRoleToDBInstance, RemoveRoleFromDBInstance (no
	// AssociatedRoles); secretsmanager:CreateSecret, TagResource (the master
	// password is the stack's own secret, not ManageMasterUserPassword).
	// CreateDBSnapshot is deletionPolicy Snapshot's final snapshot.
	"AWS::RDS::DBInstance": {
		"rds:CreateDBInstance", "rds:DeleteDBInstance", "rds:ModifyDBInstance", "rds:RebootDBInstance",
		"rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBClusterSnapshots",
		"rds:DescribeDBInstanceAutomatedBackups", "rds:DescribeDBSnapshots", "rds:DescribeEvents",
		"rds:DescribeDBEngineVersions", "rds:DescribeDBParameterGroups", "rds:CreateDBSnapshot",
		"rds:AddTagsToResource", "rds:RemoveTagsFromResource",
		"ec2:DescribeAccountAttributes", "ec2:DescribeAvailabilityZones", "ec2:DescribeInternetGateways",
		"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcAttribute", "ec2:DescribeVpcs",
		"iam:CreateServiceLinkedRole", "iam:GetRole", "iam:ListRoles", "iam:PassRole",
		"kms:CreateGrant", "kms:DescribeKey",
	},
	"AWS::RDS::DBParameterGroup": {
		"rds:CreateDBParameterGroup", "rds:DeleteDBParameterGroup", "rds:ModifyDBParameterGroup", "rds:ResetDBParameterGroup",
		"rds:DescribeDBParameterGroups", "rds:DescribeDBParameters", "rds:DescribeEngineDefaultParameters",
		"rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:ListTagsForResource", "iam:CreateServiceLinkedRole",
	},
	"AWS::RDS::DBSubnetGroup": {
		"rds:CreateDBSubnetGroup", "rds:DeleteDBSubnetGroup", "rds:ModifyDBSubnetGroup", "rds:DescribeDBSubnetGroups",
		"rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:ListTagsForResource", "iam:CreateServiceLinkedRole",
	},

	"AWS::Route53::HealthCheck": {
		"route53:CreateHealthCheck", "route53:DeleteHealthCheck", "route53:UpdateHealthCheck", "route53:GetHealthCheck",
		"route53:ChangeTagsForResource", "route53:ListTagsForResource", "cloudwatch:DescribeAlarms",
		"route53-recovery-control-config:DescribeRoutingControl",
	},
	// Left out: Create/DeleteQueryLoggingConfig (no query logging).
	"AWS::Route53::HostedZone": {
		"route53:CreateHostedZone", "route53:DeleteHostedZone", "route53:GetHostedZone", "route53:UpdateHostedZoneComment",
		"route53:GetChange", "route53:ChangeTagsForResource", "route53:ListTagsForResource",
		"route53:ListQueryLoggingConfigs", "route53:AssociateVPCWithHostedZone",
		"route53:DisassociateVPCFromHostedZone", "ec2:DescribeVpcs",
	},
	"AWS::Route53::RecordSet": {
		"route53:ChangeResourceRecordSets", "route53:GetChange", "route53:ListResourceRecordSets", "route53:GetHostedZone",
	},

	// Left out: Put{Analytics,Inventory,Metrics,IntelligentTiering,Accelerate}Configuration,
	// PutBucketCORS, PutBucketNotification, PutBucketWebsite, PutBucketLogging,
	// PutBucketAcl, PutObjectAcl, Put(Bucket)ObjectLockConfiguration, the
	// metadata table configurations and s3tables:* (none is set);
	// "s3:PutBucketReplication", which is no IAM action (replication is
	// PutReplicationConfiguration); the Delete*Configuration of the update
	// handler, which remove properties the buckets never had.
	"AWS::S3::Bucket": {
		"s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketAcl", "s3:DeleteObject",
		"s3:PutBucketTagging", "s3:GetBucketTagging", "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration",
		"s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration", "s3:PutBucketPublicAccessBlock",
		"s3:GetBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:GetBucketVersioning",
		"s3:PutReplicationConfiguration", "s3:GetReplicationConfiguration", "s3:PutBucketOwnershipControls",
		"s3:GetBucketOwnershipControls", "s3:GetAccelerateConfiguration", "s3:GetAnalyticsConfiguration",
		"s3:GetBucketCORS", "s3:GetInventoryConfiguration", "s3:GetBucketLogging", "s3:GetMetricsConfiguration",
		"s3:GetBucketNotification", "s3:GetBucketWebsite", "s3:GetBucketObjectLockConfiguration",
		"s3:GetIntelligentTieringConfiguration", "s3:GetBucketMetadataTableConfiguration", "iam:PassRole",
	},
	"AWS::S3::BucketPolicy": {
		"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
	},

	// Left out: iam:GetRole, iam:PassRole (only Firehose subscriptions take a role).
	"AWS::SNS::Subscription": {
		"sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes",
	},
	// Left out: PutDataProtectionPolicy; iam:GetRole, iam:PassRole (no
	// delivery status logging).
	"AWS::SNS::Topic": {
		"sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
		"sns:Unsubscribe", "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource",
		"sns:ListSubscriptionsByTopic", "sns:GetDataProtectionPolicy",
	},

	// Left out: ReplicateSecretToRegions, RemoveRegionsFromReplication (no replicas).
	"AWS::SecretsManager::Secret": {
		"secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
		"secretsmanager:UpdateSecret", "secretsmanager:GetRandomPassword", "secretsmanager:GetSecretValue",
		"secretsmanager:TagResource", "secretsmanager:UntagResource",
	},
	// Left out: the Redshift, DocumentDB and Aurora cluster reads (the target
	// is an RDS instance).
	"AWS::SecretsManager::SecretTargetAttachment": {
		"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "rds:DescribeDBInstances",
	},
}
