package cfnstack

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

func resourceChange(id, typ string, action cfntypes.ChangeAction, replacement cfntypes.Replacement, details ...cfntypes.ResourceChangeDetail) cfntypes.Change {
	return cfntypes.Change{Type: cfntypes.ChangeTypeResource, ResourceChange: &cfntypes.ResourceChange{
		LogicalResourceId: aws.String(id), ResourceType: aws.String(typ), Action: action, Replacement: replacement, Details: details,
	}}
}

func detail(attribute cfntypes.ResourceAttribute, name string, recreation cfntypes.RequiresRecreation) cfntypes.ResourceChangeDetail {
	t := &cfntypes.ResourceTargetDefinition{Attribute: attribute, RequiresRecreation: recreation}
	if name != "" {
		t.Name = aws.String(name)
	}
	return cfntypes.ResourceChangeDetail{Target: t}
}

// The guard sees every change of every page, with the properties that force a
// recreation, before anything is executed.
func TestUpdateReadsEveryPageOfChangesBeforeExecuting(t *testing.T) {
	f := newFakeCFN(t)
	first := changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusAvailable, "")
	first.Changes = []cfntypes.Change{resourceChange("EcsService", "AWS::ECS::Service", cfntypes.ChangeActionModify, cfntypes.ReplacementFalse,
		detail(cfntypes.ResourceAttributeProperties, "DesiredCount", cfntypes.RequiresRecreationNever))}
	first.NextToken = aws.String("page-2")
	f.changeSet = first
	f.csPages = map[string]*cloudformation.DescribeChangeSetOutput{"page-2": {Changes: []cfntypes.Change{
		resourceChange("SourceDatabase", "AWS::RDS::DBInstance", cfntypes.ChangeActionModify, cfntypes.ReplacementTrue,
			detail(cfntypes.ResourceAttributeProperties, "DBName", cfntypes.RequiresRecreationAlways),
			detail(cfntypes.ResourceAttributeProperties, "DBName", cfntypes.RequiresRecreationAlways),
			detail(cfntypes.ResourceAttributeProperties, "KmsKeyId", cfntypes.RequiresRecreationConditionally),
			detail(cfntypes.ResourceAttributeTags, "", cfntypes.RequiresRecreationNever)),
		{Type: cfntypes.ChangeTypeResource}, // no resource change: skipped
	}}}
	var seen []ResourceChange
	d := desired(4000)
	d.Guard = func(changes []ResourceChange) string { seen = changes; return "" }
	stager, _, _ := newStager(t, "eu-west-1")
	got, err := (&Client{API: f, Stager: stager}).Update(context.Background(), stackID, d)
	if err != nil || got != UpdateStarted {
		t.Fatalf("Update = %q, %v; want started", got, err)
	}
	want := []ResourceChange{
		{LogicalID: "EcsService", Type: "AWS::ECS::Service", Action: "Modify", Replacement: "False"},
		{LogicalID: "SourceDatabase", Type: "AWS::RDS::DBInstance", Action: "Modify", Replacement: "True", Recreating: []string{"DBName", "KmsKeyId"}},
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("guard saw %+v\nwant %+v", seen, want)
	}
	if !reflect.DeepEqual(f.csTokens, []string{"page-2"}) {
		t.Errorf("pages asked for %v, want [page-2]", f.csTokens)
	}
	wantCalls(t, f.list(), "DescribeChangeSet", "DescribeChangeSet", "ExecuteChangeSet")
}

// A refused change set is deleted, never executed, and the refusal is an error
// of its own type carrying the guard's reason.
func TestUpdateDeletesARefusedChangeSet(t *testing.T) {
	f := newFakeCFN(t)
	f.changeSet = changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusAvailable, "")
	f.changeSet.Changes = []cfntypes.Change{resourceChange("TargetBucket", "AWS::S3::Bucket", cfntypes.ChangeActionRemove, "")}
	d := desired(4000)
	d.Guard = func(changes []ResourceChange) string { return "removes " + changes[0].LogicalID }
	stager, _, _ := newStager(t, "eu-west-1")
	_, err := (&Client{API: f, Stager: stager}).Update(context.Background(), stackID, d)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Reason != "removes TargetBucket" || refused.ChangeSet != ChangeSetName(testHash) {
		t.Fatalf("error = %v, want a RefusedError saying removes TargetBucket", err)
	}
	wantCalls(t, f.list(), "DescribeChangeSet", "DeleteChangeSet")
}

// A page that cannot be read refuses nothing and executes nothing.
func TestUpdateExecutesNothingWhenAPageOfChangesCannotBeRead(t *testing.T) {
	f := newFakeCFN(t)
	f.changeSet = changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusAvailable, "")
	f.changeSet.NextToken = aws.String("loop")
	f.csPages = map[string]*cloudformation.DescribeChangeSetOutput{"loop": {NextToken: aws.String("loop")}}
	d := desired(4000)
	d.Guard = func([]ResourceChange) string { t.Error("guard called on a partial read"); return "" }
	stager, _, _ := newStager(t, "eu-west-1")
	if _, err := (&Client{API: f, Stager: stager}).Update(context.Background(), stackID, d); err == nil {
		t.Fatal("want an error for endless pages")
	}
	if f.executeCS != nil {
		t.Error("executed a change set whose changes were not all read")
	}
}

// The stack policy goes with the creation and is set again before a change
// set runs, since ExecuteChangeSet takes none; without one nothing is sent.
func TestStackPolicyIsSentOnCreateAndBeforeExecuting(t *testing.T) {
	const policy = `{"Statement":[]}`
	for _, withPolicy := range []bool{true, false} {
		f := newFakeCFN(t)
		f.changeSet = changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusAvailable, "")
		d := desired(4000)
		if withPolicy {
			d.StackPolicy = policy
		}
		stager, _, _ := newStager(t, "eu-west-1")
		c := &Client{API: f, Stager: stager}
		if err := c.Create(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Update(context.Background(), stackID, d); err != nil {
			t.Fatal(err)
		}
		if !withPolicy {
			if f.createStack.StackPolicyBody != nil || f.stackPolicy != nil {
				t.Error("a policy was sent without one desired")
			}
			continue
		}
		if aws.ToString(f.createStack.StackPolicyBody) != policy {
			t.Errorf("CreateStack StackPolicyBody = %q, want %q", aws.ToString(f.createStack.StackPolicyBody), policy)
		}
		if in := f.stackPolicy; in == nil || aws.ToString(in.StackPolicyBody) != policy || aws.ToString(in.StackName) != stackID {
			t.Errorf("SetStackPolicy = %+v, want the policy on %s", in, stackID)
		}
		wantCalls(t, f.list(), "CreateStack", "DescribeChangeSet", "SetStackPolicy", "ExecuteChangeSet")
	}
}
