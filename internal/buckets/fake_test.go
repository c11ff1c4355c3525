package buckets

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// version is one object version or delete marker.
type version struct{ key, id string }

// fakeS3 is a versioned bucket. Its listing returns up to MaxKeys versions
// and, separately, up to MaxKeys delete markers: laxer than S3, so that a
// page with more than 1000 entries reaches the emptier.
type fakeS3 struct {
	t       *testing.T
	bucket  string
	objects map[version]bool // true: delete marker
	// listErr and deleteErr fail those calls; failKeys fail single keys.
	listErr   error
	deleteErr error
	failKeys  map[string]string
	// goneAfter makes the bucket disappear after that many DeleteObjects calls.
	goneAfter int

	lists   int
	batches [][]s3types.ObjectIdentifier
}

func newFakeS3(t *testing.T, versions, markers int) *fakeS3 {
	f := &fakeS3{t: t, bucket: "audit-source-pr6185-123456789012", objects: map[version]bool{}}
	for i := 0; i < versions; i++ {
		f.objects[version{fmt.Sprintf("logs/%05d.json", i/2), fmt.Sprintf("v%d", i)}] = false
	}
	for i := 0; i < markers; i++ {
		f.objects[version{fmt.Sprintf("logs/%05d.json", i), fmt.Sprintf("m%d", i)}] = true
	}
	return f
}

func (f *fakeS3) checkCall(ctx context.Context, op string, bucket *string) {
	f.t.Helper()
	if aws.ToString(bucket) != f.bucket {
		f.t.Errorf("%s on bucket %q, want %q", op, aws.ToString(bucket), f.bucket)
	}
}

func (f *fakeS3) ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, _ ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	f.checkCall(ctx, "ListObjectVersions", in.Bucket)
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	if f.goneAfter > 0 && len(f.batches) >= f.goneAfter {
		return nil, &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")}
	}
	max := int(aws.ToInt32(in.MaxKeys))
	if max <= 0 || max > 1000 {
		f.t.Errorf("listing with MaxKeys %d, want 1..1000", max)
		max = 1000
	}
	var all []version
	for v := range f.objects {
		all = append(all, v)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].key+all[i].id < all[j].key+all[j].id })
	out := &s3.ListObjectVersionsOutput{}
	for _, v := range all {
		if f.objects[v] && len(out.DeleteMarkers) < max {
			out.DeleteMarkers = append(out.DeleteMarkers, s3types.DeleteMarkerEntry{Key: aws.String(v.key), VersionId: aws.String(v.id)})
		} else if !f.objects[v] && len(out.Versions) < max {
			out.Versions = append(out.Versions, s3types.ObjectVersion{Key: aws.String(v.key), VersionId: aws.String(v.id)})
		}
	}
	out.IsTruncated = aws.Bool(len(out.Versions)+len(out.DeleteMarkers) < len(all))
	return out, nil
}

func (f *fakeS3) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	f.checkCall(ctx, "DeleteObjects", in.Bucket)
	f.batches = append(f.batches, in.Delete.Objects)
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	if len(in.Delete.Objects) > 1000 {
		f.t.Errorf("DeleteObjects with %d objects, over the limit of 1000", len(in.Delete.Objects))
	}
	out := &s3.DeleteObjectsOutput{}
	for _, id := range in.Delete.Objects {
		v := version{aws.ToString(id.Key), aws.ToString(id.VersionId)}
		if msg, ok := f.failKeys[v.key]; ok {
			out.Errors = append(out.Errors, s3types.Error{Key: id.Key, VersionId: id.VersionId, Code: aws.String("AccessDenied"), Message: aws.String(msg)})
			continue
		}
		if _, ok := f.objects[v]; !ok {
			f.t.Errorf("deleting %s@%s, which the bucket does not hold", v.key, v.id)
		}
		delete(f.objects, v)
	}
	return out, nil
}

func newEmptier(f *fakeS3) *Emptier { return &Emptier{API: f} }
