package stackplan

import (
	"slices"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
)

func TestModifiedTasksAreTheDMSTasksChangedInPlace(t *testing.T) {
	changes := []cfnstack.ResourceChange{
		{LogicalID: "EcsService", Type: "AWS::ECS::Service", Action: "Modify", Replacement: "False"},
		{LogicalID: "DmsReplicationTask", Type: "AWS::DMS::ReplicationTask", Action: "Modify", Replacement: "False"},
		{LogicalID: "DmsReverseReplicationTask", Type: "AWS::DMS::ReplicationTask", Action: "Dynamic"},
		{LogicalID: "Replaced", Type: "AWS::DMS::ReplicationTask", Action: "Modify", Replacement: "True"},
		{LogicalID: "Added", Type: "AWS::DMS::ReplicationTask", Action: "Add"},
		{LogicalID: "Removed", Type: "AWS::DMS::ReplicationTask", Action: "Remove"},
	}
	if got, want := ModifiedTasks(changes), []string{"DmsReplicationTask", "DmsReverseReplicationTask"}; !slices.Equal(got, want) {
		t.Errorf("ModifiedTasks = %v, want %v", got, want)
	}
	if got := ModifiedTasks(changes[:1]); got != nil {
		t.Errorf("no task changed: %v", got)
	}
}

func TestTaskModifiableOnlyWhenDMSAcceptsAModification(t *testing.T) {
	for status, want := range map[string]bool{"stopped": true, "failed": true, "ready": true, "": true,
		"running": false, "starting": false, "stopping": false, "modifying": false, "creating": false, "deleting": false} {
		if got := TaskModifiable(status); got != want {
			t.Errorf("TaskModifiable(%q) = %v, want %v", status, got, want)
		}
	}
}
