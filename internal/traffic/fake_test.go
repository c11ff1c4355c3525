package traffic

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// fakeRoute53 is one hosted zone. It pages the listing (pageSize) so the
// router's paging is exercised, applies UPSERTs as Route 53 does (whole
// record replaced by name, type and set identifier), and answers GetChange
// from a script of statuses.
type fakeRoute53 struct {
	mu       sync.Mutex
	records  []types.ResourceRecordSet
	pageSize int

	batches []*types.ChangeBatch
	// changeStatus is what ChangeResourceRecordSets reports; statuses what
	// the following GetChange calls report, the last one repeated.
	changeStatus types.ChangeStatus
	statuses     []types.ChangeStatus
	getChanges   int
	lists        int

	health []types.HealthCheckObservation

	listErr, changeErr, getChangeErr, healthErr error
	// deadlines records whether each call's context had a deadline.
	deadlines []bool
}

func (f *fakeRoute53) seen(ctx context.Context) {
	_, ok := ctx.Deadline()
	f.deadlines = append(f.deadlines, ok)
}

func key(r types.ResourceRecordSet) string {
	return fmt.Sprintf("%s|%s|%s", strings.ToLower(strings.TrimSuffix(aws.ToString(r.Name), ".")), r.Type, aws.ToString(r.SetIdentifier))
}

func (f *fakeRoute53) ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen(ctx)
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	sorted := append([]types.ResourceRecordSet(nil), f.records...)
	sort.Slice(sorted, func(i, j int) bool { return key(sorted[i]) < key(sorted[j]) })
	start := key(types.ResourceRecordSet{Name: in.StartRecordName, Type: in.StartRecordType, SetIdentifier: in.StartRecordIdentifier})
	var page []types.ResourceRecordSet
	for i, r := range sorted {
		if key(r) < start {
			continue
		}
		if f.pageSize > 0 && len(page) == f.pageSize {
			return &route53.ListResourceRecordSetsOutput{ResourceRecordSets: page, IsTruncated: true,
				NextRecordName: sorted[i].Name, NextRecordType: sorted[i].Type, NextRecordIdentifier: sorted[i].SetIdentifier}, nil
		}
		page = append(page, r)
	}
	return &route53.ListResourceRecordSetsOutput{ResourceRecordSets: page}, nil
}

func (f *fakeRoute53) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen(ctx)
	if f.changeErr != nil {
		return nil, f.changeErr
	}
	f.batches = append(f.batches, in.ChangeBatch)
	for _, c := range in.ChangeBatch.Changes {
		if c.Action != types.ChangeActionUpsert {
			return nil, fmt.Errorf("fake: action %s", c.Action)
		}
		rec := *c.ResourceRecordSet
		replaced := false
		for i := range f.records {
			if key(f.records[i]) == key(rec) {
				f.records[i], replaced = rec, true
			}
		}
		if !replaced {
			f.records = append(f.records, rec)
		}
	}
	status := f.changeStatus
	if status == "" {
		status = types.ChangeStatusPending
	}
	return &route53.ChangeResourceRecordSetsOutput{ChangeInfo: &types.ChangeInfo{
		Id: aws.String(fmt.Sprintf("/change/C%d", len(f.batches))), Status: status}}, nil
}

func (f *fakeRoute53) GetChange(ctx context.Context, in *route53.GetChangeInput, _ ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen(ctx)
	if f.getChangeErr != nil {
		return nil, f.getChangeErr
	}
	status := types.ChangeStatusInsync
	if len(f.statuses) > 0 {
		status = f.statuses[min(f.getChanges, len(f.statuses)-1)]
	}
	f.getChanges++
	return &route53.GetChangeOutput{ChangeInfo: &types.ChangeInfo{Id: in.Id, Status: status}}, nil
}

func (f *fakeRoute53) GetHealthCheckStatus(ctx context.Context, in *route53.GetHealthCheckStatusInput, _ ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen(ctx)
	if f.healthErr != nil {
		return nil, f.healthErr
	}
	return &route53.GetHealthCheckStatusOutput{HealthCheckObservations: f.health}, nil
}

func (f *fakeRoute53) record(name string, rrType types.RRType, setID string) *types.ResourceRecordSet {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := key(types.ResourceRecordSet{Name: &name, Type: rrType, SetIdentifier: aws.String(setID)})
	for i := range f.records {
		if key(f.records[i]) == want {
			r := f.records[i]
			return &r
		}
	}
	return nil
}
