package emulator

import (
	"context"
	"strings"
	"testing"
	"time"
)

// As in AWS: a stack with termination protection cannot be deleted until the
// protection is lifted; DescribeStacks says which.
func TestTerminationProtection(t *testing.T) {
	requireCLI(t)
	e := StartT(t)
	const template = `{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}`
	run(t, e, nil, "cloudformation", "create-stack", "--stack-name", "Protected", "--template-body", template, "--enable-termination-protection")
	waitStack(t, e, "Protected", "CREATE_COMPLETE")
	var protected bool
	run(t, e, &protected, "cloudformation", "describe-stacks", "--stack-name", "Protected", "--query", "Stacks[0].EnableTerminationProtection")
	if !protected {
		t.Fatal("DescribeStacks does not report the protection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.CLI(ctx, "cloudformation", "delete-stack", "--stack-name", "Protected"); err == nil || !strings.Contains(err.Error(), "cannot be deleted while TerminationProtection is enabled") {
		t.Fatalf("deleting a protected stack: %v", err)
	}
	waitStack(t, e, "Protected", "CREATE_COMPLETE") // untouched
	run(t, e, nil, "cloudformation", "update-termination-protection", "--stack-name", "Protected", "--no-enable-termination-protection")
	run(t, e, nil, "cloudformation", "delete-stack", "--stack-name", "Protected")
	if _, err := e.CLI(ctx, "cloudformation", "describe-stacks", "--stack-name", "Protected"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("the stack after its unprotected deletion: %v", err)
	}
}
