package iampolicy

import "fmt"

// Any stands for a partition, region or account the policy does not pin.
const Any = "*"

// Scope is where a policy applies. An empty field means any (Any): the
// policy then fits every account and region, as a wildcard in the ARNs.
type Scope struct {
	Partition string // aws, aws-cn, aws-us-gov...
	Region    string
	Account   string
}

func (s Scope) partition() string { return orAny(s.Partition) }
func (s Scope) region() string    { return orAny(s.Region) }
func (s Scope) account() string   { return orAny(s.Account) }

func orAny(v string) string {
	if v == "" {
		return Any
	}
	return v
}

// regional is the ARN of a resource of a regional service.
func (s Scope) regional(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", s.partition(), service, s.region(), s.account(), resource)
}

// global is the ARN of a resource whose ARN names neither region nor account
// (S3 buckets, Route 53 zones, changes and health checks).
func (s Scope) global(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:::%s", s.partition(), service, resource)
}

// iamRole is the ARN of a role of the account.
func (s Scope) iamRole(name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", s.partition(), s.account(), name)
}
