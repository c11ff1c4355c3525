package emulator

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// changeSetTemplate is a small stack whose resources carry the phase tag, like
// the TapStack's; broken adds a role whose managed policy does not exist.
func changeSetTemplate(phase string, broken bool) string {
	tags := []map[string]string{{"Key": "MigrationPhase", "Value": phase}}
	resources := map[string]any{
		"Topic": map[string]any{"Type": "AWS::SNS::Topic", "Properties": map[string]any{"TopicName": "cs-topic", "Tags": tags}},
		"Mail": map[string]any{"Type": "AWS::SNS::Subscription", "Properties": map[string]any{
			"TopicArn": map[string]string{"Ref": "Topic"}, "Protocol": "email", "Endpoint": "oncall@example.com"}},
	}
	if broken {
		resources["Role"] = map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"RoleName":                 "cs-role",
			"AssumeRolePolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{}},
			"ManagedPolicyArns":        []string{"arn:aws:iam::aws:policy/NoSuchPolicy"},
		}}
	}
	body, _ := json.Marshal(map[string]any{"Resources": resources, "Outputs": map[string]any{"TopicArn": map[string]any{"Value": map[string]string{"Ref": "Topic"}}}})
	return string(body)
}

// TestChangeSetUpdateAndRollback follows the operator's update path: look the
// change set up (not found), create it by stack id, execute it, and a failing
// update that rolls back.
func TestChangeSetUpdateAndRollback(t *testing.T) {
	requireCLI(t)
	e := StartT(t)
	const stack = "TapStackchangeset"
	run(t, e, nil, "cloudformation", "create-stack", "--stack-name", stack, "--template-body", changeSetTemplate("migration", false),
		"--tags", "Key=MigrationPhase,Value=migration")
	stackID := waitStack(t, e, stack, "CREATE_COMPLETE")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := e.CLI(ctx, "cloudformation", "describe-change-set", "--stack-name", stackID, "--change-set-name", "tapstack-0123456789abcdef")
	if err == nil || !strings.Contains(err.Error(), "(ChangeSetNotFound)") {
		t.Fatalf("describing an unknown change set: %v, want ChangeSetNotFound", err)
	}

	change := func(name, phase string, broken bool) {
		t.Helper()
		run(t, e, nil, "cloudformation", "create-change-set", "--stack-name", stackID, "--change-set-name", name,
			"--change-set-type", "UPDATE", "--capabilities", "CAPABILITY_NAMED_IAM",
			"--template-body", changeSetTemplate(phase, broken), "--tags", "Key=MigrationPhase,Value="+phase)
		var cs struct{ Status, ExecutionStatus string }
		run(t, e, &cs, "cloudformation", "describe-change-set", "--stack-name", stackID, "--change-set-name", name)
		if cs.Status != "CREATE_COMPLETE" || cs.ExecutionStatus != "AVAILABLE" {
			t.Fatalf("change set %s: %+v", name, cs)
		}
		run(t, e, nil, "cloudformation", "execute-change-set", "--stack-name", stackID, "--change-set-name", name)
	}
	stackTag := func() string {
		var tags []struct{ Key, Value string }
		run(t, e, &tags, "cloudformation", "describe-stacks", "--stack-name", stack, "--query", "Stacks[0].Tags")
		for _, tag := range tags {
			if tag.Key == "MigrationPhase" {
				return tag.Value
			}
		}
		return ""
	}

	change("tapstack-rehearsal", "rehearsal", false)
	waitStack(t, e, stack, "UPDATE_COMPLETE")
	topic := outputs(t, e, stack)["TopicArn"]
	var topicTags []struct{ Key, Value string }
	run(t, e, &topicTags, "sns", "list-tags-for-resource", "--resource-arn", topic, "--query", "Tags")
	if tag := stackTag(); tag != "rehearsal" || len(topicTags) != 1 || topicTags[0].Value != "rehearsal" {
		t.Errorf("after the change set: stack tag %q, topic tags %+v", tag, topicTags)
	}
	expectCount(t, e, 1, "sns", "list-subscriptions-by-topic", "--topic-arn", topic, "--query", "Subscriptions")

	change("tapstack-broken", "broken", true)
	waitStack(t, e, stack, "UPDATE_ROLLBACK_COMPLETE")
	var events []struct{ LogicalResourceId, ResourceStatus, ResourceStatusReason string }
	run(t, e, &events, "cloudformation", "describe-stack-events", "--stack-name", stack, "--query", "StackEvents")
	var failed string
	for _, ev := range events {
		if strings.HasSuffix(ev.ResourceStatus, "_FAILED") {
			failed = ev.LogicalResourceId + " " + ev.ResourceStatusReason
			break
		}
	}
	if !strings.HasPrefix(failed, "Role ") || !strings.Contains(failed, "NoSuchPolicy") {
		t.Errorf("failed event %q, want the Role and its reason", failed)
	}
	if tag := stackTag(); tag != "rehearsal" {
		t.Errorf("stack tag %q after the rollback, want the previous rehearsal", tag)
	}
	expectCount(t, e, 0, "iam", "list-roles", "--query", "Roles[?RoleName=='cs-role']")
}
