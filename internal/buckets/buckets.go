// Package buckets empties versioned S3 buckets so CloudFormation can delete them:
// what CDK's auto-delete-objects custom resource does, done by the operator.
package buckets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// API is the part of the S3 client emptying needs.
type API interface {
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

// Emptier deletes every object version and delete marker of a bucket.
type Emptier struct {
	API         API
	CallTimeout time.Duration
}

// Empty deletes everything in bucket and returns how many versions and markers
// it removed. A bucket that does not exist is already empty.
func (e *Emptier) Empty(ctx context.Context, bucket string) (int, error) {
	deleted := 0
	for {
		// Always list from the start: what was listed before is gone, and key
		// markers into a shrinking listing are fragile.
		callCtx, cancel := e.call(ctx)
		page, err := e.API.ListObjectVersions(callCtx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1000)})
		cancel()
		if isNoSuchBucket(err) {
			return deleted, nil
		}
		if err != nil {
			return deleted, fmt.Errorf("listing versions of s3://%s: %w", bucket, err)
		}
		ids := identifiers(page)
		if len(ids) == 0 {
			return deleted, nil
		}
		n, err := e.deleteBatch(ctx, bucket, ids)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
}

// identifiers lists the object versions and delete markers of one page (at most
// 1000, the DeleteObjects limit).
func identifiers(page *s3.ListObjectVersionsOutput) []s3types.ObjectIdentifier {
	ids := make([]s3types.ObjectIdentifier, 0, len(page.Versions)+len(page.DeleteMarkers))
	for _, v := range page.Versions {
		ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range page.DeleteMarkers {
		ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
	}
	if len(ids) > 1000 {
		ids = ids[:1000]
	}
	return ids
}

func (e *Emptier) deleteBatch(ctx context.Context, bucket string, ids []s3types.ObjectIdentifier) (int, error) {
	callCtx, cancel := e.call(ctx)
	defer cancel()
	out, err := e.API.DeleteObjects(callCtx, &s3.DeleteObjectsInput{
		Bucket: aws.String(bucket),
		Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return 0, fmt.Errorf("deleting %d versions from s3://%s: %w", len(ids), bucket, err)
	}
	if len(out.Errors) > 0 {
		first := out.Errors[0]
		return len(ids) - len(out.Errors), fmt.Errorf("deleting from s3://%s: %d versions failed, first %s: %s",
			bucket, len(out.Errors), aws.ToString(first.Key), aws.ToString(first.Message))
	}
	return len(ids), nil
}

func (e *Emptier) call(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := e.CallTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return context.WithTimeout(ctx, timeout)
}

func isNoSuchBucket(err error) bool {
	var nsb *s3types.NoSuchBucket
	var apiErr smithy.APIError
	return errors.As(err, &nsb) || (errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket")
}
