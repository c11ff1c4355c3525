package buckets

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func TestEmptyDeletesEveryVersionAndDeleteMarkerInBatchesOfAtMost1000(t *testing.T) {
	tests := []struct {
		name        string
		versions    int
		markers     int
		wantBatches int
	}{
		{name: "empty bucket", wantBatches: 0},
		{name: "versions only", versions: 7, wantBatches: 1},
		{name: "delete markers only", markers: 5, wantBatches: 1},
		{name: "versions and delete markers in one batch", versions: 600, markers: 400, wantBatches: 1},
		{name: "a page of more than 1000 entries is cut at 1000", versions: 1000, markers: 1, wantBatches: 2},
		{name: "many pages until the listing is empty", versions: 2500, markers: 700, wantBatches: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeS3(t, tt.versions, tt.markers)
			n, err := newEmptier(f).Empty(context.Background(), f.bucket)
			if err != nil {
				t.Fatalf("Empty: %v", err)
			}
			if n != tt.versions+tt.markers {
				t.Errorf("Empty reported %d deletions, want %d", n, tt.versions+tt.markers)
			}
			if len(f.objects) != 0 {
				t.Errorf("%d versions or markers left in the bucket", len(f.objects))
			}
			if len(f.batches) != tt.wantBatches {
				t.Errorf("%d DeleteObjects calls, want %d", len(f.batches), tt.wantBatches)
			}
			if f.lists != len(f.batches)+1 {
				t.Errorf("%d listings for %d batches, want one more listing than batches (the last one empty)", f.lists, len(f.batches))
			}
			for _, b := range f.batches {
				for _, id := range b {
					if aws.ToString(id.VersionId) == "" {
						t.Fatalf("deleting %s without a version id would only add a delete marker", aws.ToString(id.Key))
					}
				}
			}
		})
	}
}

func TestEmptyTreatsAMissingBucketAsEmpty(t *testing.T) {
	tests := []struct {
		name      string
		listErr   error
		goneAfter int
		versions  int
		want      int
	}{
		{name: "NoSuchBucket", listErr: &smithy.OperationError{ServiceID: "S3", OperationName: "ListObjectVersions",
			Err: &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")}}},
		{name: "NoSuchBucket as a generic API error", listErr: &smithy.GenericAPIError{Code: "NoSuchBucket", Message: "The specified bucket does not exist"}},
		{name: "bucket deleted while being emptied", goneAfter: 1, versions: 1500, want: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeS3(t, tt.versions, 0)
			f.listErr, f.goneAfter = tt.listErr, tt.goneAfter
			n, err := newEmptier(f).Empty(context.Background(), f.bucket)
			if err != nil || n != tt.want {
				t.Errorf("Empty = %d, %v; want %d, nil", n, err, tt.want)
			}
		})
	}
}

func TestEmptyErrors(t *testing.T) {
	tests := []struct {
		name      string
		listErr   error
		deleteErr error
		failKeys  map[string]string
		wantN     int
		wantInErr []string
	}{
		{name: "listing refused", listErr: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"},
			wantInErr: []string{"listing versions", "Access Denied"}},
		{name: "DeleteObjects refused", deleteErr: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"},
			wantInErr: []string{"deleting 10 versions", "Access Denied"}},
		{name: "per-object failure names the key", failKeys: map[string]string{"logs/00003.json": "Access Denied by object lock"},
			wantN: 8, wantInErr: []string{"2 versions failed", "logs/00003.json", "Access Denied by object lock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeS3(t, 8, 2) // keys logs/00000..00003 with 2 versions each, markers on 00000 and 00001
			f.listErr, f.deleteErr, f.failKeys = tt.listErr, tt.deleteErr, tt.failKeys
			n, err := newEmptier(f).Empty(context.Background(), f.bucket)
			if err == nil {
				t.Fatal("Empty succeeded, want an error")
			}
			for _, s := range tt.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if !strings.Contains(err.Error(), f.bucket) {
				t.Errorf("error %q does not name the bucket", err)
			}
			if n != tt.wantN {
				t.Errorf("Empty reported %d deletions, want %d", n, tt.wantN)
			}
			if f.lists != 1 {
				t.Errorf("%d listings, want none after the error", f.lists)
			}
		})
	}
}

// A large bucket is emptied over several bounded calls, each listing from the
// start, so a restart between two calls loses nothing.
func TestEmptySomeStopsAtItsLimitAndResumes(t *testing.T) {
	f := newFakeS3(t, 2000, 500)
	e := newEmptier(f)
	type step struct {
		deleted int
		empty   bool
	}
	var got []step
	for i := 0; i < 5; i++ {
		n, empty, err := e.EmptySome(context.Background(), f.bucket, 1200)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, step{n, empty})
		if empty {
			break
		}
	}
	want := []step{{1200, false}, {1200, false}, {100, true}}
	if len(got) != len(want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, b := range f.batches {
		if len(b) > 1000 {
			t.Errorf("a DeleteObjects call of %d versions, over the S3 limit", len(b))
		}
	}
	if len(f.objects) != 0 {
		t.Errorf("%d versions left", len(f.objects))
	}
	// A limit met exactly does not claim emptiness it has not seen.
	f = newFakeS3(t, 300, 0)
	if n, empty, err := newEmptier(f).EmptySome(context.Background(), f.bucket, 300); n != 300 || empty || err != nil {
		t.Errorf("exact limit: %d %v %v, want 300 false", n, empty, err)
	}
	if n, empty, err := newEmptier(f).EmptySome(context.Background(), f.bucket, 300); n != 0 || !empty || err != nil {
		t.Errorf("after it: %d %v %v, want 0 true", n, empty, err)
	}
}
