package cfnstack

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

func describe(status cfntypes.StackStatus, outputs ...cfntypes.Output) *cloudformation.DescribeStacksOutput {
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{
		StackId: aws.String(stackID), StackName: aws.String(stackName), StackStatus: status,
		StackStatusReason: aws.String("stack reason"), Outputs: outputs,
	}}}
}

// stackEvent is an event of the stack itself.
func stackEvent(status cfntypes.ResourceStatus, reason string) cfntypes.StackEvent {
	return cfntypes.StackEvent{StackId: aws.String(stackID), LogicalResourceId: aws.String(stackName), PhysicalResourceId: aws.String(stackID),
		ResourceType: aws.String("AWS::CloudFormation::Stack"), ResourceStatus: status, ResourceStatusReason: aws.String(reason)}
}

// resEvent is an event of a resource of the stack.
func resEvent(logical, typ string, status cfntypes.ResourceStatus, reason string) cfntypes.StackEvent {
	return cfntypes.StackEvent{StackId: aws.String(stackID), LogicalResourceId: aws.String(logical), PhysicalResourceId: aws.String(strings.ToLower(logical) + "-1"),
		ResourceType: aws.String(typ), ResourceStatus: status, ResourceStatusReason: aws.String(reason)}
}

func page(next string, events ...cfntypes.StackEvent) *cloudformation.DescribeStackEventsOutput {
	out := &cloudformation.DescribeStackEventsOutput{StackEvents: events}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out
}

const (
	db       = "AWS::RDS::DBInstance"
	bucket   = "AWS::S3::Bucket"
	alarm    = "AWS::CloudWatch::Alarm"
	userInit = "User Initiated"
)

var (
	createStarted = stackEvent(cfntypes.ResourceStatusCreateInProgress, userInit)
	updateStarted = stackEvent(cfntypes.ResourceStatusUpdateInProgress, userInit)
	deleteStarted = stackEvent(cfntypes.ResourceStatusDeleteInProgress, userInit)
	cancelled     = "Resource creation cancelled"
)

func TestObserve(t *testing.T) {
	failedCreation := map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
		stackEvent(cfntypes.ResourceStatusRollbackComplete, ""),
		resEvent("SourceDatabase", db, cfntypes.ResourceStatusCreateFailed, "quota exceeded"),
		createStarted,
	)}
	tests := []struct {
		name      string
		stacks    *cloudformation.DescribeStacksOutput
		stacksErr error
		events    map[string]*cloudformation.DescribeStackEventsOutput
		eventsErr error
		want      Observation
		wantErr   string
		wantCalls []string
	}{
		{
			name:      "missing stack is not an error",
			stacksErr: apiError("DescribeStacks", "ValidationError", "Stack with id "+stackName+" does not exist"),
			want:      Observation{}, wantCalls: []string{"DescribeStacks"},
		},
		{
			name:      "other validation error is an error",
			stacksErr: apiError("DescribeStacks", "ValidationError", "1 validation error detected: Value at 'stackName' failed to satisfy constraint"),
			wantErr:   "failed to satisfy constraint", wantCalls: []string{"DescribeStacks"},
		},
		{
			name:      "access denied is an error",
			stacksErr: apiError("DescribeStacks", "AccessDenied", "not authorized to perform cloudformation:DescribeStacks"),
			wantErr:   "not authorized", wantCalls: []string{"DescribeStacks"},
		},
		{
			name:   "empty answer means no stack",
			stacks: &cloudformation.DescribeStacksOutput{}, want: Observation{}, wantCalls: []string{"DescribeStacks"},
		},
		{
			name: "outputs are mapped by key",
			stacks: describe(cfntypes.StackStatusCreateComplete,
				cfntypes.Output{OutputKey: aws.String("DmsTaskArn"), OutputValue: aws.String("arn:aws:dms:eu-west-1:123456789012:task:ABC")},
				cfntypes.Output{OutputKey: aws.String("AlbDnsName"), OutputValue: aws.String("alb-1.eu-west-1.elb.amazonaws.com")}),
			want: Observation{Exists: true, ID: stackID, Status: "CREATE_COMPLETE", StatusReason: "stack reason", Tags: map[string]string{}, Outputs: map[string]string{
				"DmsTaskArn": "arn:aws:dms:eu-west-1:123456789012:task:ABC", "AlbDnsName": "alb-1.eu-west-1.elb.amazonaws.com"}},
			wantCalls: []string{"DescribeStacks"},
		},
		{
			name:   "DELETE_COMPLETE means no stack",
			stacks: describe(cfntypes.StackStatusDeleteComplete), want: Observation{}, wantCalls: []string{"DescribeStacks"},
		},
		{
			name:   "a failed stack names its first failed resource",
			stacks: describe(cfntypes.StackStatusRollbackComplete), events: failedCreation,
			want: Observation{Exists: true, ID: stackID, Status: "ROLLBACK_COMPLETE", StatusReason: "stack reason", Tags: map[string]string{}, Outputs: map[string]string{},
				FailedResource: "SourceDatabase (" + db + ")", FailedReason: "quota exceeded"},
			wantCalls: []string{"DescribeStacks", "DescribeStackEvents"},
		},
		{
			name:   "a failure reading events is an error",
			stacks: describe(cfntypes.StackStatusUpdateRollbackComplete), eventsErr: apiError("DescribeStackEvents", "Throttling", "Rate exceeded"),
			wantErr: "Rate exceeded", wantCalls: []string{"DescribeStacks", "DescribeStackEvents"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCFN(t)
			f.stacks, f.stacksErr, f.events, f.eventsErr = tt.stacks, tt.stacksErr, tt.events, tt.eventsErr
			c := &Client{API: f}
			got, err := c.Observe(context.Background(), stackName)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Observe: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Observe = %+v, want %+v", got, tt.want)
				}
			}
			wantCalls(t, f.list(), tt.wantCalls...)
		})
	}
}

func TestObserveReportsTheFirstFailureOfTheLatestOperationOnly(t *testing.T) {
	tests := []struct {
		name         string
		status       cfntypes.StackStatus
		events       map[string]*cloudformation.DescribeStackEventsOutput
		wantResource string
		wantReason   string
		wantTokens   []string
	}{
		{
			name:   "the real cause, not the cancellations it caused",
			status: cfntypes.StackStatusRollbackComplete,
			events: map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
				stackEvent(cfntypes.ResourceStatusRollbackComplete, ""),
				resEvent("SourceBucket", bucket, cfntypes.ResourceStatusDeleteComplete, ""),
				resEvent("SourceDatabase", db, cfntypes.ResourceStatusDeleteComplete, ""),
				stackEvent(cfntypes.ResourceStatusRollbackInProgress, "The following resource(s) failed to create: [SourceBucket, Queue, SourceDatabase]."),
				resEvent("SourceBucket", bucket, cfntypes.ResourceStatusCreateFailed, cancelled),
				resEvent("Queue", "AWS::SQS::Queue", cfntypes.ResourceStatusCreateFailed, cancelled),
				resEvent("SourceDatabase", db, cfntypes.ResourceStatusCreateFailed, "DB instance quota exceeded"),
				resEvent("SourceDatabase", db, cfntypes.ResourceStatusCreateInProgress, ""),
				createStarted,
			)},
			wantResource: "SourceDatabase (" + db + ")", wantReason: "DB instance quota exceeded", wantTokens: []string{""},
		},
		{
			name:   "the earliest of several real failures",
			status: cfntypes.StackStatusRollbackComplete,
			events: map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
				resEvent("TargetDatabase", db, cfntypes.ResourceStatusCreateFailed, "later failure"),
				resEvent("SourceDatabase", db, cfntypes.ResourceStatusCreateFailed, "earliest failure"),
				createStarted,
			)},
			wantResource: "SourceDatabase (" + db + ")", wantReason: "earliest failure", wantTokens: []string{""},
		},
		{
			name:   "pages are followed back to the start of the operation, and no further",
			status: cfntypes.StackStatusRollbackComplete,
			events: map[string]*cloudformation.DescribeStackEventsOutput{
				"": page("p2",
					stackEvent(cfntypes.ResourceStatusRollbackComplete, ""),
					resEvent("Queue", "AWS::SQS::Queue", cfntypes.ResourceStatusCreateFailed, cancelled)),
				"p2": page("p3",
					resEvent("SourceDatabase", db, cfntypes.ResourceStatusCreateFailed, "subnet group not found")),
				"p3": page("p4",
					createStarted,
					resEvent("Older", bucket, cfntypes.ResourceStatusCreateFailed, "belongs to an earlier operation")),
			},
			wantResource: "SourceDatabase (" + db + ")", wantReason: "subnet group not found", wantTokens: []string{"", "p2", "p3"},
		},
		{
			name:   "a rolled-back update does not report the failures of an earlier update",
			status: cfntypes.StackStatusUpdateRollbackComplete,
			events: map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
				stackEvent(cfntypes.ResourceStatusUpdateRollbackComplete, ""),
				stackEvent(cfntypes.ResourceStatusUpdateRollbackInProgress, "The following resource(s) failed to update: [LagAlarm]."),
				resEvent("Service", "AWS::ECS::Service", cfntypes.ResourceStatusUpdateFailed, "Resource update cancelled"),
				resEvent("LagAlarm", alarm, cfntypes.ResourceStatusUpdateFailed, "Invalid metric name"),
				updateStarted,
				stackEvent(cfntypes.ResourceStatusUpdateRollbackComplete, ""),
				resEvent("OldResource", bucket, cfntypes.ResourceStatusUpdateFailed, "old failure"),
				updateStarted,
			)},
			wantResource: "LagAlarm (" + alarm + ")", wantReason: "Invalid metric name", wantTokens: []string{""},
		},
		{
			name:   "an operation that failed without a resource failure reports none from earlier operations",
			status: cfntypes.StackStatusUpdateRollbackComplete,
			events: map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
				stackEvent(cfntypes.ResourceStatusUpdateRollbackComplete, ""),
				stackEvent(cfntypes.ResourceStatusUpdateRollbackInProgress, "Parameter validation failed"),
				updateStarted,
				resEvent("OldResource", bucket, cfntypes.ResourceStatusCreateFailed, "old failure"),
				createStarted,
			)},
			wantTokens: []string{""},
		},
		{
			name:   "a failed deletion does not report the failures of the update before it",
			status: cfntypes.StackStatusDeleteFailed,
			events: map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
				stackEvent(cfntypes.ResourceStatusDeleteFailed, "The following resource(s) failed to delete: [SourceBucket]."),
				resEvent("SourceBucket", bucket, cfntypes.ResourceStatusDeleteFailed, "The bucket you tried to delete is not empty"),
				resEvent("SourceBucket", bucket, cfntypes.ResourceStatusDeleteInProgress, ""),
				deleteStarted,
				stackEvent(cfntypes.ResourceStatusUpdateRollbackComplete, ""),
				resEvent("LagAlarm", alarm, cfntypes.ResourceStatusUpdateFailed, "Invalid metric name"),
				updateStarted,
			)},
			wantResource: "SourceBucket (" + bucket + ")", wantReason: "The bucket you tried to delete is not empty", wantTokens: []string{""},
		},
		{
			name:   "a rolled-back import does not report the failures of the operation before it",
			status: cfntypes.StackStatusImportRollbackComplete,
			events: map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
				stackEvent(cfntypes.ResourceStatusImportRollbackComplete, ""),
				resEvent("ImportedTable", "AWS::DynamoDB::Table", cfntypes.ResourceStatusImportFailed, "Resource not found"),
				stackEvent(cfntypes.ResourceStatusImportInProgress, userInit),
				stackEvent(cfntypes.ResourceStatusUpdateRollbackComplete, ""),
				resEvent("LagAlarm", alarm, cfntypes.ResourceStatusUpdateFailed, "Invalid metric name"),
				updateStarted,
			)},
			wantResource: "ImportedTable (AWS::DynamoDB::Table)", wantReason: "Resource not found", wantTokens: []string{""},
		},
		{
			name:   "a nested stack that failed is a resource like any other",
			status: cfntypes.StackStatusRollbackComplete,
			events: map[string]*cloudformation.DescribeStackEventsOutput{"": page("",
				resEvent("Nested", "AWS::CloudFormation::Stack", cfntypes.ResourceStatusCreateFailed, "Embedded stack was not successfully created"),
				createStarted,
			)},
			wantResource: "Nested (AWS::CloudFormation::Stack)", wantReason: "Embedded stack was not successfully created", wantTokens: []string{""},
		},
		{
			name:   "without a start event the walk ends with the last page",
			status: cfntypes.StackStatusRollbackFailed,
			events: map[string]*cloudformation.DescribeStackEventsOutput{
				"":   page("p2", resEvent("SourceDatabase", db, cfntypes.ResourceStatusDeleteFailed, "cannot delete")),
				"p2": page("", resEvent("Vpc", "AWS::EC2::VPC", cfntypes.ResourceStatusCreateFailed, "VPC limit exceeded")),
			},
			wantResource: "Vpc (AWS::EC2::VPC)", wantReason: "VPC limit exceeded", wantTokens: []string{"", "p2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCFN(t)
			f.stacks, f.events = describe(tt.status), tt.events
			obs, err := (&Client{API: f}).Observe(context.Background(), stackName)
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			if obs.FailedResource != tt.wantResource || obs.FailedReason != tt.wantReason {
				t.Errorf("failure = %q: %q, want %q: %q", obs.FailedResource, obs.FailedReason, tt.wantResource, tt.wantReason)
			}
			if !reflect.DeepEqual(f.eventTokens, tt.wantTokens) {
				t.Errorf("event pages read = %q, want %q", f.eventTokens, tt.wantTokens)
			}
			for _, s := range f.eventStacks {
				if s != stackID {
					t.Errorf("events read for %q, want the stack id %q", s, stackID)
				}
			}
		})
	}
}

// The walk through the events stops after 20 pages even when the operation's
// start is further back, and keeps what it found.
func TestObserveReadsAtMostTwentyPagesOfEvents(t *testing.T) {
	f := newFakeCFN(t)
	f.stacks = describe(cfntypes.StackStatusRollbackComplete)
	f.events = map[string]*cloudformation.DescribeStackEventsOutput{}
	var want []string
	for i := range 30 {
		token, next := fmt.Sprintf("p%d", i), fmt.Sprintf("p%d", i+1)
		if i == 0 {
			token = ""
		}
		f.events[token] = page(next, resEvent(fmt.Sprintf("Alarm%d", i), alarm, cfntypes.ResourceStatusCreateFailed, "quota exceeded"))
		if i < 20 {
			want = append(want, token)
		}
	}
	obs, err := (&Client{API: f}).Observe(context.Background(), stackName)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if !reflect.DeepEqual(f.eventTokens, want) {
		t.Errorf("event pages read = %q, want the first 20", f.eventTokens)
	}
	if obs.FailedResource != "Alarm19 ("+alarm+")" {
		t.Errorf("failed resource %q, want the earliest failure of the pages read (Alarm19)", obs.FailedResource)
	}
}

func TestHasFailureOnlyForFailedOrRolledBackStatuses(t *testing.T) {
	for _, s := range cfntypes.StackStatus("").Values() {
		want := strings.Contains(string(s), "FAILED") || strings.Contains(string(s), "ROLLBACK")
		if got := HasFailure(string(s)); got != want {
			t.Errorf("HasFailure(%s) = %t, want %t", s, got, want)
		}
	}
}

// template returns a template of exactly n bytes.
func template(n int) []byte {
	return []byte(`{"Resources":{}` + strings.Repeat(" ", n-len(`{"Resources":{}}`)) + `}`)
}

func desired(size int) Desired {
	return Desired{Name: stackName, Template: template(size), Hash: testHash, Token: "create-0123456789abcdef-1",
		Tags: map[string]string{"MigrationPhase": "provisioning", "CostCenter": "payments", "Environment": "dev"}}
}

var sortedTags = []cfntypes.Tag{
	{Key: aws.String("CostCenter"), Value: aws.String("payments")},
	{Key: aws.String("Environment"), Value: aws.String("dev")},
	{Key: aws.String("MigrationPhase"), Value: aws.String("provisioning")},
}

var stagedURL = "https://tapstack-staging-123456789012-eu-west-1.s3.eu-west-1.amazonaws.com/templates/" + stackName + "/0123456789abcdef0123456789abcdef.json"

// templateSizes covers both sides of the TemplateBody limit, exactly at it.
var templateSizes = []struct {
	name   string
	size   int
	staged bool
}{
	{"small template inline", 2000, false},
	{"51200 bytes inline", MaxTemplateBody, false},
	{"51201 bytes staged", MaxTemplateBody + 1, true},
	{"large template staged", 300000, true},
}

// checkTemplate asserts the template went inline or by URL, never both.
func checkTemplate(t *testing.T, body, url *string, d Desired, staged bool, s3f *fakeS3) {
	t.Helper()
	if staged {
		if body != nil || aws.ToString(url) != stagedURL {
			t.Errorf("TemplateBody set: %t, TemplateURL = %q; want only TemplateURL %q", body != nil, aws.ToString(url), stagedURL)
		}
		if string(s3f.putBody) != string(d.Template) {
			t.Errorf("staged %d bytes, want the %d-byte template", len(s3f.putBody), len(d.Template))
		}
		return
	}
	if url != nil || aws.ToString(body) != string(d.Template) {
		t.Errorf("TemplateURL = %q, TemplateBody of %d bytes; want the %d-byte template inline", aws.ToString(url), len(aws.ToString(body)), len(d.Template))
	}
	if s3f.put != nil {
		t.Error("an inline template was staged too")
	}
}

func TestCreateSendsTheStackWithCapabilitiesTokenTagsAndTemplate(t *testing.T) {
	for _, size := range templateSizes {
		t.Run(size.name, func(t *testing.T) {
			f := newFakeCFN(t)
			stager, s3f, _ := newStager(t, "eu-west-1")
			d := desired(size.size)
			if len(d.Template) != size.size {
				t.Fatalf("template is %d bytes, want %d", len(d.Template), size.size)
			}
			if err := (&Client{API: f, Stager: stager}).Create(context.Background(), d); err != nil {
				t.Fatalf("Create: %v", err)
			}
			in := f.createStack
			if in == nil {
				t.Fatal("CreateStack not called")
			}
			if aws.ToString(in.StackName) != stackName || aws.ToString(in.ClientRequestToken) != d.Token || in.OnFailure != cfntypes.OnFailureRollback {
				t.Errorf("StackName=%q ClientRequestToken=%q OnFailure=%q, want %q %q ROLLBACK",
					aws.ToString(in.StackName), aws.ToString(in.ClientRequestToken), in.OnFailure, stackName, d.Token)
			}
			if !reflect.DeepEqual(in.Capabilities, []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}) {
				t.Errorf("Capabilities = %v, want [CAPABILITY_NAMED_IAM]", in.Capabilities)
			}
			if !reflect.DeepEqual(in.Tags, sortedTags) {
				t.Errorf("Tags = %v, want sorted by key %v", tagString(in.Tags), tagString(sortedTags))
			}
			checkTemplate(t, in.TemplateBody, in.TemplateURL, d, size.staged, s3f)
		})
	}
}

func tagString(tags []cfntypes.Tag) string {
	var b strings.Builder
	for _, tg := range tags {
		b.WriteString(aws.ToString(tg.Key) + "=" + aws.ToString(tg.Value) + " ")
	}
	return b.String()
}

func TestCreateErrors(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		noStager  bool
		s3Errs    map[string]error
		cfnErrs   map[string]error
		wantErr   string
		wantCalls []string
	}{
		{name: "large template without a stager", size: MaxTemplateBody + 1, noStager: true, wantErr: "no staging bucket", wantCalls: nil},
		{name: "staging fails", size: MaxTemplateBody + 1, s3Errs: map[string]error{"PutObject": errors.New("slow down")}, wantErr: "slow down",
			wantCalls: join([]string{"GetCallerIdentity", "HeadBucket"}, bucketSetup, []string{"PutObject"})},
		{name: "CreateStack rejected", size: 100, cfnErrs: map[string]error{"CreateStack": apiError("CreateStack", "AlreadyExistsException", "Stack [tapstack-pr6185] already exists")},
			wantErr: "already exists", wantCalls: []string{"CreateStack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCFN(t)
			f.errs = tt.cfnErrs
			stager, s3f, _ := newStager(t, "eu-west-1")
			for k, v := range tt.s3Errs {
				s3f.errs[k] = v
			}
			c := &Client{API: f, Stager: stager}
			if tt.noStager {
				c.Stager = nil
			}
			err := c.Create(context.Background(), desired(tt.size))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			wantCalls(t, append(s3f.list(), f.list()...), tt.wantCalls...)
		})
	}
}

func TestChangeSetNameIsAValidNameDerivedFromTheHash(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)
	tests := map[string]string{
		testHash:                  "tapstack-0123456789abcdef",
		"0123456789abcdef0123":    "tapstack-0123456789abcdef",
		"sha256:abc":              "tapstack-abc",
		"sha256:fedcba9876543210": "tapstack-fedcba9876543210",
	}
	for hash, want := range tests {
		got := ChangeSetName(hash)
		if got != want || !valid.MatchString(got) {
			t.Errorf("ChangeSetName(%q) = %q, want the valid name %q", hash, got, want)
		}
	}
}

func changeSet(status cfntypes.ChangeSetStatus, exec cfntypes.ExecutionStatus, reason string) *cloudformation.DescribeChangeSetOutput {
	return &cloudformation.DescribeChangeSetOutput{ChangeSetName: aws.String(ChangeSetName(testHash)), StackId: aws.String(stackID),
		ChangeSetId: aws.String(changeSetID), Status: status, ExecutionStatus: exec, StatusReason: aws.String(reason)}
}

const changeSetID = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/tapstack-0123456789abcdef/5b0c7a9e-1f2d-4c3b-9a8e-7d6c5b4a3f21"

// The execute token must be unique to one change set: the name recurs when a
// template comes back, and CloudFormation would take a reused token for a retry.
func TestExecuteTokenComesFromTheChangeSetID(t *testing.T) {
	f := newFakeCFN(t)
	f.changeSet = changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusAvailable, "")
	stager, _, _ := newStager(t, "eu-west-1")
	if _, err := (&Client{API: f, Stager: stager}).Update(context.Background(), stackID, desired(4000)); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(f.executeCS.ClientRequestToken); got != "execute-5b0c7a9e-1f2d-4c3b-9a8e-7d6c5b4a3f21" {
		t.Errorf("ClientRequestToken = %q", got)
	}
}

func TestUpdateMovesTheChangeSetOneStepPerCall(t *testing.T) {
	const noChanges = "The submitted information didn't contain changes. Submit different information to create a change set."
	tests := []struct {
		name      string
		size      int
		cs        *cloudformation.DescribeChangeSetOutput
		csErr     error
		errs      map[string]error
		want      UpdateResult
		wantErr   string
		wantCalls []string
	}{
		{name: "no change set yet: create it", cs: nil, csErr: &cfntypes.ChangeSetNotFoundException{Message: aws.String("ChangeSet [tapstack-0123456789abcdef] does not exist")},
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet", "CreateChangeSet"}},
		{name: "no change set yet, reported as a generic API error", csErr: apiError("DescribeChangeSet", "ChangeSetNotFound", "ChangeSet does not exist"),
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet", "CreateChangeSet"}},
		{name: "no change set yet, large template staged", size: MaxTemplateBody + 1, csErr: &cfntypes.ChangeSetNotFoundException{},
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet", "CreateChangeSet"}},
		{name: "CREATE_PENDING is pending", cs: changeSet(cfntypes.ChangeSetStatusCreatePending, cfntypes.ExecutionStatusUnavailable, ""),
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet"}},
		{name: "CREATE_IN_PROGRESS is pending", cs: changeSet(cfntypes.ChangeSetStatusCreateInProgress, cfntypes.ExecutionStatusUnavailable, ""),
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet"}},
		{name: "CREATE_COMPLETE and AVAILABLE is executed", cs: changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusAvailable, ""),
			want: UpdateStarted, wantCalls: []string{"DescribeChangeSet", "ExecuteChangeSet"}},
		{name: "executed before (the template came back) is replaced, not reported as started", cs: changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusExecuteComplete, ""),
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet", "DeleteChangeSet"}},
		{name: "obsolete is replaced", cs: changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusObsolete, ""),
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet", "DeleteChangeSet"}},
		{name: "a retried create that finds the change set made is pending", csErr: &cfntypes.ChangeSetNotFoundException{},
			errs: map[string]error{"CreateChangeSet": &cfntypes.AlreadyExistsException{Message: aws.String("ChangeSet tapstack-0123 already exists")}},
			want: UpdatePending, wantCalls: []string{"DescribeChangeSet", "CreateChangeSet"}},
		{name: "executing is not executed again", cs: changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusExecuteInProgress, ""),
			want: UpdateStarted, wantCalls: []string{"DescribeChangeSet"}},
		{name: "an empty change set is deleted and is no error", cs: changeSet(cfntypes.ChangeSetStatusFailed, cfntypes.ExecutionStatusUnavailable, noChanges),
			want: UpdateNoChanges, wantCalls: []string{"DescribeChangeSet", "DeleteChangeSet"}},
		{name: "no updates to perform is no error", cs: changeSet(cfntypes.ChangeSetStatusFailed, cfntypes.ExecutionStatusUnavailable, "No updates are to be performed."),
			want: UpdateNoChanges, wantCalls: []string{"DescribeChangeSet", "DeleteChangeSet"}},
		{name: "a failed change set is deleted and its reason returned",
			cs:      changeSet(cfntypes.ChangeSetStatusFailed, cfntypes.ExecutionStatusUnavailable, "Template error: instance of Fn::GetAtt references undefined resource Foo"),
			wantErr: "references undefined resource Foo", wantCalls: []string{"DescribeChangeSet", "DeleteChangeSet"}},
		{name: "describing fails", csErr: apiError("DescribeChangeSet", "AccessDenied", "not authorized"),
			wantErr: "not authorized", wantCalls: []string{"DescribeChangeSet"}},
		{name: "creating the change set fails", csErr: &cfntypes.ChangeSetNotFoundException{},
			errs:    map[string]error{"CreateChangeSet": apiError("CreateChangeSet", "ValidationError", "Stack is in UPDATE_IN_PROGRESS state")},
			wantErr: "UPDATE_IN_PROGRESS", wantCalls: []string{"DescribeChangeSet", "CreateChangeSet"}},
		{name: "executing fails", cs: changeSet(cfntypes.ChangeSetStatusCreateComplete, cfntypes.ExecutionStatusAvailable, ""),
			errs:    map[string]error{"ExecuteChangeSet": apiError("ExecuteChangeSet", "InvalidChangeSetStatus", "change set is OBSOLETE")},
			wantErr: "OBSOLETE", wantCalls: []string{"DescribeChangeSet", "ExecuteChangeSet"}},
		{name: "deleting an empty change set fails", cs: changeSet(cfntypes.ChangeSetStatusFailed, cfntypes.ExecutionStatusUnavailable, noChanges),
			errs:    map[string]error{"DeleteChangeSet": apiError("DeleteChangeSet", "Throttling", "Rate exceeded")},
			wantErr: "Rate exceeded", wantCalls: []string{"DescribeChangeSet", "DeleteChangeSet"}},
	}
	name := ChangeSetName(testHash)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCFN(t)
			f.changeSet, f.csErr, f.errs = tt.cs, tt.csErr, tt.errs
			stager, s3f, _ := newStager(t, "eu-west-1")
			size := tt.size
			if size == 0 {
				size = 4000
			}
			d := desired(size)
			got, err := (&Client{API: f, Stager: stager}).Update(context.Background(), stackID, d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Errorf("Update = %q, %v; want %q", got, err, tt.want)
			}
			wantCalls(t, f.list(), tt.wantCalls...)

			if in := f.describeCS; aws.ToString(in.StackName) != stackID || aws.ToString(in.ChangeSetName) != name {
				t.Errorf("described change set %q of %q, want %q of %q", aws.ToString(in.ChangeSetName), aws.ToString(in.StackName), name, stackID)
			}
			if in := f.createChangeSet; in != nil {
				if aws.ToString(in.StackName) != stackID || aws.ToString(in.ChangeSetName) != name || in.ChangeSetType != cfntypes.ChangeSetTypeUpdate {
					t.Errorf("CreateChangeSet StackName=%q ChangeSetName=%q Type=%q, want %q %q UPDATE",
						aws.ToString(in.StackName), aws.ToString(in.ChangeSetName), in.ChangeSetType, stackID, name)
				}
				if !reflect.DeepEqual(in.Capabilities, []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}) {
					t.Errorf("Capabilities = %v, want [CAPABILITY_NAMED_IAM]", in.Capabilities)
				}
				if !reflect.DeepEqual(in.Tags, sortedTags) {
					t.Errorf("Tags = %v, want %v", tagString(in.Tags), tagString(sortedTags))
				}
				checkTemplate(t, in.TemplateBody, in.TemplateURL, d, size > MaxTemplateBody, s3f)
			}
			if in := f.executeCS; in != nil && (aws.ToString(in.StackName) != stackID || aws.ToString(in.ChangeSetName) != name) {
				t.Errorf("executed change set %q of %q, want %q of %q", aws.ToString(in.ChangeSetName), aws.ToString(in.StackName), name, stackID)
			}
			if in := f.deleteCS; in != nil && (aws.ToString(in.StackName) != stackID || aws.ToString(in.ChangeSetName) != name) {
				t.Errorf("deleted change set %q of %q, want %q of %q", aws.ToString(in.ChangeSetName), aws.ToString(in.StackName), name, stackID)
			}
		})
	}
}

// The operator's own deletion lifts the termination protection of its stack,
// then deletes it by id.
func TestDeleteLiftsTheProtectionAndPassesTheStackID(t *testing.T) {
	tests := []struct {
		name      string
		errs      map[string]error
		wantErr   string
		wantCalls []string
	}{
		{name: "accepted", wantCalls: []string{"UpdateTerminationProtection", "DeleteStack"}},
		{name: "rejected", errs: map[string]error{"DeleteStack": apiError("DeleteStack", "AccessDenied", "not authorized")}, wantErr: "not authorized",
			wantCalls: []string{"UpdateTerminationProtection", "DeleteStack"}},
		{name: "protection not lifted: no deletion", errs: map[string]error{"UpdateTerminationProtection": apiError("UpdateTerminationProtection", "AccessDenied", "no")},
			wantErr: "lifting the termination protection", wantCalls: []string{"UpdateTerminationProtection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCFN(t)
			f.errs = tt.errs
			err := (&Client{API: f}).Delete(context.Background(), stackID)
			if (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr))) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
			if p := f.protection; len(p) != 1 || aws.ToString(p[0].StackName) != stackID || aws.ToBool(p[0].EnableTerminationProtection) {
				t.Errorf("UpdateTerminationProtection %+v, want it off for %s", p, stackID)
			}
			if len(tt.wantCalls) == 2 && (f.deleteStack == nil || aws.ToString(f.deleteStack.StackName) != stackID) {
				t.Errorf("DeleteStack input = %+v, want StackName %q", f.deleteStack, stackID)
			}
			wantCalls(t, f.list(), tt.wantCalls...)
		})
	}
}

func TestCreateProtectsTheStack(t *testing.T) {
	f := newFakeCFN(t)
	if err := (&Client{API: f}).Create(context.Background(), Desired{Name: "TapStackx", Template: []byte("{}"), Hash: "sha256:1", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(f.createStack.EnableTerminationProtection) {
		t.Error("CreateStack without termination protection")
	}
}

func TestObserveReadsTagsAndProtection(t *testing.T) {
	f := newFakeCFN(t)
	f.stacks = &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{
		StackId: aws.String(stackID), StackName: aws.String("TapStackx"), StackStatus: cfntypes.StackStatusCreateComplete,
		EnableTerminationProtection: aws.Bool(true),
		Tags:                        []cfntypes.Tag{{Key: aws.String("payments.tapstack.io/owner-uid"), Value: aws.String("u-1")}},
	}}}
	obs, err := (&Client{API: f}).Observe(context.Background(), "TapStackx")
	if err != nil {
		t.Fatal(err)
	}
	if !obs.TerminationProtection || obs.Tags["payments.tapstack.io/owner-uid"] != "u-1" {
		t.Errorf("observation %+v", obs)
	}
}

func TestAdoptProtectsAndRetagsWithThePreviousTemplate(t *testing.T) {
	f := newFakeCFN(t)
	f.stacks = &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{StackId: aws.String(stackID),
		Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("Suffix"), ParameterValue: aws.String("x")}}}}}
	if err := (&Client{API: f}).Adopt(context.Background(), stackID, map[string]string{"owner": "me"}); err != nil {
		t.Fatal(err)
	}
	if p := f.updateStack.Parameters; len(p) != 1 || aws.ToString(p[0].ParameterKey) != "Suffix" || !aws.ToBool(p[0].UsePreviousValue) || p[0].ParameterValue != nil {
		t.Errorf("parameters %+v, want every one kept with UsePreviousValue", p)
	}
	if len(f.protection) != 1 || !aws.ToBool(f.protection[0].EnableTerminationProtection) {
		t.Errorf("protection %+v", f.protection)
	}
	u := f.updateStack
	if u == nil || !aws.ToBool(u.UsePreviousTemplate) || len(u.Tags) != 1 || aws.ToString(u.Tags[0].Value) != "me" || u.TemplateBody != nil {
		t.Errorf("UpdateStack %+v", u)
	}
	// Nothing to change but the tags is not an error.
	f = newFakeCFN(t)
	f.errs = map[string]error{"UpdateStack": apiError("UpdateStack", "ValidationError", "No updates are to be performed.")}
	if err := (&Client{API: f}).Adopt(context.Background(), stackID, map[string]string{"owner": "me"}); err != nil {
		t.Errorf("no updates: %v", err)
	}
}
