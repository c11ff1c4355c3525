package tapstack

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

func TestDMSServiceRolesHaveExactNamesAndManagedPolicies(t *testing.T) {
	d := sampleDoc(t)
	cases := map[string]struct{ name, policy string }{
		idDmsVpcRole:            {"dms-vpc-role", "AmazonDMSVPCManagementRole"},
		idDmsCloudWatchLogsRole: {"dms-cloudwatch-logs-role", "AmazonDMSCloudWatchLogsRole"},
	}
	for id, c := range cases {
		p := d.props(t, id)
		mustEqual(t, id+" RoleName", p["RoleName"], c.name)
		mustEqual(t, id+" ManagedPolicyArns", p["ManagedPolicyArns"],
			[]any{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/" + c.policy}})
	}
}

func TestDMSRolesTrustTheGlobalAndRegionalServicePrincipals(t *testing.T) {
	d := sampleDoc(t)
	want := []any{"dms.amazonaws.com", "dms.us-east-1.amazonaws.com"}
	for _, id := range []string{idDmsVpcRole, idDmsCloudWatchLogsRole, idDmsSecretsAccessRole} {
		stmt := at(d.props(t, id), "AssumeRolePolicyDocument", "Statement", 0)
		mustEqual(t, id+" principals", at(stmt, "Principal", "Service"), want)
		mustEqual(t, id+" action", at(stmt, "Action"), []any{"sts:AssumeRole"})
	}
}

func TestReplicationSubnetGroupDependsOnTheVPCRole(t *testing.T) {
	d := sampleDoc(t)
	mustEqual(t, "DependsOn", d.resource(t, idDmsSubnetGroup)["DependsOn"], []string{idDmsVpcRole})
	mustEqual(t, "SubnetIds", d.props(t, idDmsSubnetGroup)["SubnetIds"], []any{refTo("PrivateSubnet1"), refTo("PrivateSubnet2")})
}

func TestServiceRolesCanBeLeftOutForAccountsThatHaveThem(t *testing.T) {
	spec, region := variantSpec(t, variants[0])
	d := rendered(t, synth(t, spec, region))
	for _, id := range []string{idDmsVpcRole, idDmsCloudWatchLogsRole} {
		if _, ok := d.resources()[id]; ok {
			t.Errorf("%s created although createServiceRoles is false", id)
		}
	}
	for _, id := range []string{idDmsSubnetGroup, idDmsTask, idDmsReverseTask} {
		if deps := d.resource(t, id)["DependsOn"]; deps != nil {
			t.Errorf("%s still depends on %s", id, js(deps))
		}
	}
}

func TestReplicationInstanceIsPrivateOnThePinnedEngine(t *testing.T) {
	p := sampleDoc(t).props(t, idDmsInstance)
	for k, v := range map[string]any{
		"EngineVersion": "3.5.4", "ReplicationInstanceClass": "dms.r5.large", "PubliclyAccessible": false,
		"ReplicationInstanceIdentifier": "dms-instance-pr6185", "AllocatedStorage": 100,
		"ReplicationSubnetGroupIdentifier": refTo(idDmsSubnetGroup), "AutoMinorVersionUpgrade": false,
	} {
		mustEqual(t, k, p[k], v)
	}
}

func TestEndpointsUseOnlySecretsManagerCredentialsAndRequireSSL(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		p := d.props(t, idDmsEndpoint(s))
		for _, forbidden := range []string{"Username", "Password", "ServerName", "Port"} {
			if _, ok := p[forbidden]; ok {
				t.Errorf("%s endpoint sets %s; credentials must come from the secret only", s, forbidden)
			}
		}
		mustEqual(t, "EndpointType", p["EndpointType"], string(s))
		mustEqual(t, "EngineName", p["EngineName"], "postgres")
		mustEqual(t, "SslMode", p["SslMode"], "require")
		mustEqual(t, "PostgreSqlSettings", p["PostgreSqlSettings"], map[string]any{
			"SecretsManagerSecretId":      refTo(idDBSecret(s)),
			"SecretsManagerAccessRoleArn": getAttOf(idDmsSecretsAccessRole, "Arn"),
		})
		mustEqual(t, "DependsOn", d.resource(t, idDmsEndpoint(s))["DependsOn"], []string{idDBSecretAttachment(s)})
	}
}

func TestSecretsAccessRoleReadsOnlyTheTwoDatabaseSecrets(t *testing.T) {
	stmts := at(sampleDoc(t).props(t, idDmsSecretsAccessRole), "Policies", 0, "PolicyDocument", "Statement").([]any)
	if len(stmts) != 1 {
		t.Fatalf("statements = %s", js(stmts))
	}
	mustEqual(t, "Resource", at(stmts[0], "Resource"), []any{refTo(idDBSecret(naming.Source)), refTo(idDBSecret(naming.Target))})
	mustEqual(t, "Action", at(stmts[0], "Action"), []any{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"})
}

func TestTaskIsFullLoadAndCDCOfThePaymentTables(t *testing.T) {
	p := sampleDoc(t).props(t, idDmsTask)
	mustEqual(t, "MigrationType", p["MigrationType"], "full-load-and-cdc")
	mustEqual(t, "endpoints", []any{p["SourceEndpointArn"], p["TargetEndpointArn"], p["ReplicationInstanceArn"]},
		[]any{refTo("SourceDmsEndpoint"), refTo("TargetDmsEndpoint"), refTo(idDmsInstance)})
	var m tableMappings
	if err := json.Unmarshal([]byte(p["TableMappings"].(string)), &m); err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, r := range m.Rules {
		if r.RuleType != "selection" || r.RuleAction != "include" || r.ObjectLocator.SchemaName != "public" {
			t.Errorf("rule %+v is not an include selection of schema public", r)
		}
		tables = append(tables, r.ObjectLocator.TableName)
	}
	mustEqual(t, "tables", tables, []string{"payments", "transactions", "refunds", "payment_%", naming.WatermarkTable})
}

func TestTaskSettingsEnableCloudWatchLoggingAndValidation(t *testing.T) {
	cases := []struct {
		name       string
		d          doc
		validation bool
	}{{"sample", sampleDoc(t), true}}
	spec, region := variantSpec(t, variants[2])
	cases = append(cases, struct {
		name       string
		d          doc
		validation bool
	}{"validation off", rendered(t, synth(t, spec, region)), false})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s taskSettings
			if err := json.Unmarshal([]byte(c.d.props(t, idDmsTask)["ReplicationTaskSettings"].(string)), &s); err != nil {
				t.Fatal(err)
			}
			if !s.Logging.EnableLogging || len(s.Logging.LogComponents) == 0 {
				t.Errorf("logging = %+v, want enabled", s.Logging)
			}
			mustEqual(t, "EnableValidation", s.ValidationSettings.EnableValidation, c.validation)
		})
	}
}

func TestTaskLoggingWaitsForTheCloudWatchLogsRole(t *testing.T) {
	deps, _ := sampleDoc(t).resource(t, idDmsTask)["DependsOn"].([]any)
	if !slices.Contains(deps, any(idDmsCloudWatchLogsRole)) {
		t.Errorf("task DependsOn = %v, want %s", deps, idDmsCloudWatchLogsRole)
	}
}

func TestCustomSchemaAndTablesAreSelected(t *testing.T) {
	spec, region := variantSpec(t, variants[3])
	var m tableMappings
	if err := json.Unmarshal([]byte(rendered(t, synth(t, spec, region)).props(t, idDmsTask)["TableMappings"].(string)), &m); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "rules", m.Rules, []selectionRule{
		{RuleType: "selection", RuleID: "1", RuleName: "include-1",
			ObjectLocator: objectLocator{SchemaName: "billing", TableName: "ledger"}, RuleAction: "include"},
		{RuleType: "selection", RuleID: "2", RuleName: "include-cutover-watermark",
			ObjectLocator: objectLocator{SchemaName: "billing", TableName: naming.WatermarkTable}, RuleAction: "include"},
	})
}

func mappingsOf(t *testing.T, d doc, taskID string) tableMappings {
	t.Helper()
	var m tableMappings
	if err := json.Unmarshal([]byte(d.props(t, taskID)["TableMappings"].(string)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The freeze drains by a watermark row written on one side and awaited on the
// other, in either direction, so both tasks must carry the control table.
func TestBothTasksSelectTheWatermarkTableOfTheReplicatedSchema(t *testing.T) {
	spec, region := variantSpec(t, variants[3]) // schema billing
	for _, c := range []struct {
		name, task, schema string
		d                  doc
	}{
		{"forward", idDmsTask, "public", sampleDoc(t)},
		{"reverse", idDmsReverseTask, "public", sampleDoc(t)},
		{"forward, custom schema", idDmsTask, "billing", rendered(t, synth(t, spec, region))},
		{"reverse, custom schema", idDmsReverseTask, "billing", rendered(t, synth(t, spec, region))},
	} {
		t.Run(c.name, func(t *testing.T) {
			found := 0
			ids := map[string]bool{}
			for _, r := range mappingsOf(t, c.d, c.task).Rules {
				if ids[r.RuleID] {
					t.Errorf("rule id %s repeats", r.RuleID)
				}
				ids[r.RuleID] = true
				if r.ObjectLocator.TableName == naming.WatermarkTable {
					found++
					mustEqual(t, "watermark rule", []string{r.RuleType, r.RuleAction, r.ObjectLocator.SchemaName}, []string{"selection", "include", c.schema})
				}
			}
			if found != 1 {
				t.Errorf("%d selection rules for %s, want 1", found, naming.WatermarkTable)
			}
		})
	}
}

func TestReversePathExistsOnlyWhenEnabled(t *testing.T) {
	spec, region := variantSpec(t, noReversePath)
	reverse := []string{idDmsReverseEndpoint(naming.Source), idDmsReverseEndpoint(naming.Target), idDmsReverseTask}
	reverseOutputs := []string{OutputReverseDMSTaskArn, "ReverseDMSSourceEndpointArn", "ReverseDMSTargetEndpointArn",
		"ReverseDMSStartTaskCommand", "ReverseDMSStopTaskCommand", "ReverseDMSTaskStatusCommand"}
	for _, c := range []struct {
		name string
		d    doc
		want bool
	}{{"reversePath true (default)", sampleDoc(t), true}, {"reversePath false", rendered(t, synth(t, spec, region)), false}} {
		t.Run(c.name, func(t *testing.T) {
			for _, id := range reverse {
				if _, ok := c.d.resources()[id]; ok != c.want {
					t.Errorf("resource %s present = %v, want %v", id, ok, c.want)
				}
			}
			for _, name := range reverseOutputs {
				if _, ok := c.d.outputs()[name]; ok != c.want {
					t.Errorf("output %s present = %v, want %v", name, ok, c.want)
				}
			}
			if text := js(map[string]any(c.d)); strings.Contains(text, "reverse-") != c.want {
				t.Errorf("template mentions reverse resources = %v, want %v", !c.want, c.want)
			}
		})
	}
}

// The reverse path reads the target and writes into the source, through the
// master secrets like the forward endpoints, and reads the slot the cutover
// creates at the flip.
func TestReverseEndpointsRunFromTheTargetToTheSource(t *testing.T) {
	d := sampleDoc(t)
	for _, c := range []struct {
		endpointType naming.Side
		name         string
		reads        naming.Side
		settings     map[string]any
	}{
		{naming.Source, "dms-reverse-endpoint-source-pr6185", naming.Target, map[string]any{
			"SecretsManagerSecretId": refTo(idDBSecret(naming.Target)), "SecretsManagerAccessRoleArn": getAttOf(idDmsSecretsAccessRole, "Arn"),
			"SlotName": "tapstack_reverse_pr6185", "PluginName": "test-decoding"}},
		{naming.Target, "dms-reverse-endpoint-target-pr6185", naming.Source, map[string]any{
			"SecretsManagerSecretId": refTo(idDBSecret(naming.Source)), "SecretsManagerAccessRoleArn": getAttOf(idDmsSecretsAccessRole, "Arn")}},
	} {
		t.Run(string(c.endpointType), func(t *testing.T) {
			id := idDmsReverseEndpoint(c.endpointType)
			p := d.props(t, id)
			for _, forbidden := range []string{"Username", "Password", "ServerName", "Port"} {
				if _, ok := p[forbidden]; ok {
					t.Errorf("%s sets %s; credentials must come from the secret only", id, forbidden)
				}
			}
			mustEqual(t, "EndpointIdentifier", p["EndpointIdentifier"], c.name)
			mustEqual(t, "EndpointType", p["EndpointType"], string(c.endpointType))
			mustEqual(t, "EngineName/SslMode/DatabaseName", []any{p["EngineName"], p["SslMode"], p["DatabaseName"]}, []any{"postgres", "require", "payments"})
			mustEqual(t, "PostgreSqlSettings", p["PostgreSqlSettings"], c.settings)
			mustEqual(t, "DependsOn", d.resource(t, id)["DependsOn"], []string{idDBSecretAttachment(c.reads)})
		})
	}
}

// Every endpoint, forward or reverse, reads a secret the access role may read.
func TestSecretsAccessRoleCoversEveryEndpoint(t *testing.T) {
	d := sampleDoc(t)
	readable := js(at(d.props(t, idDmsSecretsAccessRole), "Policies", 0, "PolicyDocument", "Statement", 0, "Resource"))
	endpoints := d.ofType("AWS::DMS::Endpoint")
	if len(endpoints) != 4 {
		t.Fatalf("endpoints %v, want 4", endpoints)
	}
	for _, id := range endpoints {
		secret := at(d.props(t, id), "PostgreSqlSettings", "SecretsManagerSecretId")
		if !strings.Contains(readable, js(secret)) {
			t.Errorf("%s reads %s, which the access role cannot read (%s)", id, js(secret), readable)
		}
		mustEqual(t, id+" role", at(d.props(t, id), "PostgreSqlSettings", "SecretsManagerAccessRoleArn"), getAttOf(idDmsSecretsAccessRole, "Arn"))
	}
}

func TestReverseTaskIsCDCOnlyWithTheForwardMappingsAndNoValidation(t *testing.T) {
	d := sampleDoc(t)
	r := d.resource(t, idDmsReverseTask)
	p := d.props(t, idDmsReverseTask)
	forward := d.props(t, idDmsTask)
	mustEqual(t, "ReplicationTaskIdentifier", p["ReplicationTaskIdentifier"], "dms-reverse-task-pr6185")
	mustEqual(t, "MigrationType", p["MigrationType"], "cdc")
	mustEqual(t, "endpoints and instance", []any{p["SourceEndpointArn"], p["TargetEndpointArn"], p["ReplicationInstanceArn"]},
		[]any{refTo("SourceDmsReverseEndpoint"), refTo("TargetDmsReverseEndpoint"), refTo(idDmsInstance)})
	mustEqual(t, "TableMappings", p["TableMappings"], forward["TableMappings"])
	for _, absent := range []string{"CdcStartPosition", "CdcStartTime", "CdcStopPosition"} {
		if _, ok := p[absent]; ok {
			t.Errorf("reverse task sets %s; the cutover starts it at the slot's consistent point", absent)
		}
	}
	var settings, forwardSettings map[string]any
	if err := json.Unmarshal([]byte(p["ReplicationTaskSettings"].(string)), &settings); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(forward["ReplicationTaskSettings"].(string)), &forwardSettings); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "TargetTablePrepMode", at(settings, "FullLoadSettings", "TargetTablePrepMode"), "DO_NOTHING")
	mustEqual(t, "Logging", settings["Logging"], forwardSettings["Logging"])
	mustEqual(t, "TargetMetadata", settings["TargetMetadata"], forwardSettings["TargetMetadata"])
	mustEqual(t, "EnableValidation", at(settings, "ValidationSettings", "EnableValidation"), false)
	mustEqual(t, "DependsOn", r["DependsOn"], []string{idDmsCloudWatchLogsRole})
}

// The reverse start command is only for a rollback after the flip, and refuses
// to run until the start position is set: starting it anywhere else would
// replay or skip target writes.
func TestReverseTaskCommandsStartAtTheRecordedFlipPoint(t *testing.T) {
	d := sampleDoc(t)
	cmds := commands(t, d)
	start := d.outputs()["ReverseDMSStartTaskCommand"]
	if desc := start["Description"].(string); !strings.Contains(desc, "rollback after the flip only") {
		t.Errorf("start description %q does not say it is for a rollback after the flip only", desc)
	}
	for _, c := range []struct {
		output, op string
		flags      map[string]string
	}{
		{"ReverseDMSStartTaskCommand", "dms start-replication-task", map[string]string{
			"--start-replication-task-type": "start-replication",
			"--cdc-start-position":          "${REVERSE_SLOT_LSN:?set REVERSE_SLOT_LSN to status.cutover.reverseSlotLSN}"}},
		{"ReverseDMSStopTaskCommand", "dms stop-replication-task", nil},
		{"ReverseDMSTaskStatusCommand", "dms describe-replication-tasks", map[string]string{
			"--filters": "Name=replication-task-arn,Values=arn:aws:dms:us-east-1:123456789012:task:ZYXWVUTSRQPONMLKJIHGFEDCBA"}},
	} {
		t.Run(c.output, func(t *testing.T) {
			op, flags := parseCommand(t, cmds[c.output])
			mustEqual(t, "operation", op, c.op)
			if c.op != "dms describe-replication-tasks" {
				mustEqual(t, "task", flags["--replication-task-arn"], "arn:aws:dms:us-east-1:123456789012:task:ZYXWVUTSRQPONMLKJIHGFEDCBA")
			}
			for k, v := range c.flags {
				mustEqual(t, k, flags[k], v)
			}
		})
	}
}

func taskSettingsOf(t *testing.T, d doc) map[string]any {
	t.Helper()
	var settings map[string]any
	if err := json.Unmarshal([]byte(d.props(t, idDmsTask)["ReplicationTaskSettings"].(string)), &settings); err != nil {
		t.Fatal(err)
	}
	return settings
}

// The operator creates the target tables in preflight; DROP_AND_CREATE would
// replace them with primary-key-only copies.
func TestTaskUsesTheTargetTablesThePreflightCreated(t *testing.T) {
	mustEqual(t, "TargetTablePrepMode", at(taskSettingsOf(t, sampleDoc(t)), "FullLoadSettings", "TargetTablePrepMode"), "DO_NOTHING")
}

func TestTaskLOBSettingsFollowTheSpec(t *testing.T) {
	for _, tc := range []struct {
		mode v1alpha1.LOBMode
		kib  int32
		want map[string]any
	}{
		{v1alpha1.LOBModeLimited, 32, map[string]any{"SupportLobs": true, "FullLobMode": false, "LimitedSizeLobMode": true, "LobMaxSize": 32.0}},
		{v1alpha1.LOBModeLimited, 2048, map[string]any{"SupportLobs": true, "FullLobMode": false, "LimitedSizeLobMode": true, "LobMaxSize": 2048.0}},
		{v1alpha1.LOBModeFull, 32, map[string]any{"SupportLobs": true, "FullLobMode": true, "LobChunkSize": 64.0, "LimitedSizeLobMode": false, "LobMaxSize": 0.0}},
	} {
		spec := sampleSpec(t)
		spec.Replication.LOBMode, spec.Replication.LOBMaxSizeKiB = tc.mode, tc.kib
		mustEqual(t, string(tc.mode), at(taskSettingsOf(t, rendered(t, synth(t, spec, sampleRegion))), "TargetMetadata"), tc.want)
	}
}
