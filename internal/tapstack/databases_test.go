package tapstack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
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

// The source always captures changes for DMS; the target does too when the
// reverse path may capture its writes after the flip.
func TestParameterGroupsForceSSLAndEnableLogicalReplicationWhereCaptured(t *testing.T) {
	withReverse, noReverse := sampleSpec(t), sampleSpec(t)
	noReverse.Cutover.ReversePath = ptr(false)
	for _, c := range []struct {
		name string
		spec v1alpha1.PaymentMigrationSpec
		want map[naming.Side]map[string]any
	}{
		{"reverse path (default)", withReverse, map[naming.Side]map[string]any{
			naming.Source: {"rds.force_ssl": "1", "rds.logical_replication": "1"},
			naming.Target: {"rds.force_ssl": "1", "rds.logical_replication": "1"},
		}},
		{"no reverse path", noReverse, map[naming.Side]map[string]any{
			naming.Source: {"rds.force_ssl": "1", "rds.logical_replication": "1"},
			naming.Target: {"rds.force_ssl": "1"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := rendered(t, synth(t, c.spec, sampleRegion))
			for s, want := range c.want {
				p := d.props(t, idDBParameterGroup(s))
				mustEqual(t, string(s)+" Family", p["Family"], "postgres14")
				mustEqual(t, string(s)+" Parameters", p["Parameters"], want)
				mustEqual(t, string(s)+" instance's group", d.props(t, idDatabase(s))["DBParameterGroupName"], refTo(idDBParameterGroup(s)))
			}
		})
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

// The service's own role has its own generated secret whose host is the writer
// record (so the service follows the flip), generated like the master secrets.
func TestAppSecretIsGeneratedForTheApplicationRoleWithTheWriterRecordAsHost(t *testing.T) {
	spec, region := variantSpec(t, noReversePath)
	for _, c := range []struct {
		name string
		d    doc
		want map[string]any
	}{
		{"sample", sampleDoc(t), map[string]any{"username": "payments_app", "host": "db.payments.internal", "port": 5432, "dbname": "payments"}},
		{"custom", rendered(t, synth(t, spec, region)), map[string]any{"username": "ledger_svc", "host": "primary.payments.internal", "port": 5432, "dbname": "payments"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			secret := c.d.props(t, idAppSecret)
			mustEqual(t, "Name", secret["Name"], "app-credentials-pr6185")
			var template map[string]any
			if err := json.Unmarshal([]byte(at(secret, "GenerateSecretString", "SecretStringTemplate").(string)), &template); err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "SecretStringTemplate", template, c.want)
			master := c.d.props(t, idDBSecret(naming.Source))
			for _, k := range []string{"GenerateStringKey", "PasswordLength", "ExcludeCharacters"} {
				mustEqual(t, k, at(secret, "GenerateSecretString", k), at(master, "GenerateSecretString", k))
			}
			mustEqual(t, "KmsKeyId like the master secrets", secret["KmsKeyId"], master["KmsKeyId"])
			for _, id := range c.d.ofType("AWS::SecretsManager::SecretTargetAttachment") {
				if at(c.d.props(t, id), "SecretId", "Ref") == idAppSecret {
					t.Errorf("%s attaches the app secret to an instance; it would overwrite host with the instance address", id)
				}
			}
			mustEqual(t, "output", c.d.outputs()[OutputAppDbSecretArn]["Value"], refTo(idAppSecret))
		})
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
