package cfnstack

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

var testParams = map[string]string{"Route53HealthCheckPrefixListId": "pl-0123abcd", "Another": "x"}

var wantParams = []cfntypes.Parameter{
	{ParameterKey: aws.String("Another"), ParameterValue: aws.String("x")},
	{ParameterKey: aws.String("Route53HealthCheckPrefixListId"), ParameterValue: aws.String("pl-0123abcd")},
}

func paramString(ps []cfntypes.Parameter) string {
	s := ""
	for _, p := range ps {
		s += aws.ToString(p.ParameterKey) + "=" + aws.ToString(p.ParameterValue) + " "
		if p.UsePreviousValue != nil {
			s += "(UsePreviousValue) "
		}
	}
	return s
}

// The parameter values go with the stack's creation and with every change set,
// explicitly, in key order.
func TestCreateAndChangeSetSendTheParameters(t *testing.T) {
	f := newFakeCFN(t)
	d := desired(100)
	d.Parameters = testParams
	c := &Client{API: f}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got := f.createStack.Parameters; !reflect.DeepEqual(got, wantParams) {
		t.Errorf("CreateStack Parameters = %s, want %s", paramString(got), paramString(wantParams))
	}
	f.csErr = &cfntypes.ChangeSetNotFoundException{}
	if _, err := c.Update(context.Background(), "stack-id", d); err != nil {
		t.Fatal(err)
	}
	if got := f.createChangeSet.Parameters; !reflect.DeepEqual(got, wantParams) {
		t.Errorf("CreateChangeSet Parameters = %s, want %s", paramString(got), paramString(wantParams))
	}
}

func TestNoParametersSendsNone(t *testing.T) {
	f := newFakeCFN(t)
	if err := (&Client{API: f}).Create(context.Background(), desired(100)); err != nil {
		t.Fatal(err)
	}
	if f.createStack.Parameters != nil {
		t.Errorf("Parameters = %s, want none", paramString(f.createStack.Parameters))
	}
}

// A changed parameter value changes the hash the controller decides updates
// on (and names the change set after); equal inputs give equal hashes.
func TestDesiredHashFollowsTheParameterValues(t *testing.T) {
	const tpl = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if got := DesiredHash(tpl, nil); got != tpl {
		t.Errorf("without parameters the hash is %s, want the template's %s", got, tpl)
	}
	a := DesiredHash(tpl, map[string]string{"P": "pl-1", "Q": "x"})
	if b := DesiredHash(tpl, map[string]string{"Q": "x", "P": "pl-1"}); a != b {
		t.Errorf("same parameters, different hashes %s %s", a, b)
	}
	for name, other := range map[string]string{
		"value changed":    DesiredHash(tpl, map[string]string{"P": "pl-2", "Q": "x"}),
		"template changed": DesiredHash("sha256:ff", map[string]string{"P": "pl-1", "Q": "x"}),
		"key moved":        DesiredHash(tpl, map[string]string{"P": "pl-1", "Qx": ""}),
		"no parameters":    DesiredHash(tpl, nil),
	} {
		if other == a {
			t.Errorf("%s: hash unchanged %s", name, a)
		}
	}
	if ChangeSetName(a) == ChangeSetName(DesiredHash(tpl, map[string]string{"P": "pl-2", "Q": "x"})) {
		t.Error("a new parameter value reuses the change set name of the old one")
	}
	if len(a) != len(tpl) || a[:7] != "sha256:" {
		t.Errorf("hash %q is not sha256:<hex>", a)
	}
}
