package stackplan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
)

func TestGuardChangesRefusesRemovalsAndReplacementsOfProtectedResources(t *testing.T) {
	db := func(action, replacement string, props ...string) cfnstack.ResourceChange {
		return cfnstack.ResourceChange{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Action: action, Replacement: replacement, Recreating: props}
	}
	tests := []struct {
		name    string
		changes []cfnstack.ResourceChange
		allowed string
		want    []Refusal
	}{
		{name: "no changes", want: nil},
		{name: "in-place modification of a database runs", changes: []cfnstack.ResourceChange{db("Modify", "False")}},
		{name: "added database runs", changes: []cfnstack.ResourceChange{db("Add", "")}},
		{name: "replaced database is refused with its property", changes: []cfnstack.ResourceChange{db("Modify", "True", "DBName")},
			want: []Refusal{{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Change: "Replace", Properties: []string{"DBName"}}}},
		{name: "conditional replacement is refused too", changes: []cfnstack.ResourceChange{db("Modify", "Conditional", "KmsKeyId")},
			want: []Refusal{{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Change: "Replace", Properties: []string{"KmsKeyId"}}}},
		{name: "removed database is refused", changes: []cfnstack.ResourceChange{db("Remove", "")},
			want: []Refusal{{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Change: "Remove"}}},
		{name: "the allowed id runs", changes: []cfnstack.ResourceChange{db("Modify", "True", "DBName")}, allowed: " SourceDatabase , TargetBucket"},
		{name: "another allowed id does not allow this one", changes: []cfnstack.ResourceChange{db("Remove", "")}, allowed: "TargetDatabase",
			want: []Refusal{{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Change: "Remove"}}},
		{name: "an unprotected type is replaced freely", changes: []cfnstack.ResourceChange{
			{LogicalID: "Vpc", Type: "AWS::EC2::VPC", Action: "Modify", Replacement: "True", Recreating: []string{"CidrBlock"}},
			{LogicalID: "EcsService", Type: "AWS::ECS::Service", Action: "Remove"},
		}},
		{name: "every protected type, in id order", changes: []cfnstack.ResourceChange{
			{LogicalID: "TargetBucket", Type: "AWS::S3::Bucket", Action: "Modify", Replacement: "True", Recreating: []string{"BucketName"}},
			{LogicalID: "SourceDatabaseSecret", Type: "AWS::SecretsManager::Secret", Action: "Remove"},
			{LogicalID: "DmsReplicationTask", Type: "AWS::DMS::ReplicationTask", Action: "Modify", Replacement: "True", Recreating: []string{"ReplicationInstanceArn"}},
			{LogicalID: "SourceDmsEndpoint", Type: "AWS::DMS::Endpoint", Action: "Modify", Replacement: "Conditional"},
			{LogicalID: "DmsReplicationInstance", Type: "AWS::DMS::ReplicationInstance", Action: "Remove"},
		}, want: []Refusal{
			{LogicalID: "DmsReplicationInstance", Type: "AWS::DMS::ReplicationInstance", Change: "Remove"},
			{LogicalID: "DmsReplicationTask", Type: "AWS::DMS::ReplicationTask", Change: "Replace", Properties: []string{"ReplicationInstanceArn"}},
			{LogicalID: "SourceDatabaseSecret", Type: "AWS::SecretsManager::Secret", Change: "Remove"},
			{LogicalID: "SourceDmsEndpoint", Type: "AWS::DMS::Endpoint", Change: "Replace"},
			{LogicalID: "TargetBucket", Type: "AWS::S3::Bucket", Change: "Replace", Properties: []string{"BucketName"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := GuardChanges(tt.changes, ParseAllowed(tt.allowed))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GuardChanges = %+v\nwant %+v", got, tt.want)
			}
			if msg := ReplacementGuard(ParseAllowed(tt.allowed))(tt.changes); (msg == "") != (len(tt.want) == 0) {
				t.Errorf("guard message %q, want one exactly when something is refused", msg)
			}
		})
	}
}

func TestRefusalMessageNamesTheIdsThePropertiesAndTheWayToAllowThem(t *testing.T) {
	msg := RefusalMessage([]Refusal{
		{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Change: "Replace", Properties: []string{"DBName", "MasterUsername"}},
		{LogicalID: "TargetBucket", Type: "AWS::S3::Bucket", Change: "Remove"},
	})
	for _, want := range []string{
		"replaces SourceDatabase (AWS::RDS::DBInstance) because of DBName, MasterUsername",
		"removes TargetBucket (AWS::S3::Bucket)",
		"not executed",
		AllowReplacementAnnotation + `: "SourceDatabase,TargetBucket"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if RefusalMessage(nil) != "" {
		t.Error("nothing refused must give no message")
	}
}

func TestParseAllowedIgnoresBlanks(t *testing.T) {
	got := ParseAllowed(" SourceDatabase,,TargetBucket ,")
	want := map[string]bool{"SourceDatabase": true, "TargetBucket": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseAllowed = %v, want %v", got, want)
	}
}
