// Package prefixlists finds the AWS-managed prefix lists the TapStack's
// security groups admit traffic from, by name, through EC2's
// DescribeManagedPrefixLists. An AWS-managed list keeps its id for the life of
// the region, so an id once found is remembered; a missing list is asked for
// again on the next call.
package prefixlists

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// API is the part of the EC2 client this package uses.
type API interface {
	DescribeManagedPrefixLists(context.Context, *ec2.DescribeManagedPrefixListsInput, ...func(*ec2.Options)) (*ec2.DescribeManagedPrefixListsOutput, error)
}

// NotFoundError says the region has no prefix list of that name (or not one
// owned by AWS).
type NotFoundError struct {
	Name, Region string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("AWS-managed prefix list %s not found in %s", e.Name, e.Region)
}

// IsNotFound reports whether err is a NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// Resolver looks prefix lists up in one region. Each call is bounded by the
// SDK client's middleware (awscfg.CallTimeout).
type Resolver struct {
	API    API
	Region string

	mu  sync.Mutex
	ids map[string]string // name -> id, found ones only
}

// Route53HealthChecks is the id of com.amazonaws.<region>.route53-healthchecks,
// the addresses of the Route 53 health checkers.
func (r *Resolver) Route53HealthChecks(ctx context.Context) (string, error) {
	return r.ID(ctx, tapstack.Route53HealthChecksPrefixList(r.Region))
}

// ID is the id of the AWS-managed prefix list called name.
func (r *Resolver) ID(ctx context.Context, name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.ids[name]; ok {
		return id, nil
	}
	pages := ec2.NewDescribeManagedPrefixListsPaginator(r.API, &ec2.DescribeManagedPrefixListsInput{
		Filters: []ec2types.Filter{{Name: aws.String("prefix-list-name"), Values: []string{name}}},
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("looking up prefix list %s in %s: %w", name, r.Region, err)
		}
		for _, pl := range out.PrefixLists {
			// Only AWS's own list: one of the same name in the account is
			// someone's list, not the health checkers' addresses.
			if aws.ToString(pl.PrefixListName) != name || aws.ToString(pl.OwnerId) != "AWS" || aws.ToString(pl.PrefixListId) == "" {
				continue
			}
			if r.ids == nil {
				r.ids = map[string]string{}
			}
			r.ids[name] = aws.ToString(pl.PrefixListId)
			return r.ids[name], nil
		}
	}
	return "", &NotFoundError{Name: name, Region: r.Region}
}
