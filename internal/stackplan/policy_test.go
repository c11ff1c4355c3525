package stackplan

import (
	"encoding/json"
	"reflect"
	"testing"
)

type policyStatement struct {
	Effect      string
	Action      any
	Principal   string
	Resource    any
	NotResource []string
	Condition   map[string]map[string][]string
}

func parsePolicy(t *testing.T, body string) []policyStatement {
	t.Helper()
	var p struct{ Statement []policyStatement }
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, body)
	}
	return p.Statement
}

func TestStackPolicyDeniesReplaceAndDeleteOfProtectedTypesOnly(t *testing.T) {
	wantTypes := []string{"AWS::DMS::Endpoint", "AWS::DMS::ReplicationInstance", "AWS::DMS::ReplicationTask",
		"AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"}
	tests := []struct {
		name            string
		allowed         map[string]bool
		wantResource    any
		wantNotResource []string
	}{
		{name: "nothing allowed", wantResource: "*"},
		{name: "the allowed ids are exempt", allowed: ParseAllowed("TargetBucket,SourceDatabase"),
			wantNotResource: []string{"LogicalResourceId/SourceDatabase", "LogicalResourceId/TargetBucket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := parsePolicy(t, StackPolicy(tt.allowed))
			if len(st) != 2 {
				t.Fatalf("want an Allow and a Deny, got %+v", st)
			}
			allow, deny := st[0], st[1]
			if allow.Effect != "Allow" || allow.Action != "Update:*" || allow.Resource != "*" || allow.Principal != "*" {
				t.Errorf("first statement %+v, want Allow Update:* on *", allow)
			}
			if deny.Effect != "Deny" || !reflect.DeepEqual(deny.Action, []any{"Update:Replace", "Update:Delete"}) || deny.Principal != "*" {
				t.Errorf("second statement %+v, want Deny Update:Replace and Update:Delete", deny)
			}
			if got := deny.Condition["StringEquals"]["ResourceType"]; !reflect.DeepEqual(got, wantTypes) {
				t.Errorf("denied types %v, want %v", got, wantTypes)
			}
			if !reflect.DeepEqual(deny.Resource, tt.wantResource) || !reflect.DeepEqual(deny.NotResource, tt.wantNotResource) {
				t.Errorf("deny Resource=%v NotResource=%v, want %v %v", deny.Resource, deny.NotResource, tt.wantResource, tt.wantNotResource)
			}
		})
	}
}
