package tapstack

import (
	"encoding/json"
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation/dms"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Replication layer: AWS DMS copies the payment tables from the source to the
// target database, first in full, then change by change (CDC).

const (
	idDmsVpcRole            = "DmsVpcRole"
	idDmsCloudWatchLogsRole = "DmsCloudWatchLogsRole"
	idDmsSecretsAccessRole  = "DmsSecretsAccessRole"
	idDmsSubnetGroup        = "DmsReplicationSubnetGroup"
	idDmsInstance           = "DmsReplicationInstance"
	idDmsTask               = "DmsReplicationTask"
	idDmsReverseTask        = "DmsReverseReplicationTask"

	// reversePlugin is DMS's name of PostgreSQL's test_decoding output plugin,
	// the plugin of the slot the cutover creates on the target at the flip.
	reversePlugin = "test-decoding"
)

func idDmsEndpoint(s naming.Side) string { return sided(s, "DmsEndpoint") }

// idDmsReverseEndpoint is named by the endpoint's DMS role on the reverse
// path: SourceDmsReverseEndpoint reads the target database,
// TargetDmsReverseEndpoint writes into the source database.
func idDmsReverseEndpoint(endpointType naming.Side) string {
	return sided(endpointType, "DmsReverseEndpoint")
}

// other is the opposite side.
func other(s naming.Side) naming.Side {
	if s == naming.Source {
		return naming.Target
	}
	return naming.Source
}

func (b *builder) replication() {
	if b.createServiceRoles() {
		b.dmsServiceRoles()
	}
	b.add(idDmsSecretsAccessRole, role(b.names.DMSSecretsRole(),
		"Lets the DMS endpoints read the database credentials from Secrets Manager",
		b.dmsTrust(), nil,
		inlinePolicy("read-database-secrets", policy(b.secretReadStatement()))))

	subnets := &dms.ReplicationSubnetGroup{
		ReplicationSubnetGroupIdentifier:  ptr(b.names.DMSSubnetGroup()),
		ReplicationSubnetGroupDescription: "Private subnets of the DMS replication instance",
		SubnetIds:                         b.subnetIDs(idPrivateSubnet),
	}
	if b.createServiceRoles() {
		// DMS manages the subnet group's network interfaces through dms-vpc-role,
		// which must exist (with its policy) before the group is created.
		subnets.AWSCloudFormationDependsOn = []string{idDmsVpcRole}
	}
	b.add(idDmsSubnetGroup, subnets)

	r := b.spec.Replication
	b.add(idDmsInstance, &dms.ReplicationInstance{
		ReplicationInstanceIdentifier:    ptr(b.names.DMSInstance()),
		ReplicationInstanceClass:         r.InstanceClass,
		EngineVersion:                    ptr(r.EngineVersion),
		AllocatedStorage:                 ptr(int(r.AllocatedStorageGiB)),
		ReplicationSubnetGroupIdentifier: ptr(ref(idDmsSubnetGroup)),
		VpcSecurityGroupIds:              []string{getAtt(idDmsSecurityGroup, "GroupId")},
		PubliclyAccessible:               ptr(false),
		MultiAZ:                          ptr(false),
		// The engine version is pinned by the spec; upgrades are a spec change.
		AutoMinorVersionUpgrade:  ptr(false),
		AllowMajorVersionUpgrade: ptr(false),
	})
	for _, s := range naming.Sides {
		b.add(idDmsEndpoint(s), b.dmsEndpoint(b.names.DMSEndpoint(s), s, s))
	}
	b.add(idDmsTask, b.dmsTask())
	if b.reversePath() {
		b.reverseReplication()
	}
}

// dmsTrust trusts both forms of the DMS service principal: AWS documents the
// global one for the service roles and the regional one for Secrets Manager
// access, and accounts differ in which one DMS presents.
func (b *builder) dmsTrust() policyDocument {
	return trust("dms.amazonaws.com", serviceHost("dms", b.region))
}

// dmsServiceRoles are account-wide roles that DMS looks up by exact name.
func (b *builder) dmsServiceRoles() {
	b.add(idDmsVpcRole, role(b.names.DMSVPCRole(),
		"DMS manages the network interfaces of replication instances (name required by AWS)",
		b.dmsTrust(),
		[]string{managedPolicy("service-role/AmazonDMSVPCManagementRole")}))
	b.add(idDmsCloudWatchLogsRole, role(b.names.DMSLogsRole(),
		"DMS writes replication task logs to CloudWatch Logs (name required by AWS)",
		b.dmsTrust(),
		[]string{managedPolicy("service-role/AmazonDMSCloudWatchLogsRole")}))
}

// dmsEndpoint is the endpoint of type endpointType on database db. It reaches
// the database only through its master secret: no server name, port, user name
// or password property, so a rotated password needs no stack update.
func (b *builder) dmsEndpoint(identifier string, endpointType, db naming.Side) *dms.Endpoint {
	ep := &dms.Endpoint{
		EndpointIdentifier: ptr(identifier),
		EndpointType:       string(endpointType),
		EngineName:         "postgres",
		DatabaseName:       ptr(b.spec.Database.DatabaseName),
		SslMode:            ptr("require"),
		PostgreSqlSettings: &dms.Endpoint_PostgreSqlSettings{
			SecretsManagerSecretId:      ptr(b.dbSecret(db)),
			SecretsManagerAccessRoleArn: ptr(getAtt(idDmsSecretsAccessRole, "Arn")),
		},
	}
	if b.creates(db) {
		// The secret holds host and port only once the attachment has run.
		ep.AWSCloudFormationDependsOn = []string{idDBSecretAttachment(db)}
	} else {
		// An existing source's secret may be the one RDS manages, which
		// holds the user name and password only.
		ep.ServerName = ptr(b.dbAddress(db))
		ep.Port = ptr(b.dbPort())
	}
	return ep
}

func (b *builder) dmsTask() *dms.ReplicationTask {
	return b.replicationTask(b.names.DMSTask(), b.spec.Replication.MigrationType,
		idDmsEndpoint(naming.Source), idDmsEndpoint(naming.Target), b.validation())
}

func (b *builder) replicationTask(identifier string, migrationType paymentsv1alpha1.MigrationType, source, target string, validation bool) *dms.ReplicationTask {
	task := &dms.ReplicationTask{
		ReplicationTaskIdentifier: ptr(identifier),
		MigrationType:             string(migrationType),
		ReplicationInstanceArn:    ref(idDmsInstance),
		SourceEndpointArn:         ref(source),
		TargetEndpointArn:         ref(target),
		TableMappings:             mustJSON(b.tableMappings()),
		ReplicationTaskSettings:   ptr(mustJSON(b.taskSettings(validation))),
	}
	if b.createServiceRoles() {
		// Task logging goes through dms-cloudwatch-logs-role.
		task.AWSCloudFormationDependsOn = []string{idDmsCloudWatchLogsRole}
	}
	return task
}

// reverseReplication is the way back after the flip (SPEC 4.2d): endpoints of
// their own, from the target database to the source database, and a CDC-only
// task that CloudFormation creates stopped. The cutover creates the slot on
// the target just before the flip and starts the task from the slot's
// consistent point, so every target write after the flip reaches the fenced
// source. The Secrets Manager access role already reads both master secrets.
func (b *builder) reverseReplication() {
	for _, endpointType := range naming.Sides {
		ep := b.dmsEndpoint(b.names.DMSReverseEndpoint(endpointType), endpointType, other(endpointType))
		if endpointType == naming.Source {
			// DMS reads the slot the cutover created instead of creating its
			// own, which would start after the flip point.
			ep.PostgreSqlSettings.SlotName = ptr(b.names.ReverseSlot())
			ep.PostgreSqlSettings.PluginName = ptr(reversePlugin)
		}
		b.add(idDmsReverseEndpoint(endpointType), ep)
	}
	// Validation is off: the task only streams changes from the flip point,
	// while DMS validation compares whole tables, here those of a source that
	// is behind by design until a rollback drains the task by watermark. The
	// forward task validated the copy before the flip.
	b.add(idDmsReverseTask, b.replicationTask(b.names.DMSReverseTask(), paymentsv1alpha1.MigrationTypeCDC,
		idDmsReverseEndpoint(naming.Source), idDmsReverseEndpoint(naming.Target), false))
}

type tableMappings struct {
	Rules []selectionRule `json:"rules"`
}

type selectionRule struct {
	RuleType      string        `json:"rule-type"`
	RuleID        string        `json:"rule-id"`
	RuleName      string        `json:"rule-name"`
	ObjectLocator objectLocator `json:"object-locator"`
	RuleAction    string        `json:"rule-action"`
}

type objectLocator struct {
	SchemaName string `json:"schema-name"`
	TableName  string `json:"table-name"`
}

// tableMappings selects exactly the payment tables of spec.replication and
// the cutover's watermark table: the freeze writes a row into it on one side
// and waits for that row on the other, which proves every payment committed
// before it has been applied.
func (b *builder) tableMappings() tableMappings {
	var m tableMappings
	include := func(name, table string) {
		m.Rules = append(m.Rules, selectionRule{
			RuleType:      "selection",
			RuleID:        fmt.Sprint(len(m.Rules) + 1),
			RuleName:      name,
			ObjectLocator: objectLocator{SchemaName: b.spec.Replication.Schema, TableName: table},
			RuleAction:    "include",
		})
	}
	for i, table := range b.spec.Replication.Tables {
		include(fmt.Sprintf("include-%d", i+1), table)
	}
	include("include-cutover-watermark", naming.WatermarkTable)
	return m
}

type taskSettings struct {
	TargetMetadata     targetMetadata     `json:"TargetMetadata"`
	FullLoadSettings   fullLoadSettings   `json:"FullLoadSettings"`
	Logging            logging            `json:"Logging"`
	ValidationSettings validationSettings `json:"ValidationSettings"`
}

type targetMetadata struct {
	SupportLobs        bool  `json:"SupportLobs"`
	FullLobMode        bool  `json:"FullLobMode"`
	LobChunkSize       int32 `json:"LobChunkSize,omitempty"`
	LimitedSizeLobMode bool  `json:"LimitedSizeLobMode"`
	LobMaxSize         int32 `json:"LobMaxSize"`
}

// lobSettings: limited LOB mode truncates values over LobMaxSize (KB), which
// preflight guards against by measuring the largest value; full LOB mode
// copies any size in chunks.
func (b *builder) lobSettings() targetMetadata {
	r := b.spec.Replication
	if r.LOBMode == paymentsv1alpha1.LOBModeFull {
		return targetMetadata{SupportLobs: true, FullLobMode: true, LobChunkSize: 64}
	}
	return targetMetadata{SupportLobs: true, LimitedSizeLobMode: true, LobMaxSize: r.LOBMaxSizeKiB}
}

type fullLoadSettings struct {
	TargetTablePrepMode string `json:"TargetTablePrepMode"`
	MaxFullLoadSubTasks int    `json:"MaxFullLoadSubTasks"`
}

type logging struct {
	EnableLogging bool           `json:"EnableLogging"`
	LogComponents []logComponent `json:"LogComponents"`
}

type logComponent struct {
	ID       string `json:"Id"`
	Severity string `json:"Severity"`
}

type validationSettings struct {
	EnableValidation bool   `json:"EnableValidation"`
	ValidationMode   string `json:"ValidationMode"`
	ThreadCount      int    `json:"ThreadCount"`
	FailureMaxCount  int    `json:"FailureMaxCount"`
}

func (b *builder) taskSettings(validation bool) taskSettings {
	components := []string{"SOURCE_CAPTURE", "SOURCE_UNLOAD", "TARGET_APPLY", "TARGET_LOAD", "TASK_MANAGER", "VALIDATOR_EXT"}
	var logs []logComponent
	for _, c := range components {
		logs = append(logs, logComponent{ID: c, Severity: "LOGGER_SEVERITY_DEFAULT"})
	}
	return taskSettings{
		TargetMetadata: b.lobSettings(),
		// The operator creates the target tables from the source's schema in
		// preflight (unique keys, defaults, foreign keys, indexes); DMS must
		// use them as they are. DROP_AND_CREATE would re-create them with the
		// primary key only, and a payment's idempotency key could then be
		// stored twice.
		FullLoadSettings:   fullLoadSettings{TargetTablePrepMode: "DO_NOTHING", MaxFullLoadSubTasks: 8},
		Logging:            logging{EnableLogging: true, LogComponents: logs},
		ValidationSettings: validationSettings{EnableValidation: validation, ValidationMode: "ROW_LEVEL", ThreadCount: 5, FailureMaxCount: 10000},
	}
}

func mustJSON(v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // typed settings always marshal
	}
	return string(out)
}
