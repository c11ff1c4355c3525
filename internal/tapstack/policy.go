package tapstack

import (
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation/iam"
)

// IAM and resource policy documents are typed so their JSON is stable and a
// misspelt key is a compile error rather than an AccessDenied at deploy time.

type policyDocument struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

func policy(statements ...statement) policyDocument {
	return policyDocument{Version: "2012-10-17", Statement: statements}
}

func allow(actions []string, resources ...string) statement {
	return statement{Effect: "Allow", Action: actions, Resource: resources}
}

// trust is the assume-role policy of a role that the given services assume.
func trust(services ...string) policyDocument {
	return policy(statement{
		Effect:    "Allow",
		Principal: map[string][]string{"Service": services},
		Action:    []string{"sts:AssumeRole"},
	})
}

// denyInsecureTransport refuses every request that does not use TLS.
func denyInsecureTransport(resources ...string) statement {
	return statement{
		Sid:       "DenyInsecureTransport",
		Effect:    "Deny",
		Principal: "*",
		Action:    []string{"s3:*"},
		Resource:  resources,
		Condition: map[string]map[string]string{"Bool": {"aws:SecureTransport": "false"}},
	}
}

// managedPolicy is the ARN of an AWS managed policy in the stack's partition.
func managedPolicy(path string) string {
	return sub("arn:${AWS::Partition}:iam::aws:policy/" + path)
}

// role is an IAM role named name, assumed by services.
func role(name, description string, assumedBy policyDocument, managed []string, inline ...iam.Role_Policy) *iam.Role {
	return &iam.Role{
		RoleName:                 ptr(name),
		Description:              ptr(description),
		AssumeRolePolicyDocument: assumedBy,
		ManagedPolicyArns:        managed,
		Policies:                 inline,
	}
}

func inlinePolicy(name string, doc policyDocument) iam.Role_Policy {
	return iam.Role_Policy{PolicyName: name, PolicyDocument: doc}
}

// serviceHost is the regional service principal of region, e.g. dms.us-east-1.amazonaws.com.
func serviceHost(service, region string) string {
	return fmt.Sprintf("%s.%s.amazonaws.com", service, region)
}
