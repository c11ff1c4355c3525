package cfnstack

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func TestStageCreatesAVersionedEncryptedPrivateBucketOnFirstUseOnly(t *testing.T) {
	tests := []struct {
		name          string
		region        string
		headErr       error
		createErr     error
		wantCreate    bool
		wantLocation  s3types.BucketLocationConstraint
		wantFirstUse  []string
		wantSecondUse []string
	}{
		{name: "missing bucket outside us-east-1 is created with a location constraint", region: "eu-west-1", headErr: notFound(),
			wantCreate: true, wantLocation: "eu-west-1",
			wantFirstUse: join([]string{"GetCallerIdentity", "HeadBucket", "CreateBucket"}, bucketSetup, []string{"PutObject"})},
		{name: "missing bucket in us-east-1 is created without a location constraint", region: "us-east-1", headErr: notFound(),
			wantCreate:   true,
			wantFirstUse: join([]string{"GetCallerIdentity", "HeadBucket", "CreateBucket"}, bucketSetup, []string{"PutObject"})},
		{name: "bucket another replica just created is tolerated", region: "eu-west-1", headErr: notFound(),
			createErr:  &smithy.OperationError{ServiceID: "S3", OperationName: "CreateBucket", Err: &s3types.BucketAlreadyOwnedByYou{}},
			wantCreate: true, wantLocation: "eu-west-1",
			wantFirstUse: join([]string{"GetCallerIdentity", "HeadBucket", "CreateBucket"}, bucketSetup, []string{"PutObject"})},
		{name: "existing bucket is not created again but set up", region: "eu-west-1",
			wantFirstUse: join([]string{"GetCallerIdentity", "HeadBucket"}, bucketSetup, []string{"PutObject"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stager, s3f, _ := newStager(t, tt.region)
			s3f.headErr = tt.headErr
			s3f.errs["CreateBucket"] = tt.createErr
			ctx := context.Background()
			body := []byte(`{"Resources":{}}`)

			url, err := stager.Stage(ctx, stackName, testHash, body)
			if err != nil {
				t.Fatalf("first Stage: %v", err)
			}
			wantCalls(t, s3f.list(), tt.wantFirstUse...)
			bucketName := "tapstack-staging-" + testAccount + "-" + tt.region
			wantURL := "https://" + bucketName + ".s3." + tt.region + ".amazonaws.com/templates/" + stackName + "/0123456789abcdef0123456789abcdef.json"
			if url != wantURL {
				t.Errorf("URL = %q, want %q", url, wantURL)
			}
			if put := s3f.put; aws.ToString(put.Bucket) != bucketName || aws.ToString(put.Key) != "templates/"+stackName+"/0123456789abcdef0123456789abcdef.json" ||
				aws.ToString(put.ContentType) != "application/json" || string(s3f.putBody) != string(body) {
				t.Errorf("PutObject to s3://%s/%s (%s) of %q", aws.ToString(put.Bucket), aws.ToString(put.Key), aws.ToString(put.ContentType), s3f.putBody)
			}
			checkBucketSetup(t, s3f, bucketName)
			if tt.wantCreate {
				in := s3f.createBucket
				if aws.ToString(in.Bucket) != bucketName {
					t.Errorf("created bucket %q, want %q", aws.ToString(in.Bucket), bucketName)
				}
				var got s3types.BucketLocationConstraint
				if in.CreateBucketConfiguration != nil {
					got = in.CreateBucketConfiguration.LocationConstraint
				}
				if got != tt.wantLocation {
					t.Errorf("LocationConstraint = %q, want %q", got, tt.wantLocation)
				}
			} else if s3f.createBucket != nil {
				t.Error("an existing bucket was created again")
			}

			first := len(s3f.list())
			if _, err := stager.Stage(ctx, "other-stack", "sha256:ffff", body); err != nil {
				t.Fatalf("second Stage: %v", err)
			}
			wantCalls(t, s3f.list()[first:], "PutObject")
		})
	}
}

// checkBucketSetup asserts versioning, encryption and the public access block.
func checkBucketSetup(t *testing.T, s3f *fakeS3, bucketName string) {
	t.Helper()
	if v := s3f.versioning; v == nil || aws.ToString(v.Bucket) != bucketName || v.VersioningConfiguration.Status != s3types.BucketVersioningStatusEnabled {
		t.Errorf("versioning not enabled on %s: %+v", bucketName, v)
	}
	if e := s3f.encryption; e == nil || aws.ToString(e.Bucket) != bucketName || len(e.ServerSideEncryptionConfiguration.Rules) != 1 ||
		e.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm == "" {
		t.Errorf("encryption not set on %s: %+v", bucketName, e)
	}
	want := &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true),
		IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}
	if p := s3f.publicAccess; p == nil || aws.ToString(p.Bucket) != bucketName || !reflect.DeepEqual(p.PublicAccessBlockConfiguration, want) {
		t.Errorf("public access not fully blocked on %s: %+v", bucketName, p)
	}
}

func TestStageErrors(t *testing.T) {
	tests := []struct {
		name      string
		stsErr    error
		headErr   error
		s3Errs    map[string]error
		wantErr   string
		wantCalls []string
	}{
		{name: "account id unknown", stsErr: errors.New("no credentials"), wantErr: "no credentials", wantCalls: []string{"GetCallerIdentity"}},
		{name: "bucket of another account", headErr: &smithy.GenericAPIError{Code: "Forbidden", Message: "Forbidden"},
			wantErr: "Forbidden", wantCalls: []string{"GetCallerIdentity", "HeadBucket"}},
		{name: "bucket name taken by someone else", headErr: notFound(), s3Errs: map[string]error{"CreateBucket": &s3types.BucketAlreadyExists{}},
			wantErr: "creating staging bucket", wantCalls: []string{"GetCallerIdentity", "HeadBucket", "CreateBucket"}},
		{name: "encryption refused", headErr: notFound(), s3Errs: map[string]error{"PutBucketEncryption": errors.New("refused")},
			wantErr: "encrypting staging bucket", wantCalls: []string{"GetCallerIdentity", "HeadBucket", "CreateBucket", "PutBucketVersioning", "PutBucketEncryption"}},
		{name: "upload refused", s3Errs: map[string]error{"PutObject": errors.New("refused")},
			wantErr: "uploading template", wantCalls: join([]string{"GetCallerIdentity", "HeadBucket"}, bucketSetup, []string{"PutObject"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stager, s3f, stsf := newStager(t, "eu-west-1")
			stsf.err, s3f.headErr = tt.stsErr, tt.headErr
			for k, v := range tt.s3Errs {
				s3f.errs[k] = v
			}
			_, err := stager.Stage(context.Background(), stackName, testHash, []byte("{}"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
			wantCalls(t, s3f.list(), tt.wantCalls...)
		})
	}
}

// A bucket whose set-up was interrupted (created, then encryption refused)
// must not stay half set up: the next use completes it.
func TestStageCompletesAnInterruptedBucketSetup(t *testing.T) {
	stager, s3f, _ := newStager(t, "eu-west-1")
	s3f.headErr = notFound()
	s3f.errs["PutBucketEncryption"] = errors.New("service unavailable")
	ctx := context.Background()
	if _, err := stager.Stage(ctx, stackName, testHash, []byte("{}")); err == nil {
		t.Fatal("first Stage succeeded, want the encryption error")
	}
	delete(s3f.errs, "PutBucketEncryption")
	s3f.versioning, s3f.encryption, s3f.publicAccess = nil, nil, nil
	first := len(s3f.list())
	if _, err := stager.Stage(ctx, stackName, testHash, []byte("{}")); err != nil {
		t.Fatalf("second Stage: %v", err)
	}
	wantCalls(t, s3f.list()[first:], join([]string{"GetCallerIdentity", "HeadBucket"}, bucketSetup, []string{"PutObject"})...)
	checkBucketSetup(t, s3f, StagingBucketName(testAccount, "eu-west-1"))
}

func TestStagingBucketNameFitsS3Limits(t *testing.T) {
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-4", "us-gov-west-1"} {
		name := StagingBucketName(testAccount, region)
		if len(name) > 63 || strings.ToLower(name) != name {
			t.Errorf("bucket name %q is not a valid S3 bucket name", name)
		}
	}
}

// The staging bucket's name is predictable: every call on it that S3 lets
// name an owner expects the caller's own account, so a bucket of that name
// owned by another account is refused (403) rather than written to.
func TestEveryCallOnTheStagingBucketExpectsTheCallersAccount(t *testing.T) {
	for _, existing := range []bool{false, true} {
		stager, s3f, _ := newStager(t, "eu-west-1")
		if !existing {
			s3f.headErr = notFound()
		}
		if _, err := stager.Stage(context.Background(), stackName, testHash, []byte("{}")); err != nil {
			t.Fatalf("Stage (existing bucket %v): %v", existing, err)
		}
		owners := map[string]*string{
			"HeadBucket":           s3f.head.ExpectedBucketOwner,
			"PutBucketVersioning":  s3f.versioning.ExpectedBucketOwner,
			"PutBucketEncryption":  s3f.encryption.ExpectedBucketOwner,
			"PutPublicAccessBlock": s3f.publicAccess.ExpectedBucketOwner,
			"PutObject":            s3f.put.ExpectedBucketOwner,
		}
		for op, owner := range owners {
			if aws.ToString(owner) != testAccount {
				t.Errorf("existing bucket %v: %s ExpectedBucketOwner = %q, want the caller's account %s", existing, op, aws.ToString(owner), testAccount)
			}
		}
		// A later upload reuses the bucket and still names its owner.
		s3f.put = nil
		if _, err := stager.Stage(context.Background(), "other-stack", testHash, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if aws.ToString(s3f.put.ExpectedBucketOwner) != testAccount {
			t.Errorf("second PutObject ExpectedBucketOwner = %q, want %s", aws.ToString(s3f.put.ExpectedBucketOwner), testAccount)
		}
	}
}

// Without an account id there is no owner to expect: nothing is called on S3.
func TestStageRefusesAnEmptyAccountID(t *testing.T) {
	c := &calls{t: t}
	s3f := &fakeS3{calls: c, errs: map[string]error{}}
	stager := &BucketStager{S3: s3f, STS: emptySTS{c}, Region: "eu-west-1"}
	if _, err := stager.Stage(context.Background(), stackName, testHash, []byte("{}")); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("error = %v, want one saying STS returned no account", err)
	}
	wantCalls(t, c.list(), "GetCallerIdentity")
}

type emptySTS struct{ *calls }

func (f emptySTS) GetCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.record(ctx, "GetCallerIdentity")
	return &sts.GetCallerIdentityOutput{}, nil
}
