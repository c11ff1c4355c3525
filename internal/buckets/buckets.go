// Package buckets empties versioned S3 buckets so CloudFormation can delete them:
// what CDK's auto-delete-objects custom resource does, done by the operator.
package buckets

import (
	"context"
	"errors"
	"fmt"

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

// Emptier deletes every object version and delete marker of a bucket. Each
// S3 call is bounded by the client's timeout middleware (internal/awscfg).
type Emptier struct {
	API API
}

// pageSize is the most versions one listing returns and one DeleteObjects
// takes.
const pageSize = 1000

// Empty deletes everything in bucket and returns how many versions and markers
// it removed. A bucket that does not exist is already empty.
func (e *Emptier) Empty(ctx context.Context, bucket string) (int, error) {
	deleted, _, err := e.EmptySome(ctx, bucket, 0)
	return deleted, err
}

// EmptySome deletes at most limit versions and delete markers of bucket (no
// limit when limit <= 0), a page at a time, and says whether the bucket is
// empty now. Bounded batches let the caller spread a large bucket over many
// reconciles; nothing is remembered between calls, because every call lists
// from the start: what was listed before is gone, and key markers into a
// shrinking listing are fragile. So a batch cut short by a restart resumes by
// itself. A bucket that does not exist is empty.
func (e *Emptier) EmptySome(ctx context.Context, bucket string, limit int) (deleted int, empty bool, err error) {
	for limit <= 0 || deleted < limit {
		size := pageSize
		if limit > 0 {
			size = min(pageSize, limit-deleted)
		}
		page, err := e.API.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(int32(size))})
		if isNoSuchBucket(err) {
			return deleted, true, nil
		}
		if err != nil {
			return deleted, false, fmt.Errorf("listing versions of s3://%s: %w", bucket, err)
		}
		ids := identifiers(page, size)
		if len(ids) == 0 {
			return deleted, true, nil
		}
		n, err := e.deleteBatch(ctx, bucket, ids)
		deleted += n
		if err != nil {
			return deleted, false, err
		}
	}
	return deleted, false, nil
}

// identifiers lists the object versions and delete markers of one page, at
// most size of them (a listing of MaxKeys can return that many of each).
func identifiers(page *s3.ListObjectVersionsOutput, size int) []s3types.ObjectIdentifier {
	ids := make([]s3types.ObjectIdentifier, 0, len(page.Versions)+len(page.DeleteMarkers))
	for _, v := range page.Versions {
		ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range page.DeleteMarkers {
		ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
	}
	if len(ids) > size {
		ids = ids[:size]
	}
	return ids
}

func (e *Emptier) deleteBatch(ctx context.Context, bucket string, ids []s3types.ObjectIdentifier) (int, error) {
	out, err := e.API.DeleteObjects(ctx, &s3.DeleteObjectsInput{
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

func isNoSuchBucket(err error) bool {
	var nsb *s3types.NoSuchBucket
	var apiErr smithy.APIError
	return errors.As(err, &nsb) || (errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket")
}
