package controllers

import "testing"

func TestTheTaskIsWatchedInEveryStackStatusWhereItStandsAndNoOther(t *testing.T) {
	for status, want := range map[string]bool{
		"UPDATE_IN_PROGRESS": true, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": true,
		"UPDATE_ROLLBACK_IN_PROGRESS": true, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": true,
		"UPDATE_ROLLBACK_COMPLETE": true, "UPDATE_ROLLBACK_FAILED": true, "UPDATE_FAILED": true,
		"IMPORT_ROLLBACK_COMPLETE": true,
		// Ready stacks go through handOverToReplication; in these the task
		// does not exist, or is about to go.
		"CREATE_COMPLETE": false, "UPDATE_COMPLETE": false, "CREATE_IN_PROGRESS": false, "CREATE_FAILED": false,
		"ROLLBACK_IN_PROGRESS": false, "ROLLBACK_COMPLETE": false, "ROLLBACK_FAILED": false,
		"DELETE_IN_PROGRESS": false, "DELETE_FAILED": false, "DELETE_COMPLETE": false, "REVIEW_IN_PROGRESS": false, "": false,
	} {
		if got := taskOutlivesStackChange(status); got != want {
			t.Errorf("taskOutlivesStackChange(%q) = %v, want %v", status, got, want)
		}
	}
}
