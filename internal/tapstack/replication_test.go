package tapstack

import (
	"encoding/json"
	"slices"
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
	for _, id := range []string{idDmsSubnetGroup, idDmsTask} {
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
	mustEqual(t, "tables", tables, []string{"payments", "transactions", "refunds", "payment_%"})
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
	mustEqual(t, "rules", m.Rules, []selectionRule{{RuleType: "selection", RuleID: "1", RuleName: "include-1",
		ObjectLocator: objectLocator{SchemaName: "billing", TableName: "ledger"}, RuleAction: "include"}})
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
