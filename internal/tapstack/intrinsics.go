package tapstack

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// goformation's typed properties are Go strings, so an intrinsic function has to
// travel inside a string: like goformation's own helpers, these encode the
// intrinsic as base64 of its JSON form, and render expands every such string back
// into the JSON object. Unlike goformation's helpers they build the JSON with
// encoding/json (exact escaping, sorted maps), which keeps the template
// byte-identical from run to run.

// intrinsicNames are the functions expand recognises inside encoded strings.
var intrinsicNames = map[string]bool{
	"Ref": true, "Fn::GetAtt": true, "Fn::Sub": true, "Fn::Join": true,
	"Fn::Select": true, "Fn::Split": true, "Fn::Cidr": true, "Fn::GetAZs": true,
	"Fn::If": true, "Fn::Equals": true,
}

func intrinsic(name string, args any) string {
	b, err := json.Marshal(map[string]any{name: args})
	if err != nil {
		// Arguments are strings, ints and slices of them; failing here is a bug.
		panic(fmt.Sprintf("encode %s: %v", name, err))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func ref(logicalID string) string { return intrinsic("Ref", logicalID) }

func getAtt(logicalID, attribute string) string {
	return intrinsic("Fn::GetAtt", []string{logicalID, attribute})
}

// sub is Fn::Sub over ${LogicalId}, ${LogicalId.Attr} and ${AWS::...} references.
func sub(format string) string { return intrinsic("Fn::Sub", format) }

// subVars is Fn::Sub with named variables, for values that are themselves
// intrinsics (Fn::Sub cannot nest them inline).
func subVars(format string, vars map[string]string) string {
	return intrinsic("Fn::Sub", []any{format, vars})
}

func join(delimiter string, parts ...string) string {
	return intrinsic("Fn::Join", []any{delimiter, parts})
}

func selectIndex(index int, list string) string {
	return intrinsic("Fn::Select", []any{index, list})
}

func split(delimiter, source string) string {
	return intrinsic("Fn::Split", []any{delimiter, source})
}

// cidr carves count blocks of hostBits host bits out of ipBlock.
func cidr(ipBlock string, count, hostBits int) string {
	return intrinsic("Fn::Cidr", []any{ipBlock, count, hostBits})
}

// fnIf is Fn::If over a condition of the template's Conditions section.
func fnIf(condition, ifTrue, ifFalse string) string {
	return intrinsic("Fn::If", []any{condition, ifTrue, ifFalse})
}

// equals is Fn::Equals, the body of a template condition.
func equals(a, b string) string { return intrinsic("Fn::Equals", []any{a, b}) }

// getAZs lists the availability zones of the stack's region.
func getAZs() string { return intrinsic("Fn::GetAZs", "") }

// pseudo references a pseudo parameter such as AWS::Partition.
func pseudo(name string) string { return ref(name) }

// arnResourceID is the resource id at the end of an ARN (the part after the
// last colon of arn:partition:service:region:account:type:id).
func arnResourceID(arn string) string { return selectIndex(6, split(":", arn)) }

func ptr[T any](v T) *T { return &v }
