package iampolicy

import (
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// every is the names of every migration: the naming table with a wildcard
// for the suffix (TapStack*, rds-source-*, ...).
var every = naming.New("*")

// stackNameTag is the tag CloudFormation puts on every resource of a stack
// that can be tagged. Its aws: prefix is reserved, so nobody but
// CloudFormation can put it on a resource: a condition on it admits the
// stack's resources and nothing else, where names cannot (DMS names its
// resources by a generated id, not by the identifier the template sets).
const stackNameTag = "aws:ResourceTag/aws:cloudformation:stack-name"

// ImplicitActions are the manager's actions that no SDK call of its own
// names: AWS authorizes them on the manager's behalf, during another call.
// Every other action of Manager is an operation its code calls.
var ImplicitActions = map[string]string{
	"s3:GetObject":                 "CloudFormation reads a staged TemplateURL with the caller's credentials",
	"cloudformation:TagResource":   "CloudFormation authorizes the tags that CreateStack, UpdateStack and a change set add to the stack as TagResource",
	"cloudformation:UntagResource": "and the tags they remove as UntagResource",
	"iam:PassRole":                 "handing spec.iam.stackRoleARN to CloudFormation (only with a stack role), and the task execution role to ECS in RunTask (the in-VPC SQL runner)",
}

// Manager is the policy of the manager's own calls, the way internal/* makes
// them, in scope. With stackRoleARN the manager also passes that role to
// CloudFormation (spec.iam.stackRoleARN); without one, CloudFormation acts
// with the manager's credentials and the statements of Stack must be added.
func Manager(scope Scope, stackRoleARN string) Document {
	statements := managerStatements(scope)
	if stackRoleARN != "" {
		statements = append(statements, passStackRole(stackRoleARN))
	}
	return newDocument(statements...)
}

// SourceSecretTag is the tag an existing source's secrets (the master's and
// the current service's) carry, value "allowed", for the manager to read them.
const SourceSecretTag = "tapstack:migration-source"

func managerStatements(s Scope) []Statement {
	stack := s.regional("cloudformation", "stack/"+every.Stack()+"/*")
	staging := cfnstack.StagingBucketName(s.account(), s.region())
	var buckets, objects []string
	for _, side := range naming.Sides {
		b := s.global("s3", every.Bucket(side, s.account()))
		buckets = append(buckets, b)
		objects = append(objects, b+"/*")
	}
	var databases, secrets []string
	for _, side := range naming.Sides {
		databases = append(databases, s.regional("rds", "db:"+every.DBInstance(side)))
		secrets = append(secrets, s.regional("secretsmanager", "secret:"+every.DBSecret(side)))
	}
	secrets = append(secrets, s.regional("secretsmanager", "secret:"+every.AppSecret()))
	fromTheStack := Conditions{"StringLike": {stackNameTag: {every.Stack()}}}

	return []Statement{
		allow("StackLifecycle", []string{
			"cloudformation:CreateStack", "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
			"cloudformation:UpdateStack", "cloudformation:DeleteStack", "cloudformation:UpdateTerminationProtection",
			"cloudformation:SetStackPolicy",
			// Change sets are authorized on their stack.
			"cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
			"cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet",
		}, []string{stack}, nil),
		allow("StackTagsThroughStackCalls", []string{"cloudformation:TagResource", "cloudformation:UntagResource"},
			[]string{stack, s.regional("cloudformation", "changeSet/"+cfnstack.ChangeSetName("")+"*/*")},
			Conditions{"StringEquals": {"cloudformation:CreateAction": {"CreateStack", "UpdateStack", "CreateChangeSet", "ExecuteChangeSet"}}}),

		// Templates over the TemplateBody limit go through the operator's
		// staging bucket (cfnstack.BucketStager).
		allow("TemplateStagingBucket", []string{
			"s3:CreateBucket",
			"s3:ListBucket", // HeadBucket
			"s3:PutBucketVersioning", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock",
		}, []string{s.global("s3", staging)}, nil),
		allow("TemplateStagingObjects", []string{"s3:PutObject", "s3:GetObject"},
			[]string{s.global("s3", staging+"/templates/"+every.Stack()+"/*")}, nil),

		// Deletion empties the versioned buckets (internal/buckets).
		allow("EmptyMigrationBuckets", []string{"s3:ListBucketVersions"}, buckets, nil),
		allow("DeleteMigrationObjectVersions", []string{"s3:DeleteObject", "s3:DeleteObjectVersion"}, objects, nil),

		// DMS has no resource-level permissions for its Describe calls.
		allow("DescribeReplication", []string{
			"dms:DescribeReplicationTasks", "dms:DescribeReplicationInstances", "dms:DescribeConnections",
		}, []string{"*"}, nil),
		allow("ControlReplicationTasks", []string{
			"dms:StartReplicationTask", "dms:StopReplicationTask", "dms:DescribeTableStatistics", "dms:ListTagsForResource",
		}, []string{s.regional("dms", "task:*")}, fromTheStack),
		// The first start is announced by a tag (replication.StartTagKey),
		// the only tag the operator adds or removes.
		allow("AnnounceFirstStart", []string{"dms:AddTagsToResource", "dms:RemoveTagsFromResource"},
			[]string{s.regional("dms", "task:*")},
			Conditions{
				"StringLike":                fromTheStack["StringLike"],
				"ForAllValues:StringEquals": {"aws:TagKeys": {replication.StartTagKey}},
			}),
		allow("TestEndpointConnections", []string{"dms:TestConnection"},
			[]string{s.regional("dms", "endpoint:*"), s.regional("dms", "rep:*")}, fromTheStack),

		// Preflight reads the stack's databases and parameter groups, and
		// reboots only the source (spec.database.allowRebootForParameterApply).
		allow("ReadDatabases", []string{"rds:DescribeDBInstances"}, databases, nil),
		allow("ReadParameterGroups", []string{"rds:DescribeDBParameters"},
			[]string{s.regional("rds", "pg:"+every.DBParameterGroup(naming.Source)), s.regional("rds", "pg:"+every.DBParameterGroup(naming.Target))}, nil),
		allow("RebootSourceDatabase", []string{"rds:RebootDBInstance"},
			[]string{s.regional("rds", "db:"+every.DBInstance(naming.Source))}, nil),
		allow("CheckDMSServiceRoles", []string{"iam:GetRole"},
			[]string{s.iamRole(every.DMSVPCRole()), s.iamRole(every.DMSLogsRole())}, nil),
		// The operator's SQL connects with the stack's database secrets.
		allow("ReadDatabaseSecrets", []string{"secretsmanager:GetSecretValue"}, secrets, nil),
		// An existing source (spec.source) has names of its own: its
		// instance and parameter group are only described, its bucket only
		// located, and of its secrets only those its owner tagged
		// SourceSecretTag=allowed are readable.
		allow("ReadExistingSourceDatabases", []string{"rds:DescribeDBInstances", "rds:DescribeDBParameters"},
			[]string{s.regional("rds", "db:*"), s.regional("rds", "pg:*")}, nil),
		allow("LocateExistingSourceBuckets", []string{"s3:GetBucketLocation"}, []string{s.global("s3", "*")}, nil),
		allow("ReadExistingSourceSecrets", []string{"secretsmanager:GetSecretValue"}, []string{s.regional("secretsmanager", "secret:*")},
			Conditions{"StringEquals": {"secretsmanager:ResourceTag/" + SourceSecretTag: {"allowed"}}}),

		// CloudWatch metrics have no resource-level permissions.
		allow("ReadReplicationLag", []string{"cloudwatch:GetMetricData"}, []string{"*"}, nil),
		allow("ReadStackAlarms", []string{"cloudwatch:DescribeAlarms"}, []string{s.regional("cloudwatch", "alarm:*")}, nil),
		allow("FindHealthCheckPrefixList", []string{"ec2:DescribeManagedPrefixLists"}, []string{"*"}, nil),

		// The cutover UPSERTs the weighted A records and the writer CNAME of
		// the private zone, whose name must end in .internal (the API's
		// rule); Route 53 has no tags on records to scope by.
		allow("MoveTraffic", []string{"route53:ChangeResourceRecordSets"}, []string{s.global("route53", "hostedzone/*")},
			Conditions{
				"ForAllValues:StringLike":   {"route53:ChangeResourceRecordSetsNormalizedRecordNames": {"*.internal"}},
				"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": {"A", "CNAME"}, "route53:ChangeResourceRecordSetsActions": {"UPSERT"}},
			}),
		allow("ReadTraffic", []string{"route53:ListResourceRecordSets", "route53:GetChange", "route53:GetHealthCheckStatus"},
			[]string{s.global("route53", "hostedzone/*"), s.global("route53", "change/*"), s.global("route53", "healthcheck/*")}, nil),

		// The in-VPC SQL runner (spec.sqlRunner.mode InVPC): one-off tasks in the
		// stack's cluster, with the stack's task execution role, read back
		// from their container logs.
		allow("RunSQLRunnerTask", []string{"ecs:RunTask"}, []string{s.regional("ecs", "task-definition/"+every.TaskFamily()+"*:*")},
			Conditions{"ArnLike": {"ecs:cluster": {s.regional("ecs", "cluster/"+every.Cluster())}}}),
		allow("ReadSQLRunnerTask", []string{"ecs:DescribeTasks"}, []string{s.regional("ecs", "task/"+every.Cluster()+"/*")}, nil),
		allow("ReadSQLRunnerLogs", []string{"logs:GetLogEvents"}, []string{s.regional("logs", "log-group:"+every.LogGroup()+":log-stream:*")}, nil),
		allow("PassTaskExecutionRoleToECS", []string{"iam:PassRole"}, []string{s.iamRole(every.ExecutionRole())},
			Conditions{"StringEquals": {"iam:PassedToService": {"ecs-tasks.amazonaws.com"}}}),
	}
}

// passStackRole lets the manager hand the stack's service role to
// CloudFormation, and to nothing else.
func passStackRole(roleARN string) Statement {
	return allow("PassStackRoleToCloudFormation", []string{"iam:PassRole"}, []string{roleARN},
		Conditions{"StringEquals": {"iam:PassedToService": {"cloudformation.amazonaws.com"}}})
}
