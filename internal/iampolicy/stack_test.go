package iampolicy

import (
	"context"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/crdschema"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

const samplePath = "../../config/samples/payments_v1alpha1_paymentmigration.yaml"

// templates are the sample's template and one per switch that changes the
// resource types or the roles of the stack.
func templates(t *testing.T) map[string][]byte {
	t.Helper()
	manifest, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := crdschema.DecodePaymentMigration(context.Background(), manifest)
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	no := false
	out := map[string][]byte{}
	for name, mutate := range map[string]func(*v1alpha1.PaymentMigrationSpec){
		"sample":                  func(*v1alpha1.PaymentMigrationSpec) {},
		"no DMS service roles":    func(s *v1alpha1.PaymentMigrationSpec) { s.Replication.CreateServiceRoles = &no },
		"no reverse path":         func(s *v1alpha1.PaymentMigrationSpec) { s.Cutover.ReversePath = &no },
		"no alert e-mail":         func(s *v1alpha1.PaymentMigrationSpec) { s.Alerts.Email = "" },
		"deletionPolicy Snapshot": func(s *v1alpha1.PaymentMigrationSpec) { s.DeletionPolicy = v1alpha1.DeletionPolicySnapshot },
		"permissions boundary": func(s *v1alpha1.PaymentMigrationSpec) {
			s.IAM.PermissionsBoundaryARN = "arn:aws:iam::123456789012:policy/tapstack-boundary"
		},
	} {
		spec := *pm.Spec.DeepCopy()
		mutate(&spec)
		tmpl, err := tapstack.Synthesize(spec, "us-east-1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = tmpl.JSON()
	}
	return out
}

// Every resource type of every template has its actions, and every entry of
// resourceActions is a type some template holds: the table follows the
// template in both directions.
func TestResourceActionsCoverExactlyTheTemplatesTypes(t *testing.T) {
	seen := map[string]bool{}
	for name, tmpl := range templates(t) {
		if _, err := Stack(Scope{}, tmpl, StackOptions{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		facts, err := readTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range facts.types {
			seen[typ] = true
		}
	}
	for _, typ := range sortedKeys(resourceActions) {
		if !seen[typ] {
			t.Errorf("resourceActions has %s, which no template holds; remove it", typ)
		}
	}
}

// A template with a type the table does not know is refused, naming it.
func TestStackRefusesAnUnknownResourceType(t *testing.T) {
	_, err := Stack(Scope{}, []byte(`{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}`), StackOptions{})
	if err == nil || !strings.Contains(err.Error(), "AWS::SQS::Queue") {
		t.Fatalf("err = %v, want one naming AWS::SQS::Queue", err)
	}
}

var wellFormedAction = regexp.MustCompile(`^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$`)

// Actions are service:Action, nothing the handlers' lists carry that IAM
// does not know ("s3:REST.PUT.OBJECT", a capitalized prefix).
func TestResourceActionsAreWellFormed(t *testing.T) {
	for typ, actions := range resourceActions {
		for _, a := range actions {
			if !wellFormedAction.MatchString(a) {
				t.Errorf("%s: %q is not an IAM action", typ, a)
			}
		}
	}
	for _, a := range Manager(Scope{}, testStackRole).Actions() {
		if !wellFormedAction.MatchString(a) {
			t.Errorf("manager: %q is not an IAM action", a)
		}
	}
}

// The roles statements are scoped to the naming table's role names: every
// role a template creates must fall under them, or the stack could not
// create it.
func TestEveryRoleOfTheTemplateIsInTheRoleStatements(t *testing.T) {
	var patterns []string
	for _, arn := range roleARNs(Scope{}) {
		patterns = append(patterns, arn[strings.Index(arn, ":role/")+len(":role/"):])
	}
	for name, tmpl := range templates(t) {
		facts, err := readTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range facts.roleNames {
			matched := false
			for _, p := range patterns {
				if ok, _ := path.Match(p, role); ok {
					matched = true
				}
			}
			if !matched {
				t.Errorf("%s: role %s is outside the policy's roles %v", name, role, patterns)
			}
		}
	}
}

func statementsWith(d Document, action string) []Statement {
	var out []Statement
	for _, s := range d.Statement {
		for _, a := range s.Action {
			if a == action {
				out = append(out, s)
			}
		}
	}
	return out
}

// With a boundary, roles are created and their policies changed only when
// the boundary is on them, and it cannot be removed; without, no condition.
func TestBoundaryConditionsRoleCreationAndPolicyChanges(t *testing.T) {
	const boundary = "arn:aws:iam::123456789012:policy/tapstack-boundary"
	tmpl := templates(t)["sample"]
	for _, tc := range []struct {
		name, boundary string
	}{{"no boundary", ""}, {"boundary", boundary}} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Stack(Scope{}, tmpl, StackOptions{PermissionsBoundaryARN: tc.boundary})
			if err != nil {
				t.Fatal(err)
			}
			for a := range boundedRoleActions {
				sts := statementsWith(d, a)
				if len(sts) != 1 {
					t.Fatalf("%s in %d statements, want 1", a, len(sts))
				}
				got := sts[0].Condition["StringEquals"]["iam:PermissionsBoundary"]
				if tc.boundary == "" && got != nil || tc.boundary != "" && (len(got) != 1 || got[0] != tc.boundary) {
					t.Errorf("%s: iam:PermissionsBoundary condition %v, want %q", a, got, tc.boundary)
				}
			}
			removable := len(statementsWith(d, "iam:DeleteRolePermissionsBoundary")) > 0
			if removable != (tc.boundary == "") {
				t.Errorf("iam:DeleteRolePermissionsBoundary allowed: %v, want %v", removable, tc.boundary == "")
			}
		})
	}
}

// Without a service role, the stack's statements join the manager's policy,
// and every one of them holds only for calls CloudFormation makes.
func TestThroughCloudFormationConditionsEveryStatement(t *testing.T) {
	d, err := Stack(Scope{}, templates(t)["sample"], StackOptions{ThroughCloudFormation: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Statement {
		if got := s.Condition["ForAnyValue:StringEquals"]["aws:CalledVia"]; len(got) != 1 || got[0] != "cloudformation.amazonaws.com" {
			t.Errorf("%s: aws:CalledVia %v, want cloudformation.amazonaws.com", s.Sid, got)
		}
	}
	plain, err := Stack(Scope{}, templates(t)["sample"], StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plain.Statement {
		if _, ok := s.Condition["ForAnyValue:StringEquals"]; ok {
			t.Errorf("%s: conditioned on aws:CalledVia for a service role", s.Sid)
		}
	}
}

// The roles are passed only to the services the template's roles trust,
// and CloudFormation resolves the dynamic references to the secrets.
func TestStackPassesRolesToTheirServicesAndReadsTheSecrets(t *testing.T) {
	d, err := Stack(Scope{}, templates(t)["sample"], StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pass := statementsWith(d, "iam:PassRole")
	if len(pass) != 1 {
		t.Fatalf("%d statements pass roles, want 1", len(pass))
	}
	got := strings.Join(pass[0].Condition["StringEquals"]["iam:PassedToService"], " ")
	for _, want := range []string{"dms.amazonaws.com", "ecs-tasks.amazonaws.com", "monitoring.rds.amazonaws.com", "s3.amazonaws.com"} {
		if !strings.Contains(got, want) {
			t.Errorf("roles passed to %s, want %s among them", got, want)
		}
	}
	facts, err := readTemplate(templates(t)["sample"])
	if err != nil || !facts.resolvesSecrets {
		t.Fatalf("the sample resolves no secret (%v); the dynamic references are not seen", err)
	}
	secrets := statementsWith(d, "secretsmanager:GetSecretValue")
	if len(secrets) != 1 {
		t.Fatalf("GetSecretValue in %d statements, want 1", len(secrets))
	}
	for _, r := range secrets[0].Resource {
		_, name, _ := strings.Cut(r, ":secret:")
		if !strings.HasPrefix(name, "rds-credentials-") && !strings.HasPrefix(name, "app-credentials-") {
			t.Errorf("GetSecretValue on %s, want only the stack's secrets", r)
		}
	}
}

// A pinned scope shows in every ARN; an unpinned one is a wildcard.
func TestScopeFillsTheARNs(t *testing.T) {
	cases := []struct {
		scope Scope
		want  []string
	}{
		{Scope{}, []string{
			"arn:*:cloudformation:*:*:stack/TapStack*/*",
			"arn:*:s3:::tapstack-staging-*-*",
			"arn:*:s3:::payments-source-*-*",
			"arn:*:iam::*:role/dms-vpc-role",
		}},
		{Scope{Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "123456789012"}, []string{
			"arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/TapStack*/*",
			"arn:aws-us-gov:s3:::tapstack-staging-123456789012-us-gov-west-1",
			"arn:aws-us-gov:s3:::payments-source-123456789012-*",
			"arn:aws-us-gov:iam::123456789012:role/dms-vpc-role",
		}},
	}
	for _, c := range cases {
		var all []string
		for _, s := range Manager(c.scope, "").Statement {
			all = append(all, s.Resource...)
		}
		joined := " " + strings.Join(all, " ") + " "
		for _, w := range c.want {
			if !strings.Contains(joined, " "+w+" ") {
				t.Errorf("scope %+v: no resource %s in %v", c.scope, w, all)
			}
		}
	}
}
