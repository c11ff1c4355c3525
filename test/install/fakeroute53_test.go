package install_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// fakeRoute53 holds each stack's zone as the stack creates it: the weighted
// api records (source 100, target 0) and the writer CNAME on the source
// database. Every change is INSYNC at once; every checker sees the target
// healthy.
type fakeRoute53 struct {
	mu    sync.Mutex
	zones map[string]map[string]r53types.ResourceRecordSet // zone id -> name|type|set -> record
}

func newFakeRoute53() *fakeRoute53 {
	return &fakeRoute53{zones: map[string]map[string]r53types.ResourceRecordSet{}}
}

func recordKey(rr r53types.ResourceRecordSet) string {
	return strings.TrimSuffix(aws.ToString(rr.Name), ".") + "|" + string(rr.Type) + "|" + aws.ToString(rr.SetIdentifier)
}

func (f *fakeRoute53) zone(id string) map[string]r53types.ResourceRecordSet {
	if z, ok := f.zones[id]; ok {
		return z
	}
	stack := strings.TrimPrefix(id, "Z")
	z := map[string]r53types.ResourceRecordSet{}
	for side, weight := range map[string]int64{"source": 100, "target": 0} {
		rr := r53types.ResourceRecordSet{Name: aws.String("api.payments.internal."), Type: r53types.RRTypeA, SetIdentifier: aws.String(side), Weight: aws.Int64(weight),
			AliasTarget: &r53types.AliasTarget{DNSName: aws.String(side + ".payments.internal."), HostedZoneId: aws.String(id), EvaluateTargetHealth: true}}
		z[recordKey(rr)] = rr
	}
	writer := r53types.ResourceRecordSet{Name: aws.String("db.payments.internal."), Type: r53types.RRTypeCname, TTL: aws.Int64(5),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(outputsOf(stack)["SourceDbEndpoint"])}}}
	z[recordKey(writer)] = writer
	f.zones[id] = z
	return z
}

func (f *fakeRoute53) ListResourceRecordSets(_ context.Context, in *route53.ListResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &route53.ListResourceRecordSetsOutput{}
	for _, rr := range f.zone(aws.ToString(in.HostedZoneId)) {
		if in.StartRecordName == nil || strings.TrimSuffix(*rr.Name, ".") == strings.TrimSuffix(*in.StartRecordName, ".") {
			out.ResourceRecordSets = append(out.ResourceRecordSets, rr)
		}
	}
	return out, nil
}

func (f *fakeRoute53) ChangeResourceRecordSets(_ context.Context, in *route53.ChangeResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	z := f.zone(aws.ToString(in.HostedZoneId))
	for _, c := range in.ChangeBatch.Changes {
		z[recordKey(*c.ResourceRecordSet)] = *c.ResourceRecordSet
	}
	return &route53.ChangeResourceRecordSetsOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/C1"), Status: r53types.ChangeStatusInsync}}, nil
}

func (f *fakeRoute53) GetChange(_ context.Context, in *route53.GetChangeInput, _ ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	return &route53.GetChangeOutput{ChangeInfo: &r53types.ChangeInfo{Id: in.Id, Status: r53types.ChangeStatusInsync}}, nil
}

func (f *fakeRoute53) GetHealthCheckStatus(context.Context, *route53.GetHealthCheckStatusInput, ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error) {
	out := &route53.GetHealthCheckStatusOutput{}
	for i := range 16 {
		out.HealthCheckObservations = append(out.HealthCheckObservations, r53types.HealthCheckObservation{
			IPAddress:    aws.String(fmt.Sprintf("15.177.0.%d", i)),
			StatusReport: &r53types.StatusReport{Status: aws.String("Success: HTTP Status Code 200, OK")},
		})
	}
	return out, nil
}

// writer is the writer record's value in a stack's zone.
func (f *fakeRoute53) writer(stack string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.zone("Z" + stack)["db.payments.internal|CNAME|"]
	return aws.ToString(w.ResourceRecords[0].Value)
}
