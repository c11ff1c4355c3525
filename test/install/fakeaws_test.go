package install_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
)

// fakeCloud is an AWS account in which everything succeeds at once: a stack
// operation completes on the next Observe, DMS transitions on the next read,
// every gate passes. It exists to walk one migration through every phase of
// the reconciler, whose Kubernetes API requests are what this suite records;
// the AWS side's own behaviour is test/controller's subject.
type fakeCloud struct {
	mu     sync.Mutex
	stacks map[string]*fakeStack
	next   int
	dms    *fakeDMS
	sql    *fakeSQL
	r53    *fakeRoute53
}

type fakeStack struct {
	id, status, hash, changeSet string
	tags                        map[string]string
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{stacks: map[string]*fakeStack{}, dms: newFakeDMS(), sql: newFakeSQL(), r53: newFakeRoute53()}
}

func (f *fakeCloud) factory() controllers.AWSFactory {
	return func(context.Context, string) (controllers.AWSClients, error) {
		return controllers.AWSClients{Stacks: fakeStacks{f}, Tasks: f.dms, Buckets: fakeBuckets{}, Replication: f.dms, SQL: f.sql,
			PrefixLists: fakePrefixLists{}, Route53: f.r53, Alarms: fakeAlarms{}}, nil
	}
}

// outputsOf are the stack outputs the reconciler reads, named after the stack.
func outputsOf(stack string) map[string]string {
	return map[string]string{
		"DMSTaskArn":         "arn:aws:dms:us-east-1:123456789012:task:" + stack,
		"ReverseDMSTaskArn":  "arn:aws:dms:us-east-1:123456789012:task:reverse-" + stack,
		"SourceBucketName":   "payments-source-" + stack,
		"TargetBucketName":   "payments-target-" + stack,
		"VpcId":              "vpc-0123",
		"SourceDbSecretArn":  "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-source-" + stack,
		"TargetDbSecretArn":  "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-target-" + stack,
		"AppDbSecretArn":     "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-" + stack,
		"HostedZoneId":       "Z" + stack,
		"HealthCheckId":      "hc-" + stack,
		"WeightedRecordName": "api.payments.internal.",
		"WriterRecordName":   "db.payments.internal.",
		"SourceDbEndpoint":   "rds-source-" + stack + ".example.internal",
		"TargetDbEndpoint":   "rds-target-" + stack + ".example.internal",
	}
}

type fakeStacks struct{ f *fakeCloud }

func (s fakeStacks) Observe(_ context.Context, name string) (cfnstack.Observation, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	st, ok := s.f.stacks[name]
	if !ok {
		return cfnstack.Observation{}, nil
	}
	switch st.status {
	case "CREATE_IN_PROGRESS":
		st.status = "CREATE_COMPLETE"
	case "UPDATE_IN_PROGRESS":
		st.status = "UPDATE_COMPLETE"
	case "DELETE_IN_PROGRESS":
		delete(s.f.stacks, name)
		return cfnstack.Observation{}, nil
	}
	return cfnstack.Observation{Exists: true, ID: st.id, Status: st.status, Outputs: outputsOf(name), Tags: st.tags, TerminationProtection: true}, nil
}

func (s fakeStacks) Create(_ context.Context, d cfnstack.Desired) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.stacks[d.Name]; ok {
		return fmt.Errorf("AlreadyExistsException: stack %s already exists", d.Name)
	}
	s.f.next++
	s.f.stacks[d.Name] = &fakeStack{id: fmt.Sprintf("arn:aws:cloudformation:us-east-1:123456789012:stack/%s/%d", d.Name, s.f.next),
		status: "CREATE_IN_PROGRESS", hash: d.Hash, tags: d.Tags}
	return nil
}

// Update computes the change set on the first call and executes it on the
// next, as CloudFormation's change sets take a while to be ready.
func (s fakeStacks) Update(_ context.Context, id string, d cfnstack.Desired) (cfnstack.UpdateResult, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	st := s.f.byID(id)
	if st == nil {
		return "", fmt.Errorf("stack %s does not exist", id)
	}
	if st.changeSet != d.Hash {
		st.changeSet = d.Hash
		return cfnstack.UpdatePending, nil
	}
	st.changeSet = ""
	if st.hash == d.Hash {
		return cfnstack.UpdateNoChanges, nil
	}
	st.status, st.hash = "UPDATE_IN_PROGRESS", d.Hash
	return cfnstack.UpdateStarted, nil
}

func (s fakeStacks) Delete(_ context.Context, id string) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if st := s.f.byID(id); st != nil {
		st.status = "DELETE_IN_PROGRESS"
	}
	return nil
}

func (s fakeStacks) Adopt(_ context.Context, id string, tags map[string]string) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if st := s.f.byID(id); st != nil {
		st.tags = tags
		return nil
	}
	return fmt.Errorf("stack %s does not exist", id)
}

func (f *fakeCloud) byID(id string) *fakeStack {
	for _, st := range f.stacks {
		if st.id == id {
			return st
		}
	}
	return nil
}

// fakeBuckets holds no objects: every bucket is empty at the first listing.
type fakeBuckets struct{}

func (fakeBuckets) EmptySome(context.Context, string, int) (int, bool, error) { return 0, true, nil }

type fakePrefixLists struct{}

func (fakePrefixLists) Route53HealthChecks(context.Context) (string, error) {
	return "pl-0route53healthchecks", nil
}

// fakeAlarms has none of the stack's alarms firing.
type fakeAlarms struct{}

func (fakeAlarms) FiringAlarms(context.Context, []string) ([]string, error) { return nil, nil }
