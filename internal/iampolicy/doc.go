// Package iampolicy is the operator's IAM, as policy documents: what the
// manager's own AWS calls need (Manager), and what CloudFormation needs to
// create, update and delete the resources of a synthesized TapStack (Stack),
// which is the manager's too unless the stack has a service role
// (spec.iam.stackRoleARN). `tapstack policy` prints them.
//
// Every statement is scoped as far as the service's authorization allows:
// the stack, bucket, database, secret and role names come from
// internal/naming with a wildcard suffix, so they cover every migration of
// an account and cannot drift from the names the template uses. The tests
// prove the manager's statements name exactly the operations its code calls
// (found by static analysis of the manager's packages) and that the stack's
// statements cover every resource type of the template.
package iampolicy
