// Package naming is the single table of every AWS name the TapStack derives from a
// PaymentMigration. The API's bound on environmentSuffix is computed from it (see
// MaxSuffixLength and its test), so a name added here that would outgrow its AWS
// limit fails the build instead of failing a CloudFormation deployment.
package naming

import "fmt"

// Side is one half of the migration.
type Side string

const (
	Source Side = "source"
	Target Side = "target"
)

// Sides lists both halves in a stable order.
var Sides = []Side{Source, Target}

// MaxSuffixLength is the longest environmentSuffix for which every derived name
// fits its AWS limit. The bound is set by the Application Load Balancer and target
// group names (32 characters). It is a constant because the CRD marker on
// environmentSuffix needs a literal; TestMaxSuffixLength proves it is the tightest
// bound of the table.
const MaxSuffixLength = 21

// AccountIDLength is the length of an AWS account id, part of bucket names.
const AccountIDLength = 12

// Kind identifies one kind of named resource, with the limit AWS enforces.
type Kind struct {
	What  string
	Limit int
}

// Limits per AWS documentation.
var (
	KindStack          = Kind{"CloudFormation stack", 128}
	KindLoadBalancer   = Kind{"Application Load Balancer", 32}
	KindTargetGroup    = Kind{"target group", 32}
	KindBucket         = Kind{"S3 bucket", 63}
	KindDBInstance     = Kind{"RDS DB instance identifier", 63}
	KindDBParamGroup   = Kind{"RDS DB parameter group", 255}
	KindDBSubnetGroup  = Kind{"RDS DB subnet group", 255}
	KindDMSInstance    = Kind{"DMS replication instance identifier", 63}
	KindDMSEndpoint    = Kind{"DMS endpoint identifier", 255}
	KindDMSTask        = Kind{"DMS replication task identifier", 255}
	KindDMSSubnetGroup = Kind{"DMS replication subnet group identifier", 255}
	KindIAMRole        = Kind{"IAM role", 64}
	KindSecret         = Kind{"Secrets Manager secret", 512}
	KindECSCluster     = Kind{"ECS cluster", 255}
	KindECSService     = Kind{"ECS service", 255}
	KindTaskFamily     = Kind{"ECS task definition family", 255}
	KindLogGroup       = Kind{"CloudWatch Logs log group", 512}
	KindDashboard      = Kind{"CloudWatch dashboard", 255}
	KindAlarm          = Kind{"CloudWatch alarm", 255}
	KindTopic          = Kind{"SNS topic", 256}
	KindSecurityGroup  = Kind{"security group", 255}
	KindExport         = Kind{"CloudFormation export", 255}
)

// Names derives every AWS name of one migration. The zero value is not useful; use New.
type Names struct {
	Suffix string
}

// New returns the names for an environment suffix.
func New(suffix string) Names { return Names{Suffix: suffix} }

func (n Names) sided(kind string, s Side) string { return fmt.Sprintf("%s-%s-%s", kind, s, n.Suffix) }
func (n Names) plain(kind string) string         { return fmt.Sprintf("%s-%s", kind, n.Suffix) }

// Stack is the CloudFormation stack name.
func (n Names) Stack() string { return "TapStack" + n.Suffix }

// LoadBalancer is the internet-facing ALB in front of the target service.
func (n Names) LoadBalancer() string { return n.sided("alb", Target) }

// TargetGroup is the ALB's target group of the ECS service.
func (n Names) TargetGroup() string { return n.sided("tg", Target) }

// Bucket carries the account id because bucket names are global across accounts.
func (n Names) Bucket(s Side, accountID string) string {
	return fmt.Sprintf("payments-%s-%s-%s", s, accountID, n.Suffix)
}

// DBInstance is the RDS instance identifier of a side.
func (n Names) DBInstance(s Side) string { return n.sided("rds", s) }

// DBParameterGroup is the parameter group of a side.
func (n Names) DBParameterGroup(s Side) string { return n.sided("rds-params", s) }

// DBSubnetGroup is the subnet group shared by both databases.
func (n Names) DBSubnetGroup() string { return n.plain("rds-subnets") }

// DBSecret holds a side's generated master credentials.
func (n Names) DBSecret(s Side) string { return n.sided("rds-credentials", s) }

// DMSInstance is the replication instance identifier.
func (n Names) DMSInstance() string { return n.plain("dms-instance") }

// DMSSubnetGroup is the replication subnet group identifier.
func (n Names) DMSSubnetGroup() string { return n.plain("dms-subnets") }

// DMSEndpoint is the endpoint identifier of a side.
func (n Names) DMSEndpoint(s Side) string { return n.sided("dms-endpoint", s) }

// DMSTask is the full-load-and-CDC replication task identifier.
func (n Names) DMSTask() string { return n.plain("dms-task") }

// DMSReverseEndpoint is the endpoint identifier of a side for the reverse
// path (target to source, used only after the flip).
func (n Names) DMSReverseEndpoint(s Side) string { return n.sided("dms-reverse-endpoint", s) }

// DMSReverseTask is the CDC-only task from the target back to the source.
func (n Names) DMSReverseTask() string { return n.plain("dms-reverse-task") }

// AppSecret holds the credentials of the role the payment service writes as
// (host: the writer record).
func (n Names) AppSecret() string { return n.plain("app-credentials") }

// ReverseSlot is the logical replication slot the cutover creates on the
// target just before the flip; the reverse task reads from it. Slot names
// allow lowercase letters, digits and underscores, 63 at most.
func (n Names) ReverseSlot() string { return "tapstack_reverse_" + n.Suffix }

// WatermarkTable is the control table, in the replicated schema and the
// task's mappings, into which the freeze writes its drain watermark.
const WatermarkTable = "tapstack_cutover_watermark"

// DMSSecretsRole lets the DMS endpoints read the database secrets.
func (n Names) DMSSecretsRole() string { return n.plain("dms-secrets-access-role") }

// DMSVPCRole and DMSLogsRole are account-wide roles that AWS looks up by exact
// name; they are the only names without the suffix.
func (Names) DMSVPCRole() string  { return "dms-vpc-role" }
func (Names) DMSLogsRole() string { return "dms-cloudwatch-logs-role" }

// ReplicationRole is assumed by S3 to replicate the source bucket to the target.
func (n Names) ReplicationRole() string { return n.plain("s3-replication-role") }

// TaskRole and ExecutionRole are the ECS task's application and agent roles.
func (n Names) TaskRole() string      { return n.plain("ecs-task-role") }
func (n Names) ExecutionRole() string { return n.plain("ecs-task-execution-role") }

// Cluster, Service and TaskFamily name the ECS pieces of the target side.
func (n Names) Cluster() string    { return n.sided("ecs-cluster", Target) }
func (n Names) Service() string    { return n.sided("ecs-service", Target) }
func (n Names) TaskFamily() string { return n.sided("payments-task", Target) }

// SQLRunnerTaskFamily is the in-VPC SQL runner's task definition family. It
// extends TaskFamily, so the manager's RunTask permission on the stack's task
// families covers it.
func (n Names) SQLRunnerTaskFamily() string { return n.TaskFamily() + "-sql-runner" }

// LogGroup receives the service's container logs.
func (n Names) LogGroup() string { return "/ecs/payments-" + n.Suffix }

// Dashboard, Topic and Alarm name the observability pieces.
func (n Names) Dashboard() string        { return n.plain("payment-migration") }
func (n Names) Topic() string            { return n.plain("payment-migration-alerts") }
func (n Names) Alarm(what string) string { return fmt.Sprintf("%s-%s", what, n.Suffix) }

// SecurityGroup names the security group of a tier (alb, ecs, rds, dms). EC2
// refuses group names that start with "sg-" (the prefix of group ids), hence the
// tier comes first.
func (n Names) SecurityGroup(tier string) string { return n.plain(tier + "-sg") }

// DBMonitoringRole lets RDS enhanced monitoring publish OS metrics of both instances.
func (n Names) DBMonitoringRole() string { return n.plain("rds-monitoring-role") }

// Export names a stack output's export; exports are unique per account and region.
func (n Names) Export(output string) string { return fmt.Sprintf("TapStack%s-%s", n.Suffix, output) }

// LongestAlarm and LongestOutput are the longest alarm "what" and stack output
// name the synthesized template uses; its tests fail when a longer one appears, so
// the limit checks of All stay meaningful.
const (
	LongestAlarm  = "dms-cdc-latency-target"
	LongestOutput = "Route53RollbackToSourceCommand"
)

// Named is one derived name and the limit it must respect.
type Named struct {
	Kind Kind
	Name string
}

// All lists every derived name, for limit checks. accountID is any 12-digit id.
// Alarm and export names are checked with the longest logical names the stack uses
// (LongestAlarm, LongestOutput), which the synthesizer's tests keep honest.
func (n Names) All(accountID, longestAlarm, longestExport string) []Named {
	out := []Named{
		{KindStack, n.Stack()},
		{KindLoadBalancer, n.LoadBalancer()},
		{KindTargetGroup, n.TargetGroup()},
		{KindDBSubnetGroup, n.DBSubnetGroup()},
		{KindDMSInstance, n.DMSInstance()},
		{KindDMSSubnetGroup, n.DMSSubnetGroup()},
		{KindDMSTask, n.DMSTask()},
		{KindDMSTask, n.DMSReverseTask()},
		{KindSecret, n.AppSecret()},
		{Kind{"PostgreSQL replication slot", 63}, n.ReverseSlot()},
		{KindIAMRole, n.DMSSecretsRole()},
		{KindIAMRole, n.DMSVPCRole()},
		{KindIAMRole, n.DMSLogsRole()},
		{KindIAMRole, n.ReplicationRole()},
		{KindIAMRole, n.TaskRole()},
		{KindIAMRole, n.ExecutionRole()},
		{KindIAMRole, n.DBMonitoringRole()},
		{KindECSCluster, n.Cluster()},
		{KindECSService, n.Service()},
		{KindTaskFamily, n.TaskFamily()},
		{KindTaskFamily, n.SQLRunnerTaskFamily()},
		{KindLogGroup, n.LogGroup()},
		{KindDashboard, n.Dashboard()},
		{KindTopic, n.Topic()},
		{KindAlarm, n.Alarm(longestAlarm)},
		{KindExport, n.Export(longestExport)},
	}
	for _, tier := range []string{"alb", "ecs", "rds", "dms"} {
		out = append(out, Named{KindSecurityGroup, n.SecurityGroup(tier)})
	}
	for _, s := range Sides {
		out = append(out,
			Named{KindBucket, n.Bucket(s, accountID)},
			Named{KindDBInstance, n.DBInstance(s)},
			Named{KindDBParamGroup, n.DBParameterGroup(s)},
			Named{KindSecret, n.DBSecret(s)},
			Named{KindDMSEndpoint, n.DMSEndpoint(s)},
			Named{KindDMSEndpoint, n.DMSReverseEndpoint(s)},
		)
	}
	return out
}
