package cfnstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// S3API is the part of the S3 client the staging bucket needs.
type S3API interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutBucketVersioning(context.Context, *s3.PutBucketVersioningInput, ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
	PutBucketEncryption(context.Context, *s3.PutBucketEncryptionInput, ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// STSAPI tells the account id, part of the staging bucket's name.
type STSAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// BucketStager keeps large templates in an operator-managed bucket per account
// and region, created on first use and set up like CDK's bootstrap bucket:
// versioned, encrypted, closed to the public. Each call is bounded by the SDK
// clients' middleware (awscfg.CallTimeout).
type BucketStager struct {
	S3     S3API
	STS    STSAPI
	Region string

	mu     sync.Mutex
	bucket string // set once the bucket is known to exist
	owner  string // the account id: ExpectedBucketOwner of every call on the bucket
}

// StagingBucketName is the bucket of an account and region (44 characters at most).
func StagingBucketName(accountID, region string) string {
	return fmt.Sprintf("tapstack-staging-%s-%s", accountID, region)
}

// Stage uploads body under a key named by the stack and the template hash, and
// returns the URL CloudFormation reads it from.
func (s *BucketStager) Stage(ctx context.Context, stackName, hash string, body []byte) (string, error) {
	bucket, owner, err := s.ensureBucket(ctx)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("templates/%s/%s.json", stackName, strings.TrimPrefix(hash, "sha256:"))
	if _, err := s.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:              aws.String(bucket),
		Key:                 aws.String(key),
		Body:                bytes.NewReader(body),
		ContentType:         aws.String("application/json"),
		ExpectedBucketOwner: aws.String(owner),
	}); err != nil {
		return "", fmt.Errorf("uploading template to s3://%s/%s: %w", bucket, key, err)
	}
	return fmt.Sprintf("https://%s.s3.%s.amazonaws.com/%s", bucket, s.Region, key), nil
}

// ensureBucket returns the bucket and its owner, the caller's account. The
// bucket's name is predictable, so another account could own a bucket of
// that name: every call on it but CreateBucket (which has no such field and
// fails on a bucket of another account) carries ExpectedBucketOwner, and S3
// refuses it with 403 when the bucket belongs to someone else; no template is
// ever written to, nor a setting made on, a bucket this account does not own.
func (s *BucketStager) ensureBucket(ctx context.Context) (bucket, owner string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bucket != "" {
		return s.bucket, s.owner, nil
	}
	id, err := s.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", fmt.Errorf("reading the account id for the staging bucket: %w", err)
	}
	owner = aws.ToString(id.Account)
	if owner == "" {
		return "", "", errors.New("reading the account id for the staging bucket: STS returned no account")
	}
	bucket = StagingBucketName(owner, s.Region)

	_, err = s.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket), ExpectedBucketOwner: aws.String(owner)})
	var notFound *s3types.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return "", "", fmt.Errorf("checking staging bucket %s: %w", bucket, err)
	}
	// An existing bucket is set up again too (the calls are idempotent): a
	// set-up interrupted after the bucket was created must not stay half done.
	if err := s.createBucket(ctx, bucket, owner, err != nil); err != nil {
		return "", "", err
	}
	s.bucket, s.owner = bucket, owner
	return bucket, owner, nil
}

// createBucket creates the bucket when create is set, then sets it up; every
// set-up call expects the bucket to belong to owner.
func (s *BucketStager) createBucket(ctx context.Context, bucket, owner string, create bool) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if s.Region != "us-east-1" { // us-east-1 rejects its own name as a constraint
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(s.Region)}
	}
	steps := []struct {
		what string
		do   func(context.Context) error
	}{
		{"creating", func(c context.Context) error { _, err := s.S3.CreateBucket(c, in); return ignoreOwned(err) }},
		{"enabling versioning of", func(c context.Context) error {
			_, err := s.S3.PutBucketVersioning(c, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket), ExpectedBucketOwner: aws.String(owner),
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			return err
		}},
		{"encrypting", func(c context.Context) error {
			_, err := s.S3.PutBucketEncryption(c, &s3.PutBucketEncryptionInput{Bucket: aws.String(bucket), ExpectedBucketOwner: aws.String(owner),
				ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256},
				}}}})
			return err
		}},
		{"blocking public access to", func(c context.Context) error {
			_, err := s.S3.PutPublicAccessBlock(c, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket), ExpectedBucketOwner: aws.String(owner),
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true),
					IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
			return err
		}},
	}
	if !create {
		steps = steps[1:]
	}
	for _, step := range steps {
		if err := step.do(ctx); err != nil {
			return fmt.Errorf("%s staging bucket %s: %w", step.what, bucket, err)
		}
	}
	return nil
}

// ignoreOwned treats "you already own it" as success: another replica of the
// operator may have created the bucket a moment ago.
func ignoreOwned(err error) error {
	var owned *s3types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return nil
	}
	return err
}
