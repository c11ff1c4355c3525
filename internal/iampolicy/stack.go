package iampolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// StackOptions shape the statements of Stack.
type StackOptions struct {
	// ThroughCloudFormation admits the statements only for calls that
	// CloudFormation makes in the caller's name (aws:CalledVia): the
	// manager's own policy when the stack has no service role, so that the
	// manager can create the stack's resources through the stack and not by
	// itself.
	ThroughCloudFormation bool
	// PermissionsBoundaryARN is spec.iam.permissionsBoundaryARN: when set,
	// roles are created, and their policies changed, only with that boundary
	// on them, and the boundary cannot be removed.
	PermissionsBoundaryARN string
}

// boundedRoleActions are the role actions IAM evaluates iam:PermissionsBoundary
// for: with a boundary, none of them works on a role without it, so a role
// the stack may create can never be given more than the boundary allows.
var boundedRoleActions = map[string]bool{
	"iam:CreateRole": true, "iam:PutRolePermissionsBoundary": true,
	"iam:PutRolePolicy": true, "iam:DeleteRolePolicy": true,
	"iam:AttachRolePolicy": true, "iam:DetachRolePolicy": true,
}

// Stack is what CloudFormation needs to create, update and delete the
// resources of template, the JSON that tapstack.Synthesize renders: the
// permissions policy of the stack's service role, or, with
// ThroughCloudFormation, the statements to add to the manager's policy when
// there is none. The resource types, the services the roles trust and the
// dynamic references come from the template, so the policy follows it.
func Stack(scope Scope, template []byte, opts StackOptions) (Document, error) {
	t, err := readTemplate(template)
	if err != nil {
		return Document{}, err
	}
	var actions []string
	var unknown []string
	for _, typ := range t.types {
		a, ok := resourceActions[typ]
		if !ok {
			unknown = append(unknown, typ)
		}
		actions = append(actions, a...)
	}
	if len(unknown) > 0 {
		return Document{}, fmt.Errorf("no IAM actions are known for resource types %s; add them to resourceActions", strings.Join(unknown, ", "))
	}
	if t.resolvesSecrets {
		// CloudFormation resolves {{resolve:secretsmanager:...}} itself.
		actions = append(actions, "secretsmanager:GetSecretValue")
	}
	statements := stackStatements(scope, sortedUnique(actions), t.trustedServices, opts.PermissionsBoundaryARN)
	if opts.ThroughCloudFormation {
		for i := range statements {
			statements[i].Condition = withCondition(statements[i].Condition,
				"ForAnyValue:StringEquals", "aws:CalledVia", "cloudformation.amazonaws.com")
		}
	}
	return newDocument(statements...), nil
}

// stackStatements groups actions into statements, one per service, scoped to
// the stack's names where the service's authorization allows it.
func stackStatements(s Scope, actions, trusted []string, boundary string) []Statement {
	roles := roleARNs(s)
	var buckets []string
	for _, side := range naming.Sides {
		b := s.global("s3", every.Bucket(side, s.account()))
		buckets = append(buckets, b, b+"/*")
	}
	secrets := []string{s.regional("secretsmanager", "secret:"+every.AppSecret())}
	for _, side := range naming.Sides {
		secrets = append(secrets, s.regional("secretsmanager", "secret:"+every.DBSecret(side)))
	}

	byService := map[string][]string{}
	var roleActions, boundedActions, secretActions []string
	var passRole, serviceLinked, listRoles, randomPassword bool
	for _, a := range actions {
		switch {
		case a == "iam:PassRole":
			passRole = true
		case a == "iam:CreateServiceLinkedRole":
			serviceLinked = true
		case a == "iam:ListRoles":
			listRoles = true
		case a == "iam:DeleteRolePermissionsBoundary" && boundary != "":
			// A boundary the stack must keep is never removed.
		case strings.HasPrefix(a, "iam:") && boundary != "" && boundedRoleActions[a]:
			boundedActions = append(boundedActions, a)
		case strings.HasPrefix(a, "iam:"):
			roleActions = append(roleActions, a)
		case a == "secretsmanager:GetRandomPassword":
			randomPassword = true // authorized on no resource
		case strings.HasPrefix(a, "secretsmanager:"):
			secretActions = append(secretActions, a)
		default:
			service, _, _ := strings.Cut(a, ":")
			byService[service] = append(byService[service], a)
		}
	}

	var out []Statement
	if len(roleActions) > 0 {
		out = append(out, allow("StackRoles", roleActions, roles, nil))
	}
	if len(boundedActions) > 0 {
		out = append(out, allow("StackRolesUnderTheBoundary", boundedActions, roles,
			Conditions{"StringEquals": {"iam:PermissionsBoundary": {boundary}}}))
	}
	if passRole {
		out = append(out, allow("PassStackRoles", []string{"iam:PassRole"}, roles,
			Conditions{"StringEquals": {"iam:PassedToService": trusted}}))
	}
	if serviceLinked {
		out = append(out, allow("ServiceLinkedRoles", []string{"iam:CreateServiceLinkedRole"},
			[]string{fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/*", s.partition(), s.account())}, nil))
	}
	if listRoles {
		out = append(out, allow("ListRoles", []string{"iam:ListRoles"}, []string{"*"}, nil))
	}
	if len(secretActions) > 0 {
		out = append(out, allow("StackSecrets", secretActions, secrets, nil))
	}
	if randomPassword {
		out = append(out, allow("GenerateSecretPasswords", []string{"secretsmanager:GetRandomPassword"}, []string{"*"}, nil))
	}
	services := make([]string, 0, len(byService))
	for svc := range byService {
		services = append(services, svc)
	}
	sort.Strings(services)
	for _, svc := range services {
		resources := []string{"*"}
		if svc == "s3" {
			resources = buckets
		}
		out = append(out, allow("Stack"+sidWord(svc), byService[svc], resources, nil))
	}
	return out
}

// roleARNs are the roles of every stack: the naming table's role names.
func roleARNs(s Scope) []string {
	var arns []string
	for _, n := range every.All("*", naming.LongestAlarm, naming.LongestOutput) {
		if n.Kind == naming.KindIAMRole {
			arns = append(arns, s.iamRole(n.Name))
		}
	}
	return arns
}

// sidWord turns a service prefix into the letters a Sid allows:
// application-autoscaling → ApplicationAutoscaling.
func sidWord(prefix string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(prefix, func(r rune) bool { return r == '-' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// withCondition adds key: value under op to c, keeping what c holds.
func withCondition(c Conditions, op, key, value string) Conditions {
	out := Conditions{}
	for o, kv := range c {
		out[o] = map[string][]string{}
		for k, v := range kv {
			out[o][k] = v
		}
	}
	if out[op] == nil {
		out[op] = map[string][]string{}
	}
	out[op][key] = append(out[op][key], value)
	return out
}

var regionalPrincipal = regexp.MustCompile(`^[a-z0-9-]+\.[a-z]{2}(-[a-z]+)+-[0-9]\.amazonaws\.com$`)

// templateFacts is what Stack reads from a template.
type templateFacts struct {
	types           []string // resource types, sorted
	trustedServices []string // service principals the template's roles trust, sorted
	roleNames       []string // RoleName of every role, sorted
	resolvesSecrets bool     // a {{resolve:secretsmanager:...}} dynamic reference
}

func readTemplate(template []byte) (templateFacts, error) {
	var doc struct {
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				RoleName                 any `json:"RoleName"`
				AssumeRolePolicyDocument struct {
					Statement []struct {
						Principal struct {
							Service any `json:"Service"`
						} `json:"Principal"`
					} `json:"Statement"`
				} `json:"AssumeRolePolicyDocument"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(template, &doc); err != nil {
		return templateFacts{}, fmt.Errorf("reading the template: %w", err)
	}
	if len(doc.Resources) == 0 {
		return templateFacts{}, fmt.Errorf("reading the template: it has no resources")
	}
	var f templateFacts
	for id, r := range doc.Resources {
		f.types = append(f.types, r.Type)
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		name, ok := r.Properties.RoleName.(string)
		if !ok {
			return templateFacts{}, fmt.Errorf("reading the template: role %s has no literal RoleName to scope the policy by", id)
		}
		f.roleNames = append(f.roleNames, name)
		for _, st := range r.Properties.AssumeRolePolicyDocument.Statement {
			for _, svc := range stringList(st.Principal.Service) {
				// A role is passed to a service under its global principal;
				// the regional ones (dms.<region>.amazonaws.com) only assume it.
				if !regionalPrincipal.MatchString(svc) {
					f.trustedServices = append(f.trustedServices, svc)
				}
			}
		}
	}
	f.types = sortedUnique(f.types)
	f.trustedServices = sortedUnique(f.trustedServices)
	f.roleNames = sortedUnique(f.roleNames)
	f.resolvesSecrets = bytes.Contains(template, []byte("{{resolve:secretsmanager:"))
	return f, nil
}

// stringList reads a JSON string or list of strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
