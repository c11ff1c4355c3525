package tapstack

import (
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

func TestDatabasesArePostgres14EncryptedWithBackupsAndDeletable(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		t.Run(string(s), func(t *testing.T) {
			p := d.props(t, idDatabase(s))
			want := map[string]any{
				"DBInstanceIdentifier": "rds-" + string(s) + "-pr6185",
				"Engine":               "postgres", "EngineVersion": "14", "DBInstanceClass": "db.r5.large",
				"AllocatedStorage": "100", "StorageEncrypted": true, "BackupRetentionPeriod": 7,
				"DeletionProtection": false, "PubliclyAccessible": false, "DBName": "payments", "Port": "5432",
			}
			for k, v := range want {
				mustEqual(t, k, p[k], v)
			}
			if _, ok := p["KmsKeyId"]; ok {
				t.Error("KmsKeyId set although spec.database.kmsKeyID is empty")
			}
		})
	}
}

func TestDatabaseKMSKeyIsUsedWhenGiven(t *testing.T) {
	spec, region := variantSpec(t, variants[2])
	d := rendered(t, synth(t, spec, region))
	mustEqual(t, "KmsKeyId", d.props(t, idDatabase(naming.Target))["KmsKeyId"], spec.Database.KMSKeyID)
}

func TestParameterGroupsForceSSLAndSourceEnablesLogicalReplication(t *testing.T) {
	d := sampleDoc(t)
	cases := map[naming.Side]map[string]any{
		naming.Source: {"rds.force_ssl": "1", "rds.logical_replication": "1"},
		naming.Target: {"rds.force_ssl": "1"},
	}
	for s, want := range cases {
		p := d.props(t, idDBParameterGroup(s))
		mustEqual(t, string(s)+" Family", p["Family"], "postgres14")
		mustEqual(t, string(s)+" Parameters", p["Parameters"], want)
		mustEqual(t, string(s)+" instance's group", d.props(t, idDatabase(s))["DBParameterGroupName"], refTo(idDBParameterGroup(s)))
	}
}

func TestMasterCredentialsAreGeneratedSecretsReachedByDynamicReference(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		secret := d.props(t, idDBSecret(s))
		mustEqual(t, "secret name", secret["Name"], "rds-credentials-"+string(s)+"-pr6185")
		mustEqual(t, "GenerateStringKey", at(secret, "GenerateSecretString", "GenerateStringKey"), "password")
		mustEqual(t, "SecretStringTemplate", at(secret, "GenerateSecretString", "SecretStringTemplate"), `{"username":"paymentsadmin"}`)
		if excl := at(secret, "GenerateSecretString", "ExcludeCharacters").(string); !strings.ContainsAny(excl, `@/"`) {
			t.Errorf("ExcludeCharacters %q lets through characters RDS refuses", excl)
		}
		db := d.props(t, idDatabase(s))
		for key, prop := range map[string]string{"password": "MasterUserPassword", "username": "MasterUsername"} {
			mustEqual(t, prop, db[prop], map[string]any{"Fn::Sub": "{{resolve:secretsmanager:${" + idDBSecret(s) + "}:SecretString:" + key + "}}"})
		}
	}
}

func TestSecretsAreAttachedToTheirInstances(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		mustEqual(t, string(s)+" attachment", d.props(t, idDBSecretAttachment(s)), map[string]any{
			"SecretId": refTo(idDBSecret(s)), "TargetId": refTo(idDatabase(s)), "TargetType": "AWS::RDS::DBInstance",
		})
	}
}

func TestDatabasesLiveInPrivateSubnetsBehindTheirSecurityGroup(t *testing.T) {
	d := sampleDoc(t)
	mustEqual(t, "subnets", d.props(t, idDBSubnetGroup)["SubnetIds"], []any{refTo("PrivateSubnet1"), refTo("PrivateSubnet2")})
	for _, s := range naming.Sides {
		mustEqual(t, "VPCSecurityGroups", d.props(t, idDatabase(s))["VPCSecurityGroups"], []any{getAttOf(idDBSecurityGroup, "GroupId")})
	}
}

func TestBareMajorEngineVersionWarningIsIgnoredOnlyForMajorOnly(t *testing.T) {
	d := sampleDoc(t)
	mustEqual(t, "sample ignore", at(d.resource(t, idDatabase(naming.Source)), "Metadata", "cfn-lint", "config", "ignore_checks"), []string{"W3691"})
	spec, region := variantSpec(t, variants[2]) // pins 14.17
	pinned := rendered(t, synth(t, spec, region))
	if md := pinned.resource(t, idDatabase(naming.Source))["Metadata"]; md != nil {
		t.Errorf("a pinned minor version must be linted, got metadata %s", js(md))
	}
}
