package iampolicy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Split keeps every statement, whole and in order, and no part is over the
// limit; one document that fits is one part.
func TestSplitKeepsTheStatementsUnderTheLimit(t *testing.T) {
	big := Manager(Scope{}, "")
	stack, err := Stack(Scope{}, templates(t)["sample"], StackOptions{ThroughCloudFormation: true})
	if err != nil {
		t.Fatal(err)
	}
	big.Statement = append(big.Statement, stack.Statement...)
	for _, tc := range []struct {
		name  string
		doc   Document
		parts int // 0: more than one
	}{
		{"manager with a stack role", Manager(Scope{}, testStackRole), 1},
		{"manager creating the stack's resources", big, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := tc.doc.Split(ManagedPolicyMaxSize)
			if err != nil {
				t.Fatal(err)
			}
			if tc.parts != 0 && len(parts) != tc.parts || tc.parts == 0 && len(parts) < 2 {
				t.Fatalf("%d parts of a %d-character document", len(parts), tc.doc.Size())
			}
			var sids []string
			for i, p := range parts {
				if p.Size() > ManagedPolicyMaxSize {
					t.Errorf("part %d is %d characters", i, p.Size())
				}
				if p.Version != "2012-10-17" {
					t.Errorf("part %d has version %q", i, p.Version)
				}
				for _, s := range p.Statement {
					sids = append(sids, s.Sid)
				}
			}
			var want []string
			for _, s := range tc.doc.Statement {
				want = append(want, s.Sid)
			}
			if strings.Join(sids, ",") != strings.Join(want, ",") {
				t.Errorf("statements %v, want %v", sids, want)
			}
		})
	}
}

func TestSplitRefusesAStatementOverTheLimit(t *testing.T) {
	var actions []string
	for i := 0; i < 400; i++ {
		actions = append(actions, fmt.Sprintf("ec2:Action%d", i))
	}
	d := newDocument(allow("Huge", actions, []string{"*"}, nil))
	if _, err := d.Split(ManagedPolicyMaxSize); err == nil || !strings.Contains(err.Error(), "Huge") {
		t.Fatalf("err = %v, want one naming the statement", err)
	}
}

// The document is what IAM reads: Version, and statements with Sid, Effect,
// Action and Resource lists, and Condition only where there is one.
func TestDocumentJSONIsAnIAMPolicy(t *testing.T) {
	b, err := Manager(Scope{}, "").JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
		t.Fatalf("version %q, %d statements", doc.Version, len(doc.Statement))
	}
	sids := map[string]bool{}
	for _, s := range doc.Statement {
		sid, _ := s["Sid"].(string)
		if sid == "" || sids[sid] {
			t.Errorf("Sid %q missing or repeated", sid)
		}
		sids[sid] = true
		if s["Effect"] != "Allow" {
			t.Errorf("%s: Effect %v", sid, s["Effect"])
		}
		for _, k := range []string{"Action", "Resource"} {
			if l, ok := s[k].([]any); !ok || len(l) == 0 {
				t.Errorf("%s: %s %v, want a non-empty list", sid, k, s[k])
			}
		}
		if c, ok := s["Condition"]; ok && len(c.(map[string]any)) == 0 {
			t.Errorf("%s: empty Condition", sid)
		}
	}
}
