// Package cfnstack is the CloudFormation side of the operator, behind the four
// verbs of an external client (observe, create, update, delete) in the manner of
// Crossplane's managed reconciler. It knows CloudFormation's API and its quirks
// (template size limit, change sets, the shape of errors); it decides nothing.
package cfnstack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// MaxTemplateBody is CloudFormation's limit on an inline TemplateBody; larger
// templates must be passed by TemplateURL from S3.
const MaxTemplateBody = 51200

// API is the part of the CloudFormation client this package uses.
type API interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEvents(context.Context, *cloudformation.DescribeStackEventsInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	CreateStack(context.Context, *cloudformation.CreateStackInput, ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	DeleteStack(context.Context, *cloudformation.DeleteStackInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	CreateChangeSet(context.Context, *cloudformation.CreateChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(context.Context, *cloudformation.DescribeChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSet(context.Context, *cloudformation.ExecuteChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(context.Context, *cloudformation.DeleteChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
	UpdateTerminationProtection(context.Context, *cloudformation.UpdateTerminationProtectionInput, ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error)
	UpdateStack(context.Context, *cloudformation.UpdateStackInput, ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error)
	SetStackPolicy(context.Context, *cloudformation.SetStackPolicyInput, ...func(*cloudformation.Options)) (*cloudformation.SetStackPolicyOutput, error)
}

// Stager puts a template too large for TemplateBody where CloudFormation can
// read it, and returns its URL.
type Stager interface {
	Stage(ctx context.Context, stackName, hash string, body []byte) (string, error)
}

// Observation is a stack as CloudFormation reports it.
type Observation struct {
	Exists bool
	ID     string
	Status string
	// StatusReason is CloudFormation's reason for the stack status.
	StatusReason string
	// FailedResource and FailedReason name the first resource that failed in the
	// latest operation, from the stack events.
	FailedResource string
	FailedReason   string
	Outputs        map[string]string
	// Tags are the stack's own tags: who owns it is read from them.
	Tags map[string]string
	// TerminationProtection is on for the stacks the operator creates.
	TerminationProtection bool
}

// Desired is the stack the operator wants.
type Desired struct {
	Name     string
	Template []byte // minified JSON
	// Hash identifies what is deployed: the content hash of Template, combined
	// with the Parameters when there are any (DesiredHash), so that a changed
	// parameter value updates the stack as a changed template does.
	Hash string
	// Parameters are the values of the template's parameters, sent on every
	// CreateStack and change set.
	Parameters map[string]string
	Tags       map[string]string
	// Token makes a retried CreateStack idempotent: CloudFormation treats two
	// requests with the same token as one.
	Token string
	// Guard, when set, reads every change set before it is executed; a change
	// set it refuses is deleted and Update returns a *RefusedError.
	Guard Guard
	// StackPolicy, when set, is the stack policy: sent with CreateStack, and
	// set again before each change set is executed.
	StackPolicy string
	// RoleARN, when set, is the CloudFormation service role: CloudFormation
	// creates, updates and deletes the stack's resources with its permissions
	// instead of the caller's. It goes with CreateStack and every change set;
	// the calls that take no role (DeleteStack, the adoption's UpdateStack)
	// use the role the stack was last given.
	RoleARN string
}

// UpdateResult is what Update achieved in this call. Updates go through change
// sets, which take a few seconds to compute; Update never blocks on them but
// moves the change set one step and reports where it is.
type UpdateResult string

const (
	// UpdatePending: the change set is still being computed.
	UpdatePending UpdateResult = "ChangeSetPending"
	// UpdateStarted: the change set was executed; the stack is updating.
	UpdateStarted UpdateResult = "UpdateStarted"
	// UpdateNoChanges: the template differs only in ways that change nothing.
	UpdateNoChanges UpdateResult = "NoChanges"
)

// Client is the CloudFormation external client.
// Each call is bounded by the SDK client's middleware (awscfg.CallTimeout).
type Client struct {
	API    API
	Stager Stager
}

// Observe reads the stack, its outputs and, when something failed, the first
// failed resource from its events.
func (c *Client) Observe(ctx context.Context, name string) (Observation, error) {
	out, err := c.API.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if isStackMissing(err) {
		return Observation{}, nil
	}
	if err != nil {
		return Observation{}, fmt.Errorf("describing stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return Observation{}, nil
	}
	s := out.Stacks[0]
	obs := Observation{
		Exists:       true,
		ID:           aws.ToString(s.StackId),
		Status:       string(s.StackStatus),
		StatusReason: aws.ToString(s.StackStatusReason),
		Outputs:      map[string]string{},
		Tags:         map[string]string{},
		// A stack that is not protected is not one this operator created.
		TerminationProtection: aws.ToBool(s.EnableTerminationProtection),
	}
	for _, o := range s.Outputs {
		obs.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for _, t := range s.Tags {
		obs.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if obs.Status == string(cfntypes.StackStatusDeleteComplete) {
		return Observation{}, nil
	}
	if HasFailure(obs.Status) {
		res, reason, err := c.firstFailure(ctx, obs.ID)
		if err != nil {
			return obs, err
		}
		obs.FailedResource, obs.FailedReason = res, reason
	}
	return obs, nil
}

// HasFailure reports whether a stack status means an operation failed, so the
// events are worth reading.
func HasFailure(status string) bool {
	return strings.Contains(status, "FAILED") || strings.Contains(status, "ROLLBACK")
}

// firstFailure walks the events of the latest operation (newest first, back to
// the event that started it) and returns the earliest resource failure. Later
// failures are usually "Resource creation cancelled" consequences of the first.
func (c *Client) firstFailure(ctx context.Context, stackID string) (resource, reason string, err error) {
	events := cloudformation.NewDescribeStackEventsPaginator(c.API, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	for page := 0; page < 20 && events.HasMorePages(); page++ { // 20 pages of 100 events bound the walk
		out, err := events.NextPage(ctx)
		if err != nil {
			return "", "", fmt.Errorf("reading events of stack %s: %w", stackID, err)
		}
		for _, ev := range out.StackEvents {
			status := string(ev.ResourceStatus)
			if aws.ToString(ev.ResourceType) == "AWS::CloudFormation::Stack" && aws.ToString(ev.PhysicalResourceId) == stackID {
				userInitiated := strings.Contains(aws.ToString(ev.ResourceStatusReason), "User Initiated")
				switch status {
				case string(cfntypes.ResourceStatusCreateInProgress), string(cfntypes.ResourceStatusUpdateInProgress):
					if userInitiated || resource != "" {
						return resource, reason, nil
					}
				case string(cfntypes.ResourceStatusDeleteInProgress), string(cfntypes.ResourceStatusImportInProgress):
					// A deletion or an import is an operation of its own too.
					if userInitiated {
						return resource, reason, nil
					}
				}
				continue
			}
			if strings.HasSuffix(status, "_FAILED") {
				r := aws.ToString(ev.ResourceStatusReason)
				if resource != "" && isCancellation(r) {
					continue // keep the real cause found further back
				}
				resource = fmt.Sprintf("%s (%s)", aws.ToString(ev.LogicalResourceId), aws.ToString(ev.ResourceType))
				reason = r
			}
		}
	}
	return resource, reason, nil
}

func isCancellation(reason string) bool {
	return strings.Contains(reason, "cancelled") || strings.Contains(reason, "canceled")
}

// Create creates the stack. Named IAM roles need CAPABILITY_NAMED_IAM.
func (c *Client) Create(ctx context.Context, d Desired) error {
	in := &cloudformation.CreateStackInput{
		StackName:          aws.String(d.Name),
		Capabilities:       []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
		Tags:               stackTags(d.Tags),
		ClientRequestToken: aws.String(d.Token),
		OnFailure:          cfntypes.OnFailureRollback, // keeps the events that say why
		Parameters:         stackParameters(d.Parameters),
		// Nobody deletes a stack of payments by accident: only the operator's
		// own deletion lifts the protection (Delete).
		EnableTerminationProtection: aws.Bool(true),
	}
	if d.StackPolicy != "" {
		in.StackPolicyBody = aws.String(d.StackPolicy)
	}
	if d.RoleARN != "" {
		in.RoleARN = aws.String(d.RoleARN)
	}
	if err := c.setTemplate(ctx, d, &in.TemplateBody, &in.TemplateURL); err != nil {
		return err
	}
	if _, err := c.API.CreateStack(ctx, in); err != nil {
		return fmt.Errorf("creating stack %s: %w", d.Name, err)
	}
	return nil
}

// setTemplate passes the template inline while it fits, by URL otherwise.
func (c *Client) setTemplate(ctx context.Context, d Desired, body, url **string) error {
	if len(d.Template) <= MaxTemplateBody {
		*body = aws.String(string(d.Template))
		return nil
	}
	if c.Stager == nil {
		return fmt.Errorf("template of %s is %d bytes, over the %d-byte TemplateBody limit, and no staging bucket is configured", d.Name, len(d.Template), MaxTemplateBody)
	}
	u, err := c.Stager.Stage(ctx, d.Name, d.Hash, d.Template)
	if err != nil {
		return fmt.Errorf("staging template of %s: %w", d.Name, err)
	}
	*url = aws.String(u)
	return nil
}

// ChangeSetName is derived from the template hash so that a restarted operator
// finds the change set it created before instead of making another.
func ChangeSetName(hash string) string {
	h := strings.TrimPrefix(hash, "sha256:")
	if len(h) > 16 {
		h = h[:16]
	}
	return "tapstack-" + h
}

// Update moves the stack toward d through a change set, one step per call.
func (c *Client) Update(ctx context.Context, stackID string, d Desired) (UpdateResult, error) {
	name := ChangeSetName(d.Hash)
	cs, err := c.describeChangeSet(ctx, stackID, name)
	if err != nil {
		return "", err
	}
	if cs == nil {
		in := &cloudformation.CreateChangeSetInput{
			StackName:     aws.String(stackID),
			ChangeSetName: aws.String(name),
			ChangeSetType: cfntypes.ChangeSetTypeUpdate,
			Capabilities:  []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
			Tags:          stackTags(d.Tags),
			Parameters:    stackParameters(d.Parameters),
		}
		if d.RoleARN != "" {
			// Executing the change set associates the role with the stack.
			in.RoleARN = aws.String(d.RoleARN)
		}
		if err := c.setTemplate(ctx, d, &in.TemplateBody, &in.TemplateURL); err != nil {
			return "", err
		}
		// No ClientToken: the name, derived from the hash, already makes a retry
		// collide with the first attempt (AlreadyExists), and a token would be
		// replayed when the same template comes back after a deletion.
		_, err := c.API.CreateChangeSet(ctx, in)
		var exists *cfntypes.AlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return "", fmt.Errorf("creating change set %s: %w", name, err)
		}
		return UpdatePending, nil
	}

	switch {
	case cs.Status == cfntypes.ChangeSetStatusFailed && isNoChanges(aws.ToString(cs.StatusReason)):
		// An empty change set is not an error: the new template changes nothing.
		// Delete it so a later, real change with the same hash can be made.
		if err := c.deleteChangeSet(ctx, stackID, name); err != nil {
			return "", err
		}
		return UpdateNoChanges, nil
	case cs.Status == cfntypes.ChangeSetStatusFailed:
		reason := aws.ToString(cs.StatusReason)
		if err := c.deleteChangeSet(ctx, stackID, name); err != nil {
			return "", err
		}
		return "", fmt.Errorf("change set %s failed: %s", name, reason)
	case cs.Status != cfntypes.ChangeSetStatusCreateComplete:
		return UpdatePending, nil
	case cs.ExecutionStatus == cfntypes.ExecutionStatusExecuteInProgress:
		return UpdateStarted, nil
	case cs.ExecutionStatus != cfntypes.ExecutionStatusAvailable:
		// A change set of this hash that was executed before (the spec went
		// A -> B -> A), or went obsolete when the stack changed under it, or
		// cannot run: it no longer describes the way from the stack's current
		// template to this one. Only a fresh change set does.
		if err := c.deleteChangeSet(ctx, stackID, name); err != nil {
			return "", err
		}
		return UpdatePending, nil
	}
	if d.Guard != nil {
		// CloudFormation executes whatever the change set says, a replaced
		// database included: read it first.
		changes, err := c.changesOf(ctx, stackID, name, cs)
		if err != nil {
			return "", err
		}
		if reason := d.Guard(changes); reason != "" {
			if err := c.deleteChangeSet(ctx, stackID, name); err != nil {
				return "", err
			}
			return "", &RefusedError{ChangeSet: name, Reason: reason}
		}
	}
	if d.StackPolicy != "" {
		// ExecuteChangeSet takes no policy: the stack's own is the one that
		// applies, so it is brought up to date first (a stack created before
		// policies, or a changed annotation).
		if _, err := c.API.SetStackPolicy(ctx, &cloudformation.SetStackPolicyInput{
			StackName: aws.String(stackID), StackPolicyBody: aws.String(d.StackPolicy),
		}); err != nil {
			return "", fmt.Errorf("setting the stack policy of %s: %w", stackID, err)
		}
	}
	if _, err := c.API.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{
		StackName:     aws.String(stackID),
		ChangeSetName: aws.String(name),
		// The change set's own id makes the token unique to this change set,
		// whereas its name recurs when a template comes back.
		ClientRequestToken: aws.String(executeToken(aws.ToString(cs.ChangeSetId), name)),
	}); err != nil {
		return "", fmt.Errorf("executing change set %s: %w", name, err)
	}
	return UpdateStarted, nil
}

// executeToken derives an ExecuteChangeSet token from the change set ARN
// (arn:...:changeSet/<name>/<uuid>): unique per change set, stable across retries.
func executeToken(changeSetID, name string) string {
	id := changeSetID[strings.LastIndex(changeSetID, "/")+1:]
	if id == "" {
		id = name
	}
	return "execute-" + id
}

func (c *Client) describeChangeSet(ctx context.Context, stackID, name string) (*cloudformation.DescribeChangeSetOutput, error) {
	out, err := c.API.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{StackName: aws.String(stackID), ChangeSetName: aws.String(name)})
	var notFound *cfntypes.ChangeSetNotFoundException
	if errors.As(err, &notFound) || hasCode(err, "ChangeSetNotFound") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing change set %s: %w", name, err)
	}
	return out, nil
}

func (c *Client) deleteChangeSet(ctx context.Context, stackID, name string) error {
	if _, err := c.API.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{StackName: aws.String(stackID), ChangeSetName: aws.String(name)}); err != nil {
		return fmt.Errorf("deleting change set %s: %w", name, err)
	}
	return nil
}

func isNoChanges(reason string) bool {
	return strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed")
}

// Delete starts deleting the stack; Observe reports when it is gone.
func (c *Client) Delete(ctx context.Context, stackID string) error {
	// The operator deletes only stacks it owns (the caller checks), and those
	// carry termination protection: lift it for this deletion.
	if _, err := c.API.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
		StackName: aws.String(stackID), EnableTerminationProtection: aws.Bool(false),
	}); err != nil {
		return fmt.Errorf("lifting the termination protection of stack %s: %w", stackID, err)
	}
	if _, err := c.API.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(stackID)}); err != nil {
		return fmt.Errorf("deleting stack %s: %w", stackID, err)
	}
	return nil
}

// Adopt makes an existing stack the operator's: it keeps the stack's template
// and parameters, takes these tags (the owner tags among them) and turns the
// termination protection on. CloudFormation has no call for stack tags alone;
// an update with the previous template is it.
func (c *Client) Adopt(ctx context.Context, stackID string, tags map[string]string) error {
	if _, err := c.API.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
		StackName: aws.String(stackID), EnableTerminationProtection: aws.Bool(true),
	}); err != nil {
		return fmt.Errorf("protecting stack %s: %w", stackID, err)
	}
	// Every parameter keeps its value, as the template does.
	out, err := c.API.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
	if err != nil {
		return fmt.Errorf("describing stack %s: %w", stackID, err)
	}
	var params []cfntypes.Parameter
	for _, s := range out.Stacks {
		for _, p := range s.Parameters {
			params = append(params, cfntypes.Parameter{ParameterKey: p.ParameterKey, UsePreviousValue: aws.Bool(true)})
		}
	}
	_, err = c.API.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName:           aws.String(stackID),
		UsePreviousTemplate: aws.Bool(true),
		Parameters:          params,
		Capabilities:        []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
		Tags:                stackTags(tags),
	})
	if err != nil && !isNoChanges(err.Error()) {
		return fmt.Errorf("tagging stack %s with its new owner: %w", stackID, err)
	}
	return nil
}

// stackTags renders tags in a stable order; CloudFormation propagates them to
// every resource that supports tags.
func stackTags(tags map[string]string) []cfntypes.Tag {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]cfntypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, cfntypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// isStackMissing recognises CloudFormation's way of saying a stack does not
// exist: a ValidationError whose message says so.
func isStackMissing(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist")
}

func hasCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}
