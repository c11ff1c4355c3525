package tapstack

import (
	"encoding/json"
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Outputs are the runbook of the migration: ids, ARNs and endpoints of what the
// stack created, the DMS and Route 53 commands of every step (runnable as
// printed once CloudFormation substituted the ${...} references), and the ordered
// steps. Every output is exported under TapStack<suffix>-<name>.

// Keys of the outputs the operator reads back from the stack: the controllers
// (and tests) use these constants, the synthesis below writes them.
const (
	OutputDMSReplicationInstanceArn = "DMSReplicationInstanceArn"
	OutputDMSSourceEndpointArn      = "DMSSourceEndpointArn"
	OutputDMSTargetEndpointArn      = "DMSTargetEndpointArn"
	OutputDMSTaskArn                = "DMSTaskArn"
	OutputSourceDbInstanceID        = "SourceDbInstanceId"
	OutputTargetDbInstanceID        = "TargetDbInstanceId"
	OutputSourceDbSecretArn         = "SourceDbSecretArn"
	OutputTargetDbSecretArn         = "TargetDbSecretArn"
	OutputSourceBucketName          = "SourceBucketName"
	OutputTargetBucketName          = "TargetBucketName"
	OutputSourceDbEndpoint          = "SourceDbEndpoint"
	OutputTargetDbEndpoint          = "TargetDbEndpoint"
	OutputAppDbSecretArn            = "AppDbSecretArn"
	OutputReverseDMSTaskArn         = "ReverseDMSTaskArn"
	OutputHostedZoneID              = "HostedZoneId"
	OutputHealthCheckID             = "HealthCheckId"
	OutputWeightedRecordName        = "WeightedRecordName"
	OutputWriterRecordName          = "WriterRecordName"
)

// The read-back outputs of each side.
var (
	dbInstanceIDOutput = map[naming.Side]string{naming.Source: OutputSourceDbInstanceID, naming.Target: OutputTargetDbInstanceID}
	dbSecretArnOutput  = map[naming.Side]string{naming.Source: OutputSourceDbSecretArn, naming.Target: OutputTargetDbSecretArn}
	dbEndpointOutput   = map[naming.Side]string{naming.Source: OutputSourceDbEndpoint, naming.Target: OutputTargetDbEndpoint}
	bucketNameOutput   = map[naming.Side]string{naming.Source: OutputSourceBucketName, naming.Target: OutputTargetBucketName}
)

func (b *builder) output(name, description, value string) {
	if _, dup := b.t.Outputs[name]; dup {
		panic("tapstack: duplicate output " + name)
	}
	b.t.Outputs[name] = cloudformation.Output{
		Value:       value,
		Description: ptr(description),
		Export:      &cloudformation.Export{Name: b.names.Export(name)},
	}
}

func (b *builder) outputs() {
	b.networkOutputs()
	b.databaseOutputs()
	b.replicationOutputs()
	b.storageOutputs()
	b.serviceOutputs()
	b.sqlRunnerOutputs()
	b.trafficOutputs()
	b.cutoverOutputs()
	b.observabilityOutputs()
	b.runbookOutputs()
}

// cli is an aws CLI command line: the region is always explicit, so a command
// copied from the console works whatever the caller's default region is.
func (b *builder) cli(service, operation string, args ...string) string {
	line := "aws " + service + " " + operation
	for _, a := range args {
		line += " " + a
	}
	return line + " --region " + b.region
}

func (b *builder) networkOutputs() {
	b.output("VpcId", "VPC of the migration", ref(idVPC))
	b.output("PublicSubnetIds", "Public subnets (ALB, NAT gateways), comma-separated", join(",", b.subnetIDs(idPublicSubnet)...))
	b.output("PrivateSubnetIds", "Private subnets (databases, DMS, ECS tasks), comma-separated", join(",", b.subnetIDs(idPrivateSubnet)...))
}

func (b *builder) databaseOutputs() {
	for _, s := range naming.Sides {
		b.output(dbInstanceIDOutput[s], fmt.Sprintf("RDS instance identifier of the %s database", s), b.dbInstanceID(s))
		b.output(dbEndpointOutput[s], fmt.Sprintf("Host name of the %s database (TLS required)", s), b.dbAddress(s))
		held := "credentials, host, port and dbname"
		if !b.creates(s) {
			held = "master credentials"
		}
		b.output(dbSecretArnOutput[s], fmt.Sprintf("Secrets Manager secret with the %s database %s", s, held), b.dbSecret(s))
	}
	b.output(OutputAppDbSecretArn, fmt.Sprintf("Secrets Manager secret of %s, the payment service's database role (host: the writer record)",
		b.spec.Database.ApplicationUsername), b.appSecretRef())
}

func (b *builder) replicationOutputs() {
	task := "${" + idDmsTask + "}"
	b.output(OutputDMSReplicationInstanceArn, "DMS replication instance", ref(idDmsInstance))
	b.output(OutputDMSSourceEndpointArn, "DMS endpoint of the source database", ref(idDmsEndpoint(naming.Source)))
	b.output(OutputDMSTargetEndpointArn, "DMS endpoint of the target database", ref(idDmsEndpoint(naming.Target)))
	b.output(OutputDMSTaskArn, "DMS full-load-and-CDC task of the payment tables", ref(idDmsTask))
	b.output("DMSTaskStatusCommand", "Prints the task status (creating, ready, running, stopped, ...)", sub(b.cli("dms", "describe-replication-tasks",
		"--filters", "Name=replication-task-arn,Values="+task, "--query", "'ReplicationTasks[0].Status'", "--output", "text")))
	b.output("DMSStartTaskCommand", "For the first start only: loads the target from scratch (full load, then CDC). "+
		"On a task that ever ran it reloads the target; use DMSResumeTaskCommand", sub(b.cli("dms", "start-replication-task",
		"--replication-task-arn", task, "--start-replication-task-type", "start-replication")))
	b.output("DMSStopTaskCommand", "Stops the task; resume it with DMSResumeTaskCommand", sub(b.cli("dms", "stop-replication-task",
		"--replication-task-arn", task)))
	b.output("DMSResumeTaskCommand", "Resumes a stopped task where it left off", sub(b.cli("dms", "start-replication-task",
		"--replication-task-arn", task, "--start-replication-task-type", "resume-processing")))
	b.output("DMSTableStatisticsCommand", "Per-table progress: rows loaded, inserts, updates, deletes, validation state", sub(b.cli("dms", "describe-table-statistics",
		"--replication-task-arn", task)))
	if b.reversePath() {
		b.reverseReplicationOutputs()
	}
}

// reverseSlotLSN is the shell parameter the reverse start command reads its
// start position from: the command stays runnable as printed, and refuses to
// run until the position is set. Fn::Sub prints ${!...} as ${...}.
const reverseSlotLSN = "REVERSE_SLOT_LSN"

func (b *builder) reverseReplicationOutputs() {
	task := "${" + idDmsReverseTask + "}"
	b.output("ReverseDMSSourceEndpointArn", "Reverse path: DMS endpoint that reads the target database (slot "+b.names.ReverseSlot()+")",
		ref(idDmsReverseEndpoint(naming.Source)))
	b.output("ReverseDMSTargetEndpointArn", "Reverse path: DMS endpoint that writes into the source database",
		ref(idDmsReverseEndpoint(naming.Target)))
	b.output(OutputReverseDMSTaskArn, "Reverse path: CDC-only task from the target back to the source, created stopped", ref(idDmsReverseTask))
	b.output("ReverseDMSTaskStatusCommand", "Prints the reverse task status (ready until a rollback after the flip starts it)",
		sub(b.cli("dms", "describe-replication-tasks",
			"--filters", "Name=replication-task-arn,Values="+task, "--query", "'ReplicationTasks[0].Status'", "--output", "text")))
	b.output("ReverseDMSStartTaskCommand", fmt.Sprintf("For a rollback after the flip only: starts the reverse task at the flip point. "+
		"Set %s to the consistent point of slot %s (status.cutover.reverseSlotLSN) first", reverseSlotLSN, b.names.ReverseSlot()),
		sub(b.cli("dms", "start-replication-task",
			"--replication-task-arn", task, "--start-replication-task-type", "start-replication",
			"--cdc-start-position", fmt.Sprintf(`"${!%s:?set %s to status.cutover.reverseSlotLSN}"`, reverseSlotLSN, reverseSlotLSN))))
	b.output("ReverseDMSStopTaskCommand", "Stops the reverse task", sub(b.cli("dms", "stop-replication-task",
		"--replication-task-arn", task)))
}

func (b *builder) storageOutputs() {
	for _, s := range naming.Sides {
		b.output(bucketNameOutput[s], fmt.Sprintf("Bucket of the %s transaction logs and audit trails", s), b.bucketRef(s))
	}
}

func (b *builder) serviceOutputs() {
	b.output("EcsClusterName", "ECS cluster of the payment service", ref(idCluster))
	b.output("EcsServiceName", "ECS service of the payment service", getAtt(idService, "Name"))
	b.output("LoadBalancerDnsName", "Public DNS name of the ALB", getAtt(idLoadBalancer, "DNSName"))
	b.output("TargetGroupArn", "Target group of the payment service tasks", ref(idTargetGroup))
	b.output("LoadBalancerHealthEndpoint", "Health-check URL of the service through the ALB (what Route 53 probes)",
		sub(fmt.Sprintf("http://${%s.DNSName}:%d%s", idLoadBalancer, b.spec.Service.Port, b.spec.Traffic.HealthCheck.Path)))
}

func (b *builder) trafficOutputs() {
	b.output(OutputHostedZoneID, "Private hosted zone "+b.spec.Traffic.HostedZoneName, ref(idHostedZone))
	b.output(OutputWeightedRecordName, "Name clients resolve; its weighted records move during the cutover", b.weightedName())
	b.output(OutputWriterRecordName, "The one name through which the payment service reaches the database that accepts writes", b.writerName())
	b.output(OutputHealthCheckID, "Route 53 health check of the ALB", ref(idHealthCheck))
	b.output("HealthCheckStatusCommand", "Prints what the Route 53 health checkers currently see", sub(b.cli("route53", "get-health-check-status",
		"--health-check-id", "${"+idHealthCheck+"}")))
	for _, s := range naming.Sides {
		b.output(sided(s, "HealthEndpoint"), fmt.Sprintf("Health-check URL of the %s side, inside the VPC", s),
			fmt.Sprintf("http://%s.%s:%d%s", s, b.spec.Traffic.HostedZoneName, b.spec.Service.Port, b.spec.Traffic.HealthCheck.Path))
	}
}

// cutoverOutputs print one Route 53 command per cutover step and the rollback.
func (b *builder) cutoverOutputs() {
	for i, step := range b.spec.Cutover.Steps {
		b.output(fmt.Sprintf("Route53Step%dPercentCommand", step),
			fmt.Sprintf("Cutover step %d of %d: %d%% of %s to the target, %d%% to the source", i+1, len(b.spec.Cutover.Steps), step, b.weightedName(), 100-step),
			b.shiftCommand(int(100-step), int(step), fmt.Sprintf("cutover step %d: target %d%%", i+1, step)))
	}
	b.output("Route53RollbackToSourceCommand", "Rollback: all traffic back to the source",
		b.shiftCommand(initialSourceWeight, initialTargetWeight, "rollback: all traffic to the source"))
	b.output("Route53WriterToTargetCommand", fmt.Sprintf("The flip: points the writer record %s at the target database. "+
		"Only with the source fenced and drained", b.writerName()), b.writerCommand(naming.Target))
	b.output("Route53WriterToSourceCommand", fmt.Sprintf("Points the writer record %s back at the source database. "+
		"After the flip, only with the target fenced and the reverse task drained", b.writerName()), b.writerCommand(naming.Source))
}

type changeBatch struct {
	Comment string   `json:"Comment"`
	Changes []change `json:"Changes"`
}

type change struct {
	Action            string            `json:"Action"`
	ResourceRecordSet resourceRecordSet `json:"ResourceRecordSet"`
}

// resourceRecordSet is either a weighted alias record (SetIdentifier, Weight,
// AliasTarget) or the writer record (TTL, ResourceRecords).
type resourceRecordSet struct {
	Name            string           `json:"Name"`
	Type            string           `json:"Type"`
	SetIdentifier   string           `json:"SetIdentifier,omitempty"`
	Weight          *int             `json:"Weight,omitempty"`
	AliasTarget     *aliasTarget     `json:"AliasTarget,omitempty"`
	TTL             int              `json:"TTL,omitempty"`
	ResourceRecords []resourceRecord `json:"ResourceRecords,omitempty"`
}

type resourceRecord struct {
	Value string `json:"Value"`
}

type aliasTarget struct {
	HostedZoneID         string `json:"HostedZoneId"`
	DNSName              string `json:"DNSName"`
	EvaluateTargetHealth bool   `json:"EvaluateTargetHealth"`
}

// shiftCommand UPSERTs both weighted records in one change batch, so Route 53
// applies the two weights atomically and never serves a moment with both at 0.
// The records repeat exactly what weightedRecord creates, only the weights change.
func (b *builder) shiftCommand(sourceWeight, targetWeight int, comment string) string {
	weights := map[naming.Side]int{naming.Source: sourceWeight, naming.Target: targetWeight}
	batch := changeBatch{Comment: comment}
	for _, s := range naming.Sides {
		alias := b.sideAlias(s)
		batch.Changes = append(batch.Changes, change{Action: "UPSERT", ResourceRecordSet: resourceRecordSet{
			Name: b.weightedName(), Type: "A", SetIdentifier: string(s), Weight: ptr(weights[s]),
			AliasTarget: &aliasTarget{HostedZoneID: "${" + idHostedZone + "}", DNSName: alias.DNSName, EvaluateTargetHealth: *alias.EvaluateTargetHealth},
		}})
	}
	return b.changeCommand(batch)
}

// writerCommand UPSERTs the writer record with the address of side's database,
// exactly as writerRecord renders it for WriterSide=side.
func (b *builder) writerCommand(s naming.Side) string {
	return b.changeCommand(changeBatch{
		Comment: fmt.Sprintf("writer record to the %s database", s),
		Changes: []change{{Action: "UPSERT", ResourceRecordSet: resourceRecordSet{
			Name: b.writerName(), Type: "CNAME", TTL: int(b.spec.Cutover.WriterRecordTTLSeconds),
			ResourceRecords: []resourceRecord{{Value: "${" + b.subDBAddress(s) + "}"}},
		}}},
	})
}

func (b *builder) changeCommand(batch changeBatch) string {
	js, err := json.Marshal(batch)
	if err != nil {
		panic(err) // typed change batch always marshals
	}
	return sub(b.cli("route53", "change-resource-record-sets",
		"--hosted-zone-id", "${"+idHostedZone+"}", "--change-batch", "'"+string(js)+"'"))
}

func (b *builder) observabilityOutputs() {
	b.output("DashboardUrl", "CloudWatch dashboard of the migration", sub(fmt.Sprintf(
		"https://%[1]s.console.aws.amazon.com/cloudwatch/home?region=%[1]s#dashboards:name=${%[2]s}", b.region, idDashboard)))
	b.output("AlarmTopicArn", "SNS topic of every alarm (alarm and OK notifications)", ref(idAlarmTopic))
}

// runbookOutputs are the ordered steps; the names sort in order.
func (b *builder) runbookOutputs() {
	logical, freezeEnd, after := "the source parameter group", "", "After the final step: keep replication until the target is confirmed, then run DMSStopTaskCommand."
	if b.reversePath() {
		logical = "the source and target parameter groups"
		freezeEnd = " Stop the forward task, create slot " + b.names.ReverseSlot() + " (test_decoding) on the target and record its LSN for ReverseDMSStartTaskCommand."
		after = "After the final step: run DMSStopTaskCommand; a rollback after the flip fences the target, starts ReverseDMSStartTaskCommand, drains it by watermark and runs Route53WriterToSourceCommand."
	}
	steps := []string{
		"Wait for the stack to reach CREATE_COMPLETE; read these outputs.",
		fmt.Sprintf("Preflight: on %s rds.logical_replication=1 must be in sync (reboot if pending-reboot); test the DMS endpoint connections.", logical),
		"Start replication, once: run DMSStartTaskCommand only if DMSTaskStatusCommand prints ready and the task never ran (after any stop, DMSResumeTaskCommand); follow DMSTaskStatusCommand and DMSTableStatisticsCommand until the full load is complete and CDC is running.",
		fmt.Sprintf("Gates: CDC latency (dashboard DashboardUrl) under %ds for %d consecutive samples, validation without failed records, HealthCheckStatusCommand healthy, no alarm on AlarmTopicArn.",
			b.spec.Replication.LagThresholdSeconds, b.spec.Cutover.Gates.ConsecutiveLagSamples),
		fmt.Sprintf("Shift traffic with the Route53Step<N>PercentCommand outputs in order (%v), at least %ds apart, re-checking the gates before each.",
			b.spec.Cutover.Steps, b.spec.Cutover.StepIntervalSeconds),
		fmt.Sprintf("The freeze, before the final step: fence role %s on the source (ALTER ROLE ... SET default_transaction_read_only = on, end its sessions), "+
			"drain by a watermark row in %s.%s until it is on the target, move the target sequences past the source's.%s "+
			"Then run Route53WriterToTargetCommand and the final step.",
			b.spec.Database.ApplicationUsername, b.spec.Replication.Schema, naming.WatermarkTable, freezeEnd),
		"Any gate failing before the final step: run Route53RollbackToSourceCommand and lift the fence.",
		after,
	}
	for i, step := range steps {
		b.output(fmt.Sprintf("RunbookStep%02d", i+1), fmt.Sprintf("Migration runbook, step %d of %d", i+1, len(steps)), step)
	}
}
