package existingsource

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

func dbInstance(mutate func(map[string]any)) *unstructured.Unstructured {
	obj := map[string]any{
		"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
		"metadata": map[string]any{"name": "payments", "namespace": "shop"},
		"spec":     map[string]any{"dbInstanceIdentifier": "payments-prod", "engine": "postgres", "dbInstanceClass": "db.r5.large"},
		"status": map[string]any{
			"ackResourceMetadata": map[string]any{"arn": "arn:aws:rds:us-east-1:123456789012:db:payments-prod", "region": "us-east-1", "ownerAccountID": "123456789012"},
			"endpoint":            map[string]any{"address": "payments-prod.abc.us-east-1.rds.amazonaws.com", "port": int64(5432)},
			"masterUserSecret":    map[string]any{"secretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf"},
			"vpcSecurityGroups":   []any{map[string]any{"vpcSecurityGroupID": "sg-0aaaaaaaaaaaaaaaa", "status": "active"}, map[string]any{"vpcSecurityGroupID": "sg-0bbbbbbbbbbbbbbbb"}},
			"dbParameterGroups":   []any{map[string]any{"dbParameterGroupName": "payments-pg14", "parameterApplyStatus": "in-sync"}},
			"conditions":          []any{map[string]any{"type": "ACK.ResourceSynced", "status": "True"}},
		},
	}
	if mutate != nil {
		mutate(obj)
	}
	return &unstructured.Unstructured{Object: obj}
}

func bucket(mutate func(map[string]any)) *unstructured.Unstructured {
	obj := map[string]any{
		"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
		"metadata": map[string]any{"name": "logs", "namespace": "shop"},
		"spec":     map[string]any{"name": "payments-prod-logs"},
		"status": map[string]any{"ackResourceMetadata": map[string]any{"region": "us-east-1"},
			"conditions": []any{map[string]any{"type": "ACK.ResourceSynced", "status": "True"}}},
	}
	if mutate != nil {
		mutate(obj)
	}
	return &unstructured.Unstructured{Object: obj}
}

func status(obj map[string]any) map[string]any { return obj["status"].(map[string]any) }

var ackSpec = v1alpha1.ACKSource{DBInstance: v1alpha1.ACKReference{Name: "payments"}, Bucket: v1alpha1.ACKReference{Name: "logs"}}

func TestFromACKReadsTheStatusOfTheObjects(t *testing.T) {
	src, p := FromACK(ackSpec, ACKObjects{DBInstance: dbInstance(nil), Bucket: bucket(nil)}, "shop", "us-east-1", 5432)
	if p != nil {
		t.Fatal(p)
	}
	want := Source{DBInstanceID: "payments-prod", DBInstanceARN: "arn:aws:rds:us-east-1:123456789012:db:payments-prod",
		Address: "payments-prod.abc.us-east-1.rds.amazonaws.com", Port: 5432,
		MasterSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf",
		SecurityGroupID: "sg-0aaaaaaaaaaaaaaaa", BucketName: "payments-prod-logs", ParameterGroup: "payments-pg14"}
	if src.DBInstanceID != want.DBInstanceID || src.DBInstanceARN != want.DBInstanceARN || src.Address != want.Address || src.Port != want.Port ||
		src.MasterSecretARN != want.MasterSecretARN || src.SecurityGroupID != want.SecurityGroupID || src.BucketName != want.BucketName || src.ParameterGroup != want.ParameterGroup {
		t.Errorf("resolved %+v, want %+v", src, want)
	}
	spec := ackSpec
	spec.SecurityGroupID, spec.MasterSecretARN = "sg-0bbbbbbbbbbbbbbbb", "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"
	src, p = FromACK(spec, ACKObjects{DBInstance: dbInstance(nil), Bucket: bucket(nil)}, "shop", "us-east-1", 5432)
	if p != nil || src.SecurityGroupID != spec.SecurityGroupID || src.MasterSecretARN != spec.MasterSecretARN {
		t.Errorf("overrides: %+v %v", src, p)
	}
}

func TestFromACKRefusesWhatCannotBeUsedNamingTheField(t *testing.T) {
	other := ackSpec
	other.DBInstance.Namespace = "bank"
	pgSpec := ackSpec
	pgSpec.DBParameterGroup = &v1alpha1.ACKReference{Name: "payments-pg"}
	sg := ackSpec
	sg.SecurityGroupID = "sg-0cccccccccccccccc"
	for _, c := range []struct {
		name         string
		spec         v1alpha1.ACKSource
		objs         ACKObjects
		ns           string
		reason, text string
		field        string
	}{
		{"no instance", ackSpec, ACKObjects{Bucket: bucket(nil)}, "shop", "SourceNotFound", "DBInstance shop/payments does not exist", "spec.source.ack.dbInstance"},
		{"no bucket", ackSpec, ACKObjects{DBInstance: dbInstance(nil)}, "shop", "SourceNotFound", "Bucket shop/logs", "spec.source.ack.bucket"},
		{"not synced", ackSpec, ACKObjects{DBInstance: dbInstance(func(o map[string]any) {
			status(o)["conditions"] = []any{map[string]any{"type": "ACK.ResourceSynced", "status": "False", "message": "creating"}}
		}), Bucket: bucket(nil)}, "shop", "SourceNotSynced", "not synced with AWS: creating", "spec.source.ack.dbInstance"},
		{"no conditions yet", ackSpec, ACKObjects{DBInstance: dbInstance(func(o map[string]any) { delete(status(o), "conditions") }), Bucket: bucket(nil)},
			"shop", "SourceNotSynced", "no ACK.ResourceSynced condition yet", "spec.source.ack.dbInstance"},
		{"terminal", ackSpec, ACKObjects{DBInstance: dbInstance(func(o map[string]any) {
			status(o)["conditions"] = []any{map[string]any{"type": "ACK.Terminal", "status": "True", "message": "InvalidParameterCombination"},
				map[string]any{"type": "ACK.ResourceSynced", "status": "True"}}
		}), Bucket: bucket(nil)}, "shop", "SourceTerminal", "InvalidParameterCombination", "spec.source.ack.dbInstance"},
		{"another region", ackSpec, ACKObjects{DBInstance: dbInstance(nil), Bucket: bucket(func(o map[string]any) {
			status(o)["ackResourceMetadata"] = map[string]any{"region": "eu-west-1"}
		})}, "shop", "SourceInAnotherRegion", "in region eu-west-1, the migration in us-east-1", "spec.source.ack.bucket"},
		{"another namespace without a grant", other, ACKObjects{DBInstance: dbInstance(func(o map[string]any) {
			o["metadata"].(map[string]any)["namespace"] = "bank"
		}), Bucket: bucket(nil)}, "shop", "SourceNotGranted", "does not grant migrations of namespace shop", "spec.source.ack.dbInstance.namespace"},
		{"not PostgreSQL", ackSpec, ACKObjects{DBInstance: dbInstance(func(o map[string]any) { o["spec"].(map[string]any)["engine"] = "mysql" }), Bucket: bucket(nil)},
			"shop", "SourceNotPostgreSQL", `engine "mysql"`, "spec.source.ack.dbInstance"},
		{"no endpoint yet", ackSpec, ACKObjects{DBInstance: dbInstance(func(o map[string]any) { delete(status(o), "endpoint") }), Bucket: bucket(nil)},
			"shop", "SourceNotAvailable", "no status.endpoint", "spec.source.ack.dbInstance"},
		{"password not managed by RDS", ackSpec, ACKObjects{DBInstance: dbInstance(func(o map[string]any) { delete(status(o), "masterUserSecret") }), Bucket: bucket(nil)},
			"shop", "SourceSecretUnknown", "name the master secret", "spec.source.ack.masterSecretARN"},
		{"security group not the instance's", sg, ACKObjects{DBInstance: dbInstance(nil), Bucket: bucket(nil)},
			"shop", "SecurityGroupNotAttached", "sg-0cccccccccccccccc is not a security group", "spec.source.ack.securityGroupID"},
		{"another port", ackSpec, ACKObjects{DBInstance: dbInstance(func(o map[string]any) {
			status(o)["endpoint"] = map[string]any{"address": "db.example", "port": int64(6432)}
		}), Bucket: bucket(nil)}, "shop", "SourcePortMismatch", "listens on port 6432", "spec.source.port"},
		{"parameter group missing", pgSpec, ACKObjects{DBInstance: dbInstance(nil), Bucket: bucket(nil)},
			"shop", "SourceNotFound", "DBParameterGroup shop/payments-pg does not exist", "spec.source.ack.dbParameterGroup"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, p := FromACK(c.spec, c.objs, c.ns, "us-east-1", 5432)
			if p == nil {
				t.Fatal("accepted")
			}
			if p.Reason != c.reason || p.Field != c.field || !strings.Contains(p.Message, c.text) {
				t.Errorf("got %s %s: %s\nwant %s %s: ...%s...", p.Reason, p.Field, p.Message, c.reason, c.field, c.text)
			}
		})
	}
}

func TestACKObjectsOfAnotherNamespaceNeedItsGrant(t *testing.T) {
	spec := ackSpec
	spec.DBInstance.Namespace = "bank"
	db := dbInstance(func(o map[string]any) {
		o["metadata"].(map[string]any)["namespace"] = "bank"
		o["metadata"].(map[string]any)["annotations"] = map[string]any{AllowedNamespacesAnnotation: "ops, shop"}
	})
	if _, p := FromACK(spec, ACKObjects{DBInstance: db, Bucket: bucket(nil)}, "shop", "us-east-1", 5432); p != nil {
		t.Errorf("granted namespace refused: %v", p)
	}
	if _, p := FromACK(spec, ACKObjects{DBInstance: db, Bucket: bucket(nil)}, "shopping", "us-east-1", 5432); p == nil || p.Reason != "SourceNotGranted" {
		t.Errorf("a namespace that is only a prefix of a granted one: %v", p)
	}
}

func TestAParameterGroupWithoutLogicalReplicationIsANote(t *testing.T) {
	spec := ackSpec
	spec.DBParameterGroup = &v1alpha1.ACKReference{Name: "payments-pg"}
	pg := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBParameterGroup",
		"metadata": map[string]any{"name": "payments-pg", "namespace": "shop"},
		"spec":     map[string]any{"family": "postgres14", "parameterOverrides": map[string]any{"rds.force_ssl": "1"}},
		"status":   map[string]any{"conditions": []any{map[string]any{"type": "ACK.ResourceSynced", "status": "True"}}},
	}}
	src, p := FromACK(spec, ACKObjects{DBInstance: dbInstance(nil), Bucket: bucket(nil), DBParameterGroup: pg}, "shop", "us-east-1", 5432)
	if p != nil || len(src.Notes) != 1 || !strings.Contains(src.Notes[0], "rds.logical_replication=1") {
		t.Errorf("notes %v, problem %v", src.Notes, p)
	}
}

func TestFromAWS(t *testing.T) {
	spec := v1alpha1.AWSSource{DBInstanceIdentifier: "payments-prod", SecurityGroupID: "sg-0aaaaaaaaaaaaaaaa", BucketName: "logs",
		MasterSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:m-AbCdEf"}
	inst := func(mutate func(*Instance)) *Instance {
		i := &Instance{ID: "payments-prod", ARN: "arn:aws:rds:us-east-1:123456789012:db:payments-prod", Engine: "postgres", Status: "available",
			Address: "payments-prod.abc.rds.amazonaws.com", Port: 5432, SecurityGroups: []string{"sg-0aaaaaaaaaaaaaaaa"}, ParameterGroup: "default.postgres14"}
		if mutate != nil {
			mutate(i)
		}
		return i
	}
	src, p := FromAWS(spec, inst(nil), "us-east-1", "us-east-1", 5432)
	if p != nil || src.Address != "payments-prod.abc.rds.amazonaws.com" || src.ParameterGroup != "default.postgres14" || src.BucketName != "logs" {
		t.Errorf("resolved %+v, %v", src, p)
	}
	for _, c := range []struct {
		name, reason, field string
		inst                *Instance
		bucketRegion        string
	}{
		{"no instance", "SourceNotFound", "spec.source.aws.dbInstanceIdentifier", nil, "us-east-1"},
		{"mysql", "SourceNotPostgreSQL", "spec.source.aws.dbInstanceIdentifier", inst(func(i *Instance) { i.Engine = "mysql" }), "us-east-1"},
		{"creating", "SourceNotAvailable", "spec.source.aws.dbInstanceIdentifier", inst(func(i *Instance) { i.Address = "" }), "us-east-1"},
		{"other group", "SecurityGroupNotAttached", "spec.source.aws.securityGroupID", inst(func(i *Instance) { i.SecurityGroups = []string{"sg-0bbbbbbbbbbbbbbbb"} }), "us-east-1"},
		{"no bucket", "SourceNotFound", "spec.source.aws.bucketName", inst(nil), ""},
		{"bucket elsewhere", "SourceInAnotherRegion", "spec.source.aws.bucketName", inst(nil), "eu-west-1"},
		{"port", "SourcePortMismatch", "spec.source.port", inst(func(i *Instance) { i.Port = 5433 }), "us-east-1"},
	} {
		if _, p := FromAWS(spec, c.inst, c.bucketRegion, "us-east-1", 5432); p == nil || p.Reason != c.reason || p.Field != c.field {
			t.Errorf("%s: %v, want %s on %s", c.name, p, c.reason, c.field)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"
	if p := CheckSecret("f", arn, map[string]string{"username": "payments_app", "password": "set"}, "payments_app"); p != nil {
		t.Error(p)
	}
	if p := CheckSecret("f", arn, map[string]string{"username": "payments_app"}, ""); p == nil || !strings.Contains(p.Message, "no password") {
		t.Errorf("no password: %v", p)
	}
	if p := CheckSecret("f", arn, map[string]string{"username": "other", "password": "set"}, "payments_app"); p == nil || p.Reason != "SourceSecretMismatch" {
		t.Errorf("other user: %v", p)
	}
}
