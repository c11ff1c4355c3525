package prefixlists

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// fakeEC2 serves the named lists (pages of one) and records the filters asked.
type fakeEC2 struct {
	lists   []ec2types.ManagedPrefixList
	err     error
	calls   int
	filters [][]ec2types.Filter
}

func (f *fakeEC2) DescribeManagedPrefixLists(_ context.Context, in *ec2.DescribeManagedPrefixListsInput, _ ...func(*ec2.Options)) (*ec2.DescribeManagedPrefixListsOutput, error) {
	f.calls++
	f.filters = append(f.filters, in.Filters)
	if f.err != nil {
		return nil, f.err
	}
	var match []ec2types.ManagedPrefixList
	for _, pl := range f.lists {
		for _, flt := range in.Filters {
			if aws.ToString(flt.Name) == "prefix-list-name" && len(flt.Values) == 1 && flt.Values[0] == aws.ToString(pl.PrefixListName) {
				match = append(match, pl)
			}
		}
	}
	i := 0
	if in.NextToken != nil {
		i = int(aws.ToString(in.NextToken)[0] - '0')
	}
	out := &ec2.DescribeManagedPrefixListsOutput{}
	if i < len(match) {
		out.PrefixLists = match[i : i+1]
		if i+1 < len(match) {
			out.NextToken = aws.String(string(rune('0' + i + 1)))
		}
	}
	return out, nil
}

func list(id, name, owner string) ec2types.ManagedPrefixList {
	return ec2types.ManagedPrefixList{PrefixListId: aws.String(id), PrefixListName: aws.String(name), OwnerId: aws.String(owner)}
}

func TestRoute53HealthChecksFindsTheAWSManagedListOfTheRegionOnce(t *testing.T) {
	const name = "com.amazonaws.eu-west-1.route53-healthchecks"
	api := &fakeEC2{lists: []ec2types.ManagedPrefixList{
		list("pl-0aaa", "com.amazonaws.eu-west-1.s3", "AWS"),
		list("pl-0bad", name, "123456789012"), // a look-alike in the account comes first
		list("pl-0e1f2", name, "AWS"),
	}}
	r := &Resolver{API: api, Region: "eu-west-1"}
	for range 3 {
		id, err := r.Route53HealthChecks(context.Background())
		if err != nil || id != "pl-0e1f2" {
			t.Fatalf("id %q, err %v; want pl-0e1f2", id, err)
		}
	}
	if api.calls != 2 { // two pages, then remembered
		t.Errorf("%d DescribeManagedPrefixLists calls, want 2 (one lookup of two pages)", api.calls)
	}
	f := api.filters[0]
	if len(f) != 1 || aws.ToString(f[0].Name) != "prefix-list-name" || len(f[0].Values) != 1 || f[0].Values[0] != name {
		t.Errorf("filters %+v, want prefix-list-name = %s", f, name)
	}
}

func TestAMissingListIsNamedAndAskedForAgain(t *testing.T) {
	api := &fakeEC2{lists: []ec2types.ManagedPrefixList{list("pl-0aaa", "com.amazonaws.ap-east-2.s3", "AWS")}}
	r := &Resolver{API: api, Region: "ap-east-2"}
	_, err := r.Route53HealthChecks(context.Background())
	if !IsNotFound(err) || !strings.Contains(err.Error(), "com.amazonaws.ap-east-2.route53-healthchecks") || !strings.Contains(err.Error(), "ap-east-2") {
		t.Fatalf("err %v, want a NotFoundError naming the list and the region", err)
	}
	api.lists = append(api.lists, list("pl-0123", "com.amazonaws.ap-east-2.route53-healthchecks", "AWS"))
	if id, err := r.Route53HealthChecks(context.Background()); err != nil || id != "pl-0123" {
		t.Errorf("after the list appeared: id %q, err %v", id, err)
	}
}

func TestALookupErrorIsNotNotFound(t *testing.T) {
	r := &Resolver{API: &fakeEC2{err: errors.New("UnauthorizedOperation")}, Region: "eu-west-1"}
	_, err := r.Route53HealthChecks(context.Background())
	if err == nil || IsNotFound(err) || !strings.Contains(err.Error(), "UnauthorizedOperation") || !strings.Contains(err.Error(), "route53-healthchecks") {
		t.Errorf("err %v, want the EC2 error, not NotFound", err)
	}
}
