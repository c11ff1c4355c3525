package stackplan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
)

// AllowReplacementAnnotation on a PaymentMigration lists, comma-separated, the
// logical ids of protected resources that the next stack updates may replace
// or remove (for example "TargetDatabase,TargetBucket"). Nothing else is let
// through: the annotation names resources, not kinds of change.
const AllowReplacementAnnotation = "payments.tapstack.io/allow-replacement"

// ProtectedTypes hold payments or the way they move: replacing one loses its
// data (databases, buckets), its credentials (secrets) or the replication
// position (DMS).
var ProtectedTypes = map[string]bool{
	"AWS::RDS::DBInstance":          true,
	"AWS::S3::Bucket":               true,
	"AWS::SecretsManager::Secret":   true,
	"AWS::DMS::ReplicationTask":     true,
	"AWS::DMS::Endpoint":            true,
	"AWS::DMS::ReplicationInstance": true,
}

// Refusal is a change of a protected resource that the guard does not let run.
type Refusal struct {
	LogicalID string
	Type      string
	// Remove or Replace.
	Change string
	// Properties whose change forces the replacement, as CloudFormation names
	// them; empty for a removal, or when CloudFormation does not say.
	Properties []string
}

// ParseAllowed reads the ids of AllowReplacementAnnotation.
func ParseAllowed(annotation string) map[string]bool {
	allowed := map[string]bool{}
	for _, id := range strings.Split(annotation, ",") {
		if id = strings.TrimSpace(id); id != "" {
			allowed[id] = true
		}
	}
	return allowed
}

// GuardChanges returns the changes of a change set that must not run: every
// removal of a protected resource and every replacement, certain (True) or
// possible (Conditional, which CloudFormation decides only while executing),
// unless its logical id is allowed. In logical id order.
func GuardChanges(changes []cfnstack.ResourceChange, allowed map[string]bool) []Refusal {
	var out []Refusal
	for _, c := range changes {
		if !ProtectedTypes[c.Type] || allowed[c.LogicalID] {
			continue
		}
		switch {
		case c.Action == "Remove":
			out = append(out, Refusal{LogicalID: c.LogicalID, Type: c.Type, Change: "Remove"})
		case c.Action == "Modify" && (c.Replacement == "True" || c.Replacement == "Conditional"):
			out = append(out, Refusal{LogicalID: c.LogicalID, Type: c.Type, Change: "Replace", Properties: c.Recreating})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

// RefusalMessage says what was refused and how to allow it, or "" when
// nothing was. It is the message of StackReady=False/ReplacementRefused.
func RefusalMessage(refused []Refusal) string {
	if len(refused) == 0 {
		return ""
	}
	parts := make([]string, 0, len(refused))
	ids := make([]string, 0, len(refused))
	for _, r := range refused {
		switch {
		case r.Change == "Remove":
			parts = append(parts, fmt.Sprintf("removes %s (%s)", r.LogicalID, r.Type))
		case len(r.Properties) > 0:
			parts = append(parts, fmt.Sprintf("replaces %s (%s) because of %s", r.LogicalID, r.Type, strings.Join(r.Properties, ", ")))
		default:
			parts = append(parts, fmt.Sprintf("replaces %s (%s)", r.LogicalID, r.Type))
		}
		ids = append(ids, r.LogicalID)
	}
	return fmt.Sprintf("the stack update %s, which loses its data; it was not executed and nothing changed. "+
		"Revert the spec change, or allow exactly these resources with the annotation %s: %q",
		strings.Join(parts, "; "), AllowReplacementAnnotation, strings.Join(ids, ","))
}

// ReplacementGuard is the cfnstack.Guard of a migration with these allowed ids.
func ReplacementGuard(allowed map[string]bool) cfnstack.Guard {
	return func(changes []cfnstack.ResourceChange) string {
		return RefusalMessage(GuardChanges(changes, allowed))
	}
}
