package controller_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"time"
)

// fakeCloud is a scripted CloudFormation + DMS + S3 for one suite. A stack
// operation completes on the next Observe, so the reconciler sees every status
// it would see in AWS, only faster. Scripted failures make the next create or
// update roll back with a named resource.
type fakeCloud struct {
	mu      sync.Mutex
	stacks  map[string]*fakeStack
	next    int
	calls   map[string]int
	tokens  []string
	emptied []string
	// versions left per bucket (3 when unset) and the batch sizes deleted
	versions map[string]int
	batches  map[string][]int
	// hang makes Observe of a stack block until its context ends; hungFor
	// records how much of the deadline was left when it did (about 0).
	hang    map[string]bool
	hungFor []time.Duration
	// bucketErr makes emptying one bucket fail
	bucketErr map[string]error
	tasks     map[string]string // task ARN -> DMS status
	failures  map[string]*scripted
	// emptyErr makes emptying buckets fail (a deletion that cannot proceed).
	emptyErr error
	// observeErr makes Observe fail (AWS unreachable).
	observeErr error
	// holdUpdate keeps a stack UPDATE_IN_PROGRESS until cleared.
	holdUpdate map[string]bool
	// planned are the resource changes the change sets of a stack report.
	planned map[string][]cfnstack.ResourceChange
	dms     *fakeDMS
	sql     *fakeSQL
	route53 *fakeRoute53
	alarms  *fakeAlarms
}

type fakeStack struct {
	name, id, status, hash string
	outputs                map[string]string
	failedResource, reason string
	changeSet              string
	tags                   map[string]string
	parameters             map[string]string // as created or last updated
}

type scripted struct {
	onCreate, onUpdate bool
	times              int // -1: always
	resource, reason   string
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{stacks: map[string]*fakeStack{}, calls: map[string]int{}, tasks: map[string]string{}, failures: map[string]*scripted{}, dms: newFakeDMS(), sql: newFakeSQL(), route53: newFakeRoute53(), alarms: &fakeAlarms{},
		versions: map[string]int{}, batches: map[string][]int{}, bucketErr: map[string]error{}, hang: map[string]bool{}, holdUpdate: map[string]bool{}}
}

func (f *fakeCloud) factory() controllers.AWSFactory {
	return func(_ context.Context, region string) (controllers.AWSClients, error) {
		return controllers.AWSClients{Stacks: fakeStacks{f}, Tasks: fakeTasks{f}, Buckets: fakeBuckets{f}, Replication: f.dms, SQL: f.sql,
			PrefixLists: prefixLists.of(region), Route53: f.route53, Alarms: f.alarms, Source: sources}, nil
	}
}

// creations counts the CreateStack calls of a migration (its tokens).
func (f *fakeCloud) creations(uid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.tokens {
		if strings.HasPrefix(t, "tapstack-"+uid+"-") {
			n++
		}
	}
	return n
}

func (f *fakeCloud) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeCloud) stack(name string) (fakeStack, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.stacks[name]
	if !ok {
		return fakeStack{}, false
	}
	return *s, true
}

func (f *fakeCloud) script(stack string, s *scripted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[stack] = s
}

func (f *fakeCloud) setEmptyErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emptyErr = err
}

func (f *fakeCloud) setObserveErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observeErr = err
}

func (f *fakeCloud) emptiedBuckets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.emptied...)
}

// fail consumes one scripted failure of the given kind.
func (f *fakeCloud) fail(stack string, update bool) *scripted {
	s := f.failures[stack]
	if s == nil || s.times == 0 || (update && !s.onUpdate) || (!update && !s.onCreate) {
		return nil
	}
	if s.times > 0 {
		s.times--
	}
	return s
}

type fakeStacks struct{ f *fakeCloud }

func (s fakeStacks) Observe(ctx context.Context, name string) (cfnstack.Observation, error) {
	f := s.f
	f.mu.Lock()
	if f.hang[name] {
		// AWS never answers: only the reconcile's deadline ends the call.
		f.calls["Observe "+name]++
		f.mu.Unlock()
		deadline, _ := ctx.Deadline()
		<-ctx.Done()
		f.mu.Lock()
		f.hungFor = append(f.hungFor, time.Until(deadline))
		f.mu.Unlock()
		return cfnstack.Observation{}, ctx.Err()
	}
	defer f.mu.Unlock()
	f.calls["Observe"]++
	if f.observeErr != nil {
		return cfnstack.Observation{}, f.observeErr
	}
	st, ok := f.stacks[name]
	if !ok {
		return cfnstack.Observation{}, nil
	}
	switch st.status {
	case "CREATE_IN_PROGRESS":
		if fl := f.fail(name, false); fl != nil {
			st.status, st.failedResource, st.reason = "ROLLBACK_COMPLETE", fl.resource, fl.reason
		} else {
			st.status, st.outputs = "CREATE_COMPLETE", withSourceParameters(outputsOf(name), st.parameters)
		}
	case "UPDATE_IN_PROGRESS":
		if f.holdUpdate[name] {
			break
		}
		if fl := f.fail(name, true); fl != nil {
			st.status, st.failedResource, st.reason = "UPDATE_ROLLBACK_COMPLETE", fl.resource, fl.reason
		} else {
			st.status, st.failedResource, st.reason = "UPDATE_COMPLETE", "", ""
		}
	case "DELETE_IN_PROGRESS":
		delete(f.stacks, name)
		return cfnstack.Observation{}, nil
	}
	return cfnstack.Observation{Exists: true, ID: st.id, Status: st.status, FailedResource: st.failedResource,
		FailedReason: st.reason, Outputs: copyMap(st.outputs), Tags: copyMap(st.tags)}, nil
}

func (s fakeStacks) Create(_ context.Context, d cfnstack.Desired) error {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Create"]++
	if _, ok := f.stacks[d.Name]; ok {
		return fmt.Errorf("AlreadyExistsException: stack %s already exists", d.Name)
	}
	f.next++
	f.tokens = append(f.tokens, d.Token)
	f.stacks[d.Name] = &fakeStack{name: d.Name, id: fmt.Sprintf("arn:aws:cloudformation:us-east-1:123456789012:stack/%s/%d", d.Name, f.next),
		status: "CREATE_IN_PROGRESS", hash: d.Hash, tags: copyMap(d.Tags), parameters: copyMap(d.Parameters)}
	return nil
}

// Adopt retags the stack, as an update with the previous template does.
func (s fakeStacks) Adopt(_ context.Context, id string, tags map[string]string) error {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Adopt"]++
	st := f.byID(id)
	if st == nil {
		return errors.New("stack not found")
	}
	st.tags = copyMap(tags)
	return nil
}

// putStack puts a stack in the fake account as another tool (or another
// migration) would have made it.
func (f *fakeCloud) putStack(name string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.stacks[name] = &fakeStack{name: name, id: fmt.Sprintf("arn:aws:cloudformation:us-east-1:123456789012:stack/%s/%d", name, f.next),
		status: "CREATE_COMPLETE", hash: "sha256:theirs", outputs: outputsOf(name), tags: copyMap(tags)}
}

func (s fakeStacks) Update(_ context.Context, id string, d cfnstack.Desired) (cfnstack.UpdateResult, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Update"]++
	st := f.byID(id)
	if st == nil {
		return "", errors.New("stack not found")
	}
	if st.changeSet != d.Hash { // first call creates the change set
		st.changeSet = d.Hash
		return cfnstack.UpdatePending, nil
	}
	st.changeSet = ""
	if st.hash == d.Hash {
		return cfnstack.UpdateNoChanges, nil
	}
	if reason := d.Guard; reason != nil {
		if msg := reason(f.planned[st.name]); msg != "" {
			f.calls["DeleteChangeSet"]++
			return "", &cfnstack.RefusedError{ChangeSet: cfnstack.ChangeSetName(d.Hash), Reason: msg}
		}
	}
	f.calls["ExecuteChangeSet"]++
	st.status, st.hash = "UPDATE_IN_PROGRESS", d.Hash
	st.parameters = copyMap(d.Parameters)
	return cfnstack.UpdateStarted, nil
}

func (s fakeStacks) Delete(_ context.Context, id string) error {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Delete"]++
	if st := f.byID(id); st != nil {
		st.status = "DELETE_IN_PROGRESS"
	}
	return nil
}

// plan sets the resource changes that the change sets of a stack report.
func (f *fakeCloud) plan(stack string, changes ...cfnstack.ResourceChange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.planned == nil {
		f.planned = map[string][]cfnstack.ResourceChange{}
	}
	f.planned[stack] = changes
}

func (f *fakeCloud) byID(id string) *fakeStack {
	for _, st := range f.stacks {
		if st.id == id {
			return st
		}
	}
	return nil
}

type fakeTasks struct{ f *fakeCloud }

func (t fakeTasks) StopIfRunning(_ context.Context, arn string) (bool, error) {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.tasks[arn] {
	case "running":
		f.calls["StopReplicationTask"]++
		f.tasks[arn] = "stopping"
		return false, nil
	case "stopping":
		f.tasks[arn] = "stopped"
		return false, nil
	}
	return true, nil
}

type fakeBuckets struct{ f *fakeCloud }

// EmptySome deletes like S3 listings do: it reports empty only once a listing
// found nothing, so a batch that takes exactly what was left is not "empty".
func (b fakeBuckets) EmptySome(_ context.Context, bucket string, limit int) (int, bool, error) {
	f := b.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.emptyErr != nil {
		return 0, false, f.emptyErr
	}
	if err := f.bucketErr[bucket]; err != nil {
		return 0, false, err
	}
	left, ok := f.versions[bucket]
	if !ok {
		left = 3
	}
	n := min(left, limit)
	f.versions[bucket] = left - n
	f.batches[bucket] = append(f.batches[bucket], n)
	empty := left-n == 0 && n < limit
	if empty {
		f.emptied = append(f.emptied, bucket)
	}
	return n, empty, nil
}

func outputsOf(stack string) map[string]string {
	return map[string]string{
		"DMSTaskArn": "arn:aws:dms:us-east-1:123456789012:task:" + stack,
		// Each stack's own endpoints and instance: the fake DMS keeps
		// their connection tests apart.
		"DMSReplicationInstanceArn": "arn:aws:dms:us-east-1:123456789012:rep:" + stack,
		"DMSSourceEndpointArn":      "arn:aws:dms:us-east-1:123456789012:endpoint:source-" + stack,
		"DMSTargetEndpointArn":      "arn:aws:dms:us-east-1:123456789012:endpoint:target-" + stack,
		"SourceBucketName":          "payments-source-" + stack,
		"TargetBucketName":          "payments-target-" + stack,
		"VpcId":                     "vpc-0123",
		"SourceDbSecretArn":         "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-source-" + stack,
		"TargetDbSecretArn":         "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-target-" + stack,
		"AppDbSecretArn":            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-" + stack,
		"ReverseDMSTaskArn":         "arn:aws:dms:us-east-1:123456789012:task:reverse-" + stack,
		"HostedZoneId":              "Z" + stack,
		"HealthCheckId":             "hc-" + stack,
		"WeightedRecordName":        "api.payments.internal.",
		"WriterRecordName":          "db.payments.internal.",
		"SourceDbEndpoint":          "rds-source-" + stack + ".example.internal",
		"TargetDbEndpoint":          "rds-target-" + stack + ".example.internal",
	}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
