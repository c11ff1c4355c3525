package cfnstack

import (
	"context"
	"io"
	"reflect"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const (
	stackName = "tapstack-pr6185"
	stackID   = "arn:aws:cloudformation:eu-west-1:123456789012:stack/tapstack-pr6185/0b8f4a40-0000-11ef-9a4b-0a1b2c3d4e5f"
)

const testHash = "sha256:0123456789abcdef0123456789abcdef"

// wantCalls compares the operations served with those expected.
func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("calls = %v, want %v", got, want)
	}
}

// notFound is HeadBucket's answer for a bucket that does not exist.
func notFound() error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "HeadBucket", Err: &s3types.NotFound{}}
}

// bucketSetup are the calls that set a staging bucket up.
var bucketSetup = []string{"PutBucketVersioning", "PutBucketEncryption", "PutPublicAccessBlock"}

// join concatenates call lists.
func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// calls records the operations a fake served, in order. The bound on each
// call is the SDK client's (awscfg.CallTimeout), which these fakes stand in
// for; internal/awsclients tests it on the real clients.
type calls struct {
	t     *testing.T
	mu    sync.Mutex
	names []string
}

func (c *calls) record(_ context.Context, op string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = append(c.names, op)
}

func (c *calls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}

// apiError is an error as the SDK returns it: an API error wrapped in an
// operation error.
func apiError(op, code, msg string) error {
	return &smithy.OperationError{ServiceID: "CloudFormation", OperationName: op,
		Err: &smithy.GenericAPIError{Code: code, Message: msg}}
}

// fakeCFN serves scripted CloudFormation answers and keeps the inputs it got.
type fakeCFN struct {
	calls

	stacks    *cloudformation.DescribeStacksOutput
	stacksErr error
	// events are pages keyed by the NextToken that asks for them ("" first).
	events    map[string]*cloudformation.DescribeStackEventsOutput
	eventsErr error
	changeSet *cloudformation.DescribeChangeSetOutput
	// csPages are the further pages of changeSet, keyed by their NextToken.
	csPages  map[string]*cloudformation.DescribeChangeSetOutput
	csTokens []string
	csErr    error
	// errs fails the named mutating operation.
	errs map[string]error

	eventTokens     []string
	eventStacks     []string
	createStack     *cloudformation.CreateStackInput
	deleteStack     *cloudformation.DeleteStackInput
	createChangeSet *cloudformation.CreateChangeSetInput
	describeCS      *cloudformation.DescribeChangeSetInput
	executeCS       *cloudformation.ExecuteChangeSetInput
	deleteCS        *cloudformation.DeleteChangeSetInput
	protection      []*cloudformation.UpdateTerminationProtectionInput
	updateStack     *cloudformation.UpdateStackInput
	stackPolicy     *cloudformation.SetStackPolicyInput
}

func newFakeCFN(t *testing.T) *fakeCFN { return &fakeCFN{calls: calls{t: t}} }

func (f *fakeCFN) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.record(ctx, "DescribeStacks")
	if f.stacksErr != nil {
		return nil, f.stacksErr
	}
	if f.stacks == nil {
		return &cloudformation.DescribeStacksOutput{}, nil
	}
	return f.stacks, nil
}

func (f *fakeCFN) DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	f.record(ctx, "DescribeStackEvents")
	token := aws.ToString(in.NextToken)
	f.eventTokens = append(f.eventTokens, token)
	f.eventStacks = append(f.eventStacks, aws.ToString(in.StackName))
	if f.eventsErr != nil {
		return nil, f.eventsErr
	}
	page, ok := f.events[token]
	if !ok {
		f.t.Errorf("DescribeStackEvents asked for unknown page %q", token)
		return &cloudformation.DescribeStackEventsOutput{}, nil
	}
	return page, nil
}

func (f *fakeCFN) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	f.record(ctx, "CreateStack")
	f.createStack = in
	return &cloudformation.CreateStackOutput{StackId: aws.String("stack-id")}, f.errs["CreateStack"]
}

func (f *fakeCFN) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	f.record(ctx, "DeleteStack")
	f.deleteStack = in
	return &cloudformation.DeleteStackOutput{}, f.errs["DeleteStack"]
}

func (f *fakeCFN) CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	f.record(ctx, "CreateChangeSet")
	f.createChangeSet = in
	return &cloudformation.CreateChangeSetOutput{}, f.errs["CreateChangeSet"]
}

func (f *fakeCFN) DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	f.record(ctx, "DescribeChangeSet")
	f.describeCS = in
	if f.csErr != nil {
		return nil, f.csErr
	}
	if token := aws.ToString(in.NextToken); token != "" {
		f.csTokens = append(f.csTokens, token)
		return f.csPages[token], nil
	}
	return f.changeSet, nil
}

func (f *fakeCFN) ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error) {
	f.record(ctx, "ExecuteChangeSet")
	f.executeCS = in
	return &cloudformation.ExecuteChangeSetOutput{}, f.errs["ExecuteChangeSet"]
}

func (f *fakeCFN) UpdateTerminationProtection(ctx context.Context, in *cloudformation.UpdateTerminationProtectionInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error) {
	f.record(ctx, "UpdateTerminationProtection")
	f.protection = append(f.protection, in)
	return &cloudformation.UpdateTerminationProtectionOutput{}, f.errs["UpdateTerminationProtection"]
}

func (f *fakeCFN) UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	f.record(ctx, "UpdateStack")
	f.updateStack = in
	return &cloudformation.UpdateStackOutput{}, f.errs["UpdateStack"]
}

func (f *fakeCFN) SetStackPolicy(ctx context.Context, in *cloudformation.SetStackPolicyInput, _ ...func(*cloudformation.Options)) (*cloudformation.SetStackPolicyOutput, error) {
	f.record(ctx, "SetStackPolicy")
	f.stackPolicy = in
	return &cloudformation.SetStackPolicyOutput{}, f.errs["SetStackPolicy"]
}

func (f *fakeCFN) DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error) {
	f.record(ctx, "DeleteChangeSet")
	f.deleteCS = in
	return &cloudformation.DeleteChangeSetOutput{}, f.errs["DeleteChangeSet"]
}

// fakeS3 is the staging bucket's S3: HeadBucket answers headErr until the
// bucket is created; errs fails the named operation.
type fakeS3 struct {
	*calls

	headErr error
	errs    map[string]error

	createBucket *s3.CreateBucketInput
	head         *s3.HeadBucketInput
	versioning   *s3.PutBucketVersioningInput
	encryption   *s3.PutBucketEncryptionInput
	publicAccess *s3.PutPublicAccessBlockInput
	put          *s3.PutObjectInput
	putBody      []byte
}

func (f *fakeS3) HeadBucket(ctx context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	f.record(ctx, "HeadBucket")
	f.head = in
	if f.createBucket != nil {
		return &s3.HeadBucketOutput{}, nil
	}
	return &s3.HeadBucketOutput{}, f.headErr
}

func (f *fakeS3) CreateBucket(ctx context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	f.record(ctx, "CreateBucket")
	f.createBucket = in
	return &s3.CreateBucketOutput{}, f.errs["CreateBucket"]
}

func (f *fakeS3) PutBucketVersioning(ctx context.Context, in *s3.PutBucketVersioningInput, _ ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error) {
	f.record(ctx, "PutBucketVersioning")
	f.versioning = in
	return &s3.PutBucketVersioningOutput{}, f.errs["PutBucketVersioning"]
}

func (f *fakeS3) PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error) {
	f.record(ctx, "PutBucketEncryption")
	f.encryption = in
	return &s3.PutBucketEncryptionOutput{}, f.errs["PutBucketEncryption"]
}

func (f *fakeS3) PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	f.record(ctx, "PutPublicAccessBlock")
	f.publicAccess = in
	return &s3.PutPublicAccessBlockOutput{}, f.errs["PutPublicAccessBlock"]
}

func (f *fakeS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.record(ctx, "PutObject")
	f.put = in
	body, err := io.ReadAll(in.Body)
	if err != nil {
		f.t.Errorf("reading PutObject body: %v", err)
	}
	f.putBody = body
	return &s3.PutObjectOutput{}, f.errs["PutObject"]
}

// fakeSTS answers with a fixed account.
type fakeSTS struct {
	*calls
	err error
}

func (f *fakeSTS) GetCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.record(ctx, "GetCallerIdentity")
	return &sts.GetCallerIdentityOutput{Account: aws.String(testAccount)}, f.err
}

const testAccount = "123456789012"

// newStager returns a stager whose S3 and STS record into one call list.
func newStager(t *testing.T, region string) (*BucketStager, *fakeS3, *fakeSTS) {
	c := &calls{t: t}
	s3f := &fakeS3{calls: c, errs: map[string]error{}}
	stsf := &fakeSTS{calls: c}
	return &BucketStager{S3: s3f, STS: stsf, Region: region}, s3f, stsf
}
