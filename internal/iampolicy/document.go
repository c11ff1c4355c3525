package iampolicy

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one Allow statement. Actions and resources are kept sorted so
// that the printed policy is stable.
type Statement struct {
	Sid       string     `json:"Sid"`
	Effect    string     `json:"Effect"`
	Action    []string   `json:"Action"`
	Resource  []string   `json:"Resource"`
	Condition Conditions `json:"Condition,omitempty"`
}

// Conditions maps an operator (StringEquals, ForAllValues:StringLike...) to
// condition keys and their values.
type Conditions map[string]map[string][]string

// newDocument is a policy of the given statements.
func newDocument(statements ...Statement) Document {
	return Document{Version: "2012-10-17", Statement: statements}
}

// allow is an Allow statement, its actions and resources sorted and unique.
func allow(sid string, actions, resources []string, cond Conditions) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: sortedUnique(actions), Resource: sortedUnique(resources), Condition: cond}
}

// JSON is the document indented for people, ending with a newline.
func (d Document) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering policy document: %w", err)
	}
	return append(b, '\n'), nil
}

// Actions are every action the document allows, sorted.
func (d Document) Actions() []string {
	var all []string
	for _, s := range d.Statement {
		all = append(all, s.Action...)
	}
	return sortedUnique(all)
}

func sortedUnique(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// ManagedPolicyMaxSize is IAM's limit on a managed policy document, in
// characters not counting white space.
const ManagedPolicyMaxSize = 6144

// Size is the length IAM counts against its limits: the document without
// white space.
func (d Document) Size() int {
	b, _ := json.Marshal(d) // the document's types always marshal
	return len(b)
}

// Split cuts d into documents of at most maxSize characters, keeping the
// statements whole and in order, for policies over IAM's limit: each part
// becomes a managed policy of its own, attached to the same role. A
// statement too large on its own is an error.
func (d Document) Split(maxSize int) ([]Document, error) {
	var parts []Document
	current := newDocument()
	for _, s := range d.Statement {
		candidate := newDocument(append(append([]Statement(nil), current.Statement...), s)...)
		if candidate.Size() <= maxSize {
			current = candidate
			continue
		}
		if len(current.Statement) == 0 {
			return nil, fmt.Errorf("statement %s alone is %d characters, over the %d of a policy", s.Sid, candidate.Size(), maxSize)
		}
		parts = append(parts, current)
		current = newDocument(s)
		if current.Size() > maxSize {
			return nil, fmt.Errorf("statement %s alone is %d characters, over the %d of a policy", s.Sid, current.Size(), maxSize)
		}
	}
	if len(current.Statement) > 0 {
		parts = append(parts, current)
	}
	return parts, nil
}
