package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
)

// guardTemplate is a bucket and a topic: renaming the bucket replaces it
// (BucketName: "Update requires: Replacement"), renaming the topic's display
// name does not.
func guardTemplate(bucket, display string) []byte {
	body, _ := json.Marshal(map[string]any{"Resources": map[string]any{
		"TargetBucket": map[string]any{"Type": "AWS::S3::Bucket", "Properties": map[string]any{"BucketName": bucket}},
		"Topic":        map[string]any{"Type": "AWS::SNS::Topic", "Properties": map[string]any{"TopicName": "guard-topic", "DisplayName": display}},
	}})
	return body
}

// TestChangeSetThatReplacesABucketIsRefused drives the operator's Update
// against the emulator: the change set reports the replacement and the
// property that forces it, the guard refuses it, the change set is deleted,
// and the stack and its bucket stay as they were until the annotation's ids
// allow exactly that bucket.
func TestChangeSetThatReplacesABucketIsRefused(t *testing.T) {
	requireCLI(t)
	e := StartT(t)
	const stack = "TapStackguard"
	run(t, e, nil, "cloudformation", "create-stack", "--stack-name", stack, "--template-body", string(guardTemplate("guard-bucket-a", "one")))
	stackID := waitStack(t, e, stack, "CREATE_COMPLETE")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := &cfnstack.Client{API: cloudformation.NewFromConfig(sdkConfig(e))}
	update := func(hash string, body []byte, allowed string) (cfnstack.UpdateResult, error) {
		t.Helper()
		ids := stackplan.ParseAllowed(allowed)
		d := cfnstack.Desired{Name: stack, Template: body, Hash: hash, Guard: stackplan.ReplacementGuard(ids), StackPolicy: stackplan.StackPolicy(ids)}
		for i := 0; i < 50; i++ {
			res, err := client.Update(ctx, stackID, d)
			if err != nil || res != cfnstack.UpdatePending {
				return res, err
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("change set still pending")
		return "", nil
	}

	// An in-place change runs.
	if res, err := update("sha256:1111111111111111", guardTemplate("guard-bucket-a", "two"), ""); err != nil || res != cfnstack.UpdateStarted {
		t.Fatalf("in-place update: %q, %v; want started", res, err)
	}
	waitStack(t, e, stack, "UPDATE_COMPLETE")

	renamed := guardTemplate("guard-bucket-b", "two")
	_, err := update("sha256:2222222222222222", renamed, "Topic,SourceBucket")
	var refused *cfnstack.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("renaming the bucket: %v, want a refusal", err)
	}
	for _, want := range []string{"replaces TargetBucket (AWS::S3::Bucket) because of BucketName", stackplan.AllowReplacementAnnotation} {
		if !strings.Contains(refused.Reason, want) {
			t.Errorf("refusal %q does not say %q", refused.Reason, want)
		}
	}
	if _, err := e.CLI(ctx, "cloudformation", "describe-change-set", "--stack-name", stackID, "--change-set-name", refused.ChangeSet); err == nil || !strings.Contains(err.Error(), "ChangeSetNotFound") {
		t.Errorf("the refused change set is still there: %v", err)
	}
	s3c := s3.NewFromConfig(sdkConfig(e), func(o *s3.Options) { o.UsePathStyle = true })
	bucketExists := func(name string) bool {
		_, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &name})
		return err == nil
	}
	if !bucketExists("guard-bucket-a") || bucketExists("guard-bucket-b") {
		t.Error("the refused update changed the buckets")
	}
	var st struct {
		Stacks []struct{ StackStatus string }
	}
	run(t, e, &st, "cloudformation", "describe-stacks", "--stack-name", stackID)
	if len(st.Stacks) != 1 || st.Stacks[0].StackStatus != "UPDATE_COMPLETE" {
		t.Errorf("stack after the refusal: %+v, want it untouched in UPDATE_COMPLETE", st.Stacks)
	}

	// The annotation naming the bucket lets the same update through.
	if res, err := update("sha256:2222222222222222", renamed, "TargetBucket"); err != nil || res != cfnstack.UpdateStarted {
		t.Fatalf("allowed update: %q, %v; want started", res, err)
	}
	waitStack(t, e, stack, "UPDATE_COMPLETE")
	var policy struct{ StackPolicyBody string }
	run(t, e, &policy, "cloudformation", "get-stack-policy", "--stack-name", stackID)
	if policy.StackPolicyBody != stackplan.StackPolicy(stackplan.ParseAllowed("TargetBucket")) {
		t.Errorf("stack policy of the allowed update:\n%s\nwant\n%s", policy.StackPolicyBody, stackplan.StackPolicy(stackplan.ParseAllowed("TargetBucket")))
	}
	if !bucketExists("guard-bucket-b") {
		t.Error("the allowed update did not create the renamed bucket")
	}
}

// TestChangeSetThatRemovesABucketIsRefused: a removal is refused as a
// replacement is, and added resources next to it serialize without
// Replacement or Details.
func TestChangeSetThatRemovesABucketIsRefused(t *testing.T) {
	requireCLI(t)
	e := StartT(t)
	const stack = "TapStackguardremove"
	run(t, e, nil, "cloudformation", "create-stack", "--stack-name", stack, "--template-body", string(guardTemplate("guard-bucket-r", "one")))
	stackID := waitStack(t, e, stack, "CREATE_COMPLETE")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := &cfnstack.Client{API: cloudformation.NewFromConfig(sdkConfig(e))}
	body, _ := json.Marshal(map[string]any{"Resources": map[string]any{
		"Topic":      map[string]any{"Type": "AWS::SNS::Topic", "Properties": map[string]any{"TopicName": "guard-topic", "DisplayName": "one"}},
		"OtherTopic": map[string]any{"Type": "AWS::SNS::Topic", "Properties": map[string]any{"TopicName": "guard-other"}},
	}})
	var seen []cfnstack.ResourceChange
	guard := stackplan.ReplacementGuard(nil)
	d := cfnstack.Desired{Name: stack, Template: body, Hash: "sha256:3333333333333333", Guard: func(c []cfnstack.ResourceChange) string {
		seen = c
		return guard(c)
	}}
	var err error
	for i := 0; i < 50; i++ {
		var res cfnstack.UpdateResult
		if res, err = client.Update(ctx, stackID, d); err != nil || res != cfnstack.UpdatePending {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var refused *cfnstack.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "removes TargetBucket (AWS::S3::Bucket)") {
		t.Fatalf("removing the bucket: %v, want a refusal naming TargetBucket", err)
	}
	actions := map[string]string{}
	for _, c := range seen {
		actions[c.LogicalID] = c.Action
	}
	if actions["TargetBucket"] != "Remove" || actions["OtherTopic"] != "Add" {
		t.Errorf("changes seen: %+v", seen)
	}
}
