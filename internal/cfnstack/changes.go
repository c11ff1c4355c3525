package cfnstack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// ResourceChange is one resource change of a change set, as much of it as a
// guard needs to decide whether the change set may run.
type ResourceChange struct {
	LogicalID string
	Type      string
	// Action is Add, Modify, Remove, Import or Dynamic.
	Action string
	// Replacement is True, False or Conditional (Modify only).
	Replacement string
	// Recreating are the properties (or attributes) whose change requires
	// the resource to be recreated, always or conditionally.
	Recreating []string
}

// Guard reads the changes of a change set before it is executed and returns
// why it must not run, or "" to run it.
type Guard func([]ResourceChange) string

// RefusedError is a change set that a Guard refused. It was deleted, not
// executed: the stack is unchanged.
type RefusedError struct {
	ChangeSet string
	Reason    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("change set %s refused and deleted: %s", e.ChangeSet, e.Reason)
}

// maxChangePages bounds the walk over a change set's pages (each holds up to
// 100 changes; the TapStack has about 90 resources).
const maxChangePages = 20

// changesOf returns every resource change of a change set, first is its first
// page as already described.
func (c *Client) changesOf(ctx context.Context, stackID, name string, first *cloudformation.DescribeChangeSetOutput) ([]ResourceChange, error) {
	var out []ResourceChange
	page := first
	for i := 0; ; i++ {
		out = append(out, resourceChanges(page.Changes)...)
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		if i+1 >= maxChangePages {
			// An unread page may hold a replacement: a partial read is no read.
			return nil, fmt.Errorf("change set %s has more than %d pages of changes", name, maxChangePages)
		}
		next, err := c.API.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{
			StackName: aws.String(stackID), ChangeSetName: aws.String(name), NextToken: page.NextToken,
		})
		if err != nil {
			return nil, fmt.Errorf("reading the changes of change set %s: %w", name, err)
		}
		page = next
	}
}

func resourceChanges(changes []cfntypes.Change) []ResourceChange {
	var out []ResourceChange
	for _, ch := range changes {
		rc := ch.ResourceChange
		if rc == nil {
			continue // a hook invocation, not a resource
		}
		r := ResourceChange{
			LogicalID:   aws.ToString(rc.LogicalResourceId),
			Type:        aws.ToString(rc.ResourceType),
			Action:      string(rc.Action),
			Replacement: string(rc.Replacement),
		}
		seen := map[string]bool{}
		for _, d := range rc.Details {
			t := d.Target
			if t == nil || t.RequiresRecreation == "" || t.RequiresRecreation == cfntypes.RequiresRecreationNever {
				continue
			}
			what := aws.ToString(t.Name)
			if what == "" {
				what = string(t.Attribute)
			}
			if !seen[what] {
				seen[what] = true
				r.Recreating = append(r.Recreating, what)
			}
		}
		out = append(out, r)
	}
	return out
}
