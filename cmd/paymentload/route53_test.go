package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// zone serves CNAME records the way ListResourceRecordSets does: from the
// start name on, in order, so a name with no record answers with the next one.
type zone struct {
	names, values []string // sorted by name
	err           error
}

func (z zone) ListResourceRecordSets(_ context.Context, in *route53.ListResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	if z.err != nil {
		return nil, z.err
	}
	out := &route53.ListResourceRecordSetsOutput{}
	for i, n := range z.names {
		if n >= aws.ToString(in.StartRecordName) {
			out.ResourceRecordSets = append(out.ResourceRecordSets, r53types.ResourceRecordSet{
				Name: aws.String(n), Type: r53types.RRTypeCname, ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(z.values[i])}}})
			break
		}
	}
	return out, nil
}

func TestTheRoute53ResolverFollowsTheWriterRecordToItsServer(t *testing.T) {
	z := zone{names: []string{"alias.payments.internal.", "db.payments.internal.", "zz.payments.internal."},
		values: []string{"db.payments.internal", "127.0.0.7", "127.0.0.9"}}
	fallback := workload.ResolverFunc(func(_ context.Context, host string) ([]string, error) {
		if host == "other.example" {
			return []string{"10.0.0.1"}, nil
		}
		return nil, errors.New("no such host " + host)
	})
	r := route53Resolver{api: z, zoneID: "Z1", ports: map[string]int{"127.0.0.7": 54321}, next: fallback}
	for _, c := range []struct {
		host, want, wantErr string
	}{
		{host: "db.payments.internal", want: "127.0.0.7:54321"},
		{host: "db.payments.internal.", want: "127.0.0.7:54321"},
		{host: "alias.payments.internal", want: "127.0.0.7:54321"}, // a chain
		{host: "zz.payments.internal", want: "127.0.0.9"},          // no port mapped: the connection's
		{host: "other.example", want: "10.0.0.1"},                  // no record: DNS
		{host: "missing.payments.internal", wantErr: "no such host missing.payments.internal"},
	} {
		got, err := r.LookupHost(context.Background(), c.host)
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: err %v, want %q", c.host, err, c.wantErr)
		case c.wantErr == "" && (err != nil || !slices.Equal(got, []string{c.want})):
			t.Errorf("%s: %v, %v; want %s", c.host, got, err, c.want)
		}
	}
	r.api = zone{err: errors.New("AccessDenied")}
	if _, err := r.LookupHost(context.Background(), "db.payments.internal"); err == nil || !strings.Contains(err.Error(), "zone Z1") {
		t.Errorf("a failed read: %v, want an error naming the zone", err)
	}
}

func TestAddrPortNamesTheFlagOnBadInput(t *testing.T) {
	for _, v := range []string{"127.0.0.1", "=5432", "127.0.0.1=0", "127.0.0.1=70000", "127.0.0.1=x"} {
		if err := (portsFlag{}).Set(v); err == nil {
			t.Errorf("-addr-port %q accepted", v)
		}
	}
	var rf route53Flags
	rf.ports = portsFlag{"127.0.0.1": 5433}
	if err := rf.apply(context.Background(), &workload.Conn{}); err == nil || !strings.Contains(err.Error(), "-addr-port") {
		t.Errorf("-addr-port without -route53-zone: %v", err)
	}
}
