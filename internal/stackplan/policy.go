package stackplan

import (
	"encoding/json"
	"sort"
)

// StackPolicy is the stack policy of the TapStack, a second layer under the
// change set guard: CloudFormation itself refuses to replace or delete a
// resource of a protected type during an update, whatever reached it (a
// change set executed by hand, an update from another tool). Every other
// update is allowed. The allowed logical ids (the annotation's) are exempt,
// so that the update the guard let through can run.
func StackPolicy(allowed map[string]bool) string {
	types := make([]string, 0, len(ProtectedTypes))
	for t := range ProtectedTypes {
		types = append(types, t)
	}
	sort.Strings(types)
	deny := map[string]any{
		"Effect":    "Deny",
		"Action":    []string{"Update:Replace", "Update:Delete"},
		"Principal": "*",
		"Condition": map[string]any{"StringEquals": map[string]any{"ResourceType": types}},
	}
	if len(allowed) == 0 {
		deny["Resource"] = "*"
	} else {
		ids := make([]string, 0, len(allowed))
		for id := range allowed {
			ids = append(ids, "LogicalResourceId/"+id)
		}
		sort.Strings(ids)
		// A Deny overrides any Allow: the exemption is in the Deny itself.
		deny["NotResource"] = ids
	}
	policy := map[string]any{"Statement": []any{
		map[string]any{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
		deny,
	}}
	body, err := json.Marshal(policy)
	if err != nil {
		panic(err) // strings only
	}
	return string(body)
}
