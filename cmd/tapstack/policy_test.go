package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/iampolicy"
)

const stackRole = "arn:aws:iam::123456789012:role/tapstack-cloudformation"

func policyOf(t *testing.T, args ...string) iampolicy.Document {
	t.Helper()
	out, err := runCLI(t, "", noEnv, append([]string{"policy"}, args...)...)
	if err != nil {
		t.Fatalf("tapstack policy %v: %v", args, err)
	}
	var d iampolicy.Document
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("output is not a policy document: %v\n%s", err, out)
	}
	return d
}

func allows(d iampolicy.Document, action string) bool {
	for _, a := range d.Actions() {
		if a == action {
			return true
		}
	}
	return false
}

func hasSid(d iampolicy.Document, sid string) bool {
	for _, s := range d.Statement {
		if s.Sid == sid {
			return true
		}
	}
	return false
}

// What each form of the command prints: the manager's own calls always, and
// either what CloudFormation needs for the stack's resources (no service
// role, through CloudFormation only), or the PassRole of the service role;
// or, with --stack-role, the service role's own policy.
func TestPolicyFormsHoldWhatTheirCredentialsDo(t *testing.T) {
	withRole := writeManifest(t, "role.yaml", strings.Replace(readSample(t), "spec:\n", "spec:\n  iam: {stackRoleARN: \""+stackRole+"\"}\n", 1))
	cases := []struct {
		name        string
		args        []string
		createStack bool // the manager's own stack calls
		createVPC   bool // the stack's resources
		passRole    bool // the service role handed to CloudFormation
		calledVia   bool // the resources' statements admitted only through CloudFormation
	}{
		{"default: no service role", nil, true, true, false, true},
		{"the sample, no service role", []string{"-f", sample}, true, true, false, true},
		{"--stack-role-arn", []string{"--stack-role-arn", stackRole}, true, false, true, false},
		{"a manifest with spec.iam.stackRoleARN", []string{"-f", withRole}, true, false, true, false},
		{"--stack-role", []string{"--stack-role"}, false, true, false, false},
		{"--stack-role of a manifest with a role", []string{"--stack-role", "-f", withRole}, false, true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := policyOf(t, c.args...)
			if got := allows(d, "cloudformation:CreateStack"); got != c.createStack {
				t.Errorf("cloudformation:CreateStack allowed: %v, want %v", got, c.createStack)
			}
			if got := allows(d, "ec2:CreateVpc"); got != c.createVPC {
				t.Errorf("ec2:CreateVpc allowed: %v, want %v", got, c.createVPC)
			}
			if got := hasSid(d, "PassStackRoleToCloudFormation"); got != c.passRole {
				t.Errorf("passes the stack role: %v, want %v", got, c.passRole)
			}
			for _, s := range d.Statement {
				_, via := s.Condition["ForAnyValue:StringEquals"]["aws:CalledVia"]
				if strings.HasPrefix(s.Sid, "Stack") && s.Sid != "StackLifecycle" && s.Sid != "StackTagsThroughStackCalls" && via != c.calledVia {
					t.Errorf("%s: aws:CalledVia condition %v, want %v", s.Sid, via, c.calledVia)
				}
			}
		})
	}
}

// --account, --region and --partition pin every ARN; without them every
// ARN holds a wildcard there.
func TestPolicyScopeFlagsPinTheARNs(t *testing.T) {
	arn := regexp.MustCompile(`^arn:([^:]+):([^:]+):([^:]*):([^:]*):`)
	pinned := policyOf(t, "--account", "123456789012", "--region", "eu-west-1", "--partition", "aws")
	for _, s := range pinned.Statement {
		for _, r := range s.Resource {
			m := arn.FindStringSubmatch(r)
			if r == "*" || m == nil {
				continue
			}
			if m[1] != "aws" {
				t.Errorf("%s: %s not in partition aws", s.Sid, r)
			}
			if m[3] != "" && m[3] != "eu-west-1" {
				t.Errorf("%s: %s not in eu-west-1", s.Sid, r)
			}
			if m[4] != "" && m[4] != "123456789012" && m[4] != "aws" {
				t.Errorf("%s: %s not in account 123456789012", s.Sid, r)
			}
		}
	}
	open := policyOf(t)
	for _, s := range open.Statement {
		for _, r := range s.Resource {
			if m := arn.FindStringSubmatch(r); m != nil && m[1] != "*" {
				t.Errorf("%s: %s pins a partition", s.Sid, r)
			}
		}
	}
}

func TestPolicyWithABoundaryCreatesRolesOnlyUnderIt(t *testing.T) {
	const boundary = "arn:aws:iam::123456789012:policy/tapstack-boundary"
	d := policyOf(t, "--stack-role", "--permissions-boundary-arn", boundary)
	found := false
	for _, s := range d.Statement {
		if s.Sid == "StackRolesUnderTheBoundary" {
			found = true
			if got := s.Condition["StringEquals"]["iam:PermissionsBoundary"]; len(got) != 1 || got[0] != boundary {
				t.Errorf("boundary condition %v", got)
			}
		}
	}
	if !found || allows(d, "iam:DeleteRolePermissionsBoundary") {
		t.Errorf("role creation under the boundary: %v; boundary removable: %v", found, allows(d, "iam:DeleteRolePermissionsBoundary"))
	}
}

// --split writes managed policies within IAM's limit that, together, are
// the policy the command prints.
func TestPolicySplitWritesPartsWithinTheLimit(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI(t, "", noEnv, "policy", "--split", dir)
	if err != nil {
		t.Fatal(err)
	}
	paths := strings.Fields(out)
	if len(paths) < 2 {
		t.Fatalf("%d parts, want the policy without a stack role split: %q", len(paths), out)
	}
	var sids []string
	for i, p := range paths {
		if want := filepath.Join(dir, "tapstack-manager-"+string(rune('1'+i))+".json"); p != want {
			t.Errorf("part %d written to %s, want %s", i, p, want)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d iampolicy.Document
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if d.Size() > iampolicy.ManagedPolicyMaxSize {
			t.Errorf("%s is %d characters", p, d.Size())
		}
		for _, s := range d.Statement {
			sids = append(sids, s.Sid)
		}
	}
	var want []string
	for _, s := range policyOf(t).Statement {
		want = append(want, s.Sid)
	}
	if strings.Join(sids, " ") != strings.Join(want, " ") {
		t.Errorf("parts hold %v, want %v", sids, want)
	}
}

func TestPolicyErrorsAreClear(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"account not 12 digits", []string{"--account", "12345"}, "12-digit", true},
		{"region malformed", []string{"--region", "EU"}, "region name", true},
		{"partition malformed", []string{"--partition", "amazon"}, "aws or aws-<name>", true},
		{"both role forms", []string{"--stack-role", "--stack-role-arn", stackRole}, "give one", true},
		{"argument", []string{"manager"}, "unexpected argument", true},
		{"role ARN checked by the API's rule", []string{"--stack-role-arn", "tapstack-cloudformation"}, "spec.iam.stackRoleARN", false},
		{"boundary ARN checked by the API's rule", []string{"--permissions-boundary-arn", "arn:aws:iam::123456789012:role/x"}, "spec.iam.permissionsBoundaryARN", false},
		{"missing manifest", []string{"-f", filepath.Join(t.TempDir(), "absent.yaml")}, "no such file", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runCLI(t, "", noEnv, append([]string{"policy"}, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, c.want)
			}
			if got := errors.Is(err, errUsage); got != c.usage {
				t.Errorf("usage error = %v, want %v", got, c.usage)
			}
		})
	}
}

func readSample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeManifest(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
