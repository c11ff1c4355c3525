package stackplan

import (
	"slices"

	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
)

// ModifiedTasks lists the DMS replication tasks a change set modifies in
// place (a replacement or removal is the replacement guard's to refuse). DMS
// applies a modification only to a task that is stopped, failed or never
// started: a running task must be stopped before such a change set runs, or
// the update fails, and resumed after it.
func ModifiedTasks(changes []cfnstack.ResourceChange) []string {
	var ids []string
	for _, c := range changes {
		if c.Type == "AWS::DMS::ReplicationTask" && (c.Action == "Modify" || c.Action == "Dynamic") && c.Replacement != "True" {
			ids = append(ids, c.LogicalID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TaskModifiable reports whether DMS accepts a modification of a task in this
// status.
func TaskModifiable(status string) bool {
	switch status {
	case "stopped", "failed", "ready", "":
		return true
	}
	return false
}
