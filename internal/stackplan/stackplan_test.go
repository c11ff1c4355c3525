package stackplan

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
)

const (
	oldHash = "sha256:aaaa"
	newHash = "sha256:bbbb"

	failedResource = "SourceDatabase (AWS::RDS::DBInstance)"
	failedReason   = "DB instance quota exceeded"
)

// camelCase is what a condition reason must look like: no spaces, no underscores.
var camelCase = regexp.MustCompile(`^[A-Z][a-z]+(?:[A-Z][a-z]+)*$`)

// want is the part of a Plan a row of the status table fixes.
type want struct {
	action       Action
	timing       Timing
	ready        bool
	terminal     bool
	reason       string
	namesFailure bool // the message names the failed resource and its reason
}

// Shorthands for the rows of the table below.
func wait(reason string) want { return want{action: None, timing: Fast, reason: reason} }
func waitFailing(reason string) want {
	return want{action: None, timing: Fast, reason: reason, namesFailure: true}
}
func stuck(reason string) want {
	return want{action: None, timing: Slow, terminal: true, reason: reason, namesFailure: true}
}

var (
	update      = want{action: Update, timing: Fast, ready: true, reason: "Updating"}
	recreate    = want{action: RecreateRolledBack, timing: Fast, reason: "CreateFailed", namesFailure: true}
	updateAgain = want{action: Update, timing: Fast, reason: "Updating"}
)

// statusTable is the whole policy, one row per CloudFormation stack status:
// what to do when the template is unchanged and when the spec changed.
var statusTable = []struct {
	status    cfntypes.StackStatus
	unchanged want
	changed   want
	// absent: Observe reports the stack as not existing, Decide never sees it.
	absent bool
}{
	{status: cfntypes.StackStatusCreateInProgress, unchanged: wait("CreateInProgress"), changed: wait("CreateInProgress")},
	{status: cfntypes.StackStatusCreateFailed, unchanged: stuck("CreateFailed"), changed: stuck("CreateFailed")},
	{status: cfntypes.StackStatusCreateComplete, unchanged: want{action: None, timing: Slow, ready: true, reason: "Created"}, changed: update},
	{status: cfntypes.StackStatusRollbackInProgress, unchanged: waitFailing("RollbackInProgress"), changed: waitFailing("RollbackInProgress")},
	{status: cfntypes.StackStatusRollbackFailed, unchanged: stuck("RollbackFailed"), changed: stuck("RollbackFailed")},
	{status: cfntypes.StackStatusRollbackComplete, unchanged: recreate, changed: recreate},
	{status: cfntypes.StackStatusDeleteInProgress, unchanged: wait("DeleteInProgress"), changed: wait("DeleteInProgress")},
	{status: cfntypes.StackStatusDeleteFailed, unchanged: stuck("DeleteFailed"), changed: stuck("DeleteFailed")},
	{status: cfntypes.StackStatusDeleteComplete, absent: true},
	{status: cfntypes.StackStatusUpdateInProgress, unchanged: wait("UpdateInProgress"), changed: wait("UpdateInProgress")},
	{
		status:    cfntypes.StackStatusUpdateCompleteCleanupInProgress,
		unchanged: want{action: None, timing: Fast, ready: true, reason: "UpdateCompleteCleanupInProgress"},
		changed:   want{action: None, timing: Fast, ready: true, reason: "UpdateCompleteCleanupInProgress"},
	},
	{status: cfntypes.StackStatusUpdateComplete, unchanged: want{action: None, timing: Slow, ready: true, reason: "Updated"}, changed: update},
	{status: cfntypes.StackStatusUpdateFailed, unchanged: stuck("UpdateFailed"), changed: stuck("UpdateFailed")},
	{status: cfntypes.StackStatusUpdateRollbackInProgress, unchanged: waitFailing("UpdateRollbackInProgress"), changed: waitFailing("UpdateRollbackInProgress")},
	{status: cfntypes.StackStatusUpdateRollbackFailed, unchanged: stuck("UpdateRollbackFailed"), changed: stuck("UpdateRollbackFailed")},
	{
		status:    cfntypes.StackStatusUpdateRollbackCompleteCleanupInProgress,
		unchanged: waitFailing("UpdateRollbackCompleteCleanupInProgress"),
		changed:   waitFailing("UpdateRollbackCompleteCleanupInProgress"),
	},
	{
		status:    cfntypes.StackStatusUpdateRollbackComplete,
		unchanged: want{action: None, timing: Slow, reason: "UpdateRolledBack", namesFailure: true},
		changed:   updateAgain,
	},
	{
		status:    cfntypes.StackStatusReviewInProgress,
		unchanged: want{action: None, timing: Slow, reason: "ReviewInProgress"},
		changed:   want{action: None, timing: Slow, reason: "ReviewInProgress"},
	},
	{status: cfntypes.StackStatusImportInProgress, unchanged: wait("ImportInProgress"), changed: wait("ImportInProgress")},
	{status: cfntypes.StackStatusImportComplete, unchanged: want{action: None, timing: Slow, ready: true, reason: "Updated"}, changed: update},
	{status: cfntypes.StackStatusImportRollbackInProgress, unchanged: waitFailing("ImportRollbackInProgress"), changed: waitFailing("ImportRollbackInProgress")},
	{status: cfntypes.StackStatusImportRollbackFailed, unchanged: stuck("ImportRollbackFailed"), changed: stuck("ImportRollbackFailed")},
	{
		status:    cfntypes.StackStatusImportRollbackComplete,
		unchanged: want{action: None, timing: Slow, reason: "UpdateRolledBack", namesFailure: true},
		changed:   updateAgain,
	},
}

// checkPlan asserts what holds for every plan, whatever the inputs.
func checkPlan(t *testing.T, p Plan) {
	t.Helper()
	if !camelCase.MatchString(p.Reason) {
		t.Errorf("reason %q is not CamelCase without spaces", p.Reason)
	}
	if p.Message == "" {
		t.Error("plan has no message")
	}
	if p.Timing != Fast && p.Timing != Slow {
		t.Errorf("timing %q is neither Fast nor Slow", p.Timing)
	}
	if p.Action != Create && p.Attempts != 0 {
		t.Errorf("action %s records %d attempts; only Create records attempts", p.Action, p.Attempts)
	}
	if p.Terminal && p.Action != None {
		t.Errorf("terminal plan acts (%s); a terminal stack waits for a human", p.Action)
	}
}

func TestDecideHandlesEveryStackStatusWithTemplateChangedOrNot(t *testing.T) {
	for _, row := range statusTable {
		if row.absent {
			continue // covered in TestDecideStatusTableCoversEverySDKStatus
		}
		for _, changed := range []bool{false, true} {
			w, desired := row.unchanged, oldHash
			name := string(row.status) + "/template_unchanged"
			if changed {
				w, desired, name = row.changed, newHash, string(row.status)+"/template_changed"
			}
			t.Run(name, func(t *testing.T) {
				p := Decide(Inputs{
					Observed: cfnstack.Observation{
						Exists: true, ID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/tapstack-pr1/1",
						Status: string(row.status), StatusReason: "stack-level reason",
						FailedResource: failedResource, FailedReason: failedReason,
					},
					DesiredHash: desired, AppliedHash: oldHash, Attempts: 1, MaxAttempts: 3,
				})
				checkPlan(t, p)
				if p.Action != w.action || p.Timing != w.timing || p.Ready != w.ready || p.Terminal != w.terminal || p.Reason != w.reason {
					t.Errorf("got action=%s timing=%s ready=%t terminal=%t reason=%s, want action=%s timing=%s ready=%t terminal=%t reason=%s",
						p.Action, p.Timing, p.Ready, p.Terminal, p.Reason, w.action, w.timing, w.ready, w.terminal, w.reason)
				}
				named := strings.Contains(p.Message, failedResource) && strings.Contains(p.Message, failedReason)
				if named != w.namesFailure {
					t.Errorf("message %q names the failed resource and reason: %t, want %t", p.Message, named, w.namesFailure)
				}
			})
		}
	}
}

func TestDecideStatusTableCoversEverySDKStatus(t *testing.T) {
	rows := map[cfntypes.StackStatus]bool{}
	for _, row := range statusTable {
		if rows[row.status] {
			t.Errorf("status %s appears twice in the table", row.status)
		}
		rows[row.status] = true
	}
	sdk := map[cfntypes.StackStatus]bool{}
	for _, s := range cfntypes.StackStatus("").Values() {
		sdk[s] = true
		if !rows[s] {
			t.Errorf("the SDK knows stack status %s, which the decision table does not cover", s)
		}
	}
	for s := range rows {
		if !sdk[s] {
			t.Errorf("the table covers %s, which the SDK does not know (a typo?)", s)
		}
	}
	for _, row := range statusTable {
		if row.absent {
			continue
		}
		for _, desired := range []string{oldHash, newHash} {
			p := Decide(Inputs{Observed: cfnstack.Observation{Exists: true, Status: string(row.status)}, DesiredHash: desired, AppliedHash: oldHash, MaxAttempts: 3})
			if p.Reason == "UnknownStatus" {
				t.Errorf("status %s (desired %s) falls into the UnknownStatus branch", row.status, desired)
			}
		}
	}
}

func TestDecideReportsAnUnknownStatusWithoutActing(t *testing.T) {
	for _, status := range []string{"EXPORT_COMPLETE", "SOMETHING_NEW"} {
		t.Run(status, func(t *testing.T) {
			p := Decide(Inputs{Observed: cfnstack.Observation{Exists: true, Status: status}, DesiredHash: newHash, AppliedHash: oldHash})
			checkPlan(t, p)
			if p.Action != None || p.Ready || p.Terminal || p.Reason != "UnknownStatus" || !strings.Contains(p.Message, status) {
				t.Errorf("got %+v, want no action, not ready, reason UnknownStatus naming %s", p, status)
			}
		})
	}
}

func TestDecideCountsCreationAttemptsAndBoundsRecreation(t *testing.T) {
	absent := cfnstack.Observation{}
	rolledBack := cfnstack.Observation{Exists: true, ID: "stack-id", Status: "ROLLBACK_COMPLETE", FailedResource: failedResource, FailedReason: failedReason}
	tests := []struct {
		name         string
		observed     cfnstack.Observation
		desired      string
		applied      string
		attempts     int32
		max          int32
		wantAction   Action
		wantAttempts int32
		wantTerminal bool
		wantInMsg    []string
	}{
		{name: "first creation is attempt 1", observed: absent, desired: newHash, applied: "", wantAction: Create, wantAttempts: 1, max: 3, wantInMsg: []string{"attempt 1"}},
		{name: "re-creation of the same template counts up", observed: absent, desired: oldHash, applied: oldHash, attempts: 1, max: 3, wantAction: Create, wantAttempts: 2, wantInMsg: []string{"attempt 2"}},
		{name: "last allowed attempt", observed: absent, desired: oldHash, applied: oldHash, attempts: 2, max: 3, wantAction: Create, wantAttempts: 3},
		{name: "no creation beyond MaxAttempts", observed: absent, desired: oldHash, applied: oldHash, attempts: 3, max: 3, wantAction: None, wantTerminal: true, wantInMsg: []string{"3 times", "change the spec"}},
		{name: "a changed spec starts counting again", observed: absent, desired: newHash, applied: oldHash, attempts: 3, max: 3, wantAction: Create, wantAttempts: 1},
		{name: "MaxAttempts 0 does not bound", observed: absent, desired: oldHash, applied: oldHash, attempts: 10, max: 0, wantAction: Create, wantAttempts: 11},
		{name: "rolled-back creation below the bound is deleted to retry", observed: rolledBack, desired: oldHash, applied: oldHash, attempts: 2, max: 3, wantAction: RecreateRolledBack, wantInMsg: []string{failedResource, failedReason}},
		{name: "rolled-back creation at the bound is terminal and kept", observed: rolledBack, desired: oldHash, applied: oldHash, attempts: 3, max: 3, wantAction: None, wantTerminal: true, wantInMsg: []string{"3 times", failedResource, failedReason}},
		{name: "rolled-back creation at the bound is retried when the spec changed", observed: rolledBack, desired: newHash, applied: oldHash, attempts: 3, max: 3, wantAction: RecreateRolledBack},
		{name: "rolled-back creation without a bound is always retried", observed: rolledBack, desired: oldHash, applied: oldHash, attempts: 50, max: 0, wantAction: RecreateRolledBack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Decide(Inputs{Observed: tt.observed, DesiredHash: tt.desired, AppliedHash: tt.applied, Attempts: tt.attempts, MaxAttempts: tt.max})
			checkPlan(t, p)
			if p.Action != tt.wantAction || p.Attempts != tt.wantAttempts || p.Terminal != tt.wantTerminal {
				t.Errorf("got action=%s attempts=%d terminal=%t, want action=%s attempts=%d terminal=%t",
					p.Action, p.Attempts, p.Terminal, tt.wantAction, tt.wantAttempts, tt.wantTerminal)
			}
			if p.Terminal && p.Reason != "CreateFailed" {
				t.Errorf("terminal creation failure has reason %q, want CreateFailed", p.Reason)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(p.Message, s) {
					t.Errorf("message %q does not contain %q", p.Message, s)
				}
			}
		})
	}
}

// TestDecideCreatesAFailingTemplateExactlyMaxAttemptsTimes plays the
// reconciler against a stack whose creation always rolls back.
func TestDecideCreatesAFailingTemplateExactlyMaxAttemptsTimes(t *testing.T) {
	for _, max := range []int32{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("max_%d", max), func(t *testing.T) {
			var (
				obs      cfnstack.Observation
				applied  string
				attempts int32
				created  int32
			)
			for step := 0; step < 100; step++ {
				p := Decide(Inputs{Observed: obs, DesiredHash: newHash, AppliedHash: applied, Attempts: attempts, MaxAttempts: max})
				checkPlan(t, p)
				if p.Terminal {
					break
				}
				switch p.Action {
				case Create:
					created++
					applied, attempts = newHash, p.Attempts
					if attempts != created {
						t.Fatalf("creation %d recorded as attempt %d", created, attempts)
					}
					obs = cfnstack.Observation{Exists: true, ID: "id", Status: "ROLLBACK_COMPLETE", FailedResource: failedResource, FailedReason: failedReason}
				case RecreateRolledBack:
					obs = cfnstack.Observation{}
				default:
					t.Fatalf("unexpected plan %+v", p)
				}
			}
			if created != max {
				t.Errorf("created the stack %d times, want exactly MaxAttempts=%d", created, max)
			}
		})
	}
}

func TestDecideFailureMessageNamesTheFailedResourceOrFallsBack(t *testing.T) {
	tests := []struct {
		name string
		obs  cfnstack.Observation
		want string
	}{
		{name: "failed resource and its reason", obs: cfnstack.Observation{FailedResource: failedResource, FailedReason: failedReason, StatusReason: "stack reason"},
			want: failedResource + " failed: " + failedReason},
		{name: "stack status reason without a failed resource", obs: cfnstack.Observation{StatusReason: "The following resource(s) failed to create: [SourceDatabase]."},
			want: "The following resource(s) failed to create: [SourceDatabase]."},
		{name: "nothing reported", obs: cfnstack.Observation{}, want: "no failure reason reported"},
	}
	for _, tt := range tests {
		for _, status := range []string{"ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS"} {
			t.Run(tt.name+"/"+status, func(t *testing.T) {
				obs := tt.obs
				obs.Exists, obs.Status = true, status
				p := Decide(Inputs{Observed: obs, DesiredHash: oldHash, AppliedHash: oldHash, Attempts: 1, MaxAttempts: 3})
				checkPlan(t, p)
				if !strings.Contains(p.Message, tt.want) {
					t.Errorf("message %q does not contain %q", p.Message, tt.want)
				}
			})
		}
	}
}
