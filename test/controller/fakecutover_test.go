package controller_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
)

// fakeRoute53 holds each stack's records as the stack creates them: the
// weighted api records (source 100, target 0) and the writer CNAME on the
// source database. Every change is INSYNC at once, and logged.
type fakeRoute53 struct {
	mu      sync.Mutex
	zones   map[string]map[string]r53types.ResourceRecordSet // zone -> name|type|set -> record
	healthy map[string][2]int                                // health check id -> checkers, healthy
	log     []string
	fail    map[string]int // zone -> changes to refuse
}

func newFakeRoute53() *fakeRoute53 {
	return &fakeRoute53{zones: map[string]map[string]r53types.ResourceRecordSet{}, healthy: map[string][2]int{}, fail: map[string]int{}}
}

func recordKey(name string, typ r53types.RRType, set *string) string {
	return strings.TrimSuffix(name, ".") + "|" + string(typ) + "|" + aws.ToString(set)
}

// zone returns the records of a zone "Z<stack>", created as the stack makes them.
func (f *fakeRoute53) zone(id string) map[string]r53types.ResourceRecordSet {
	z, ok := f.zones[id]
	if ok {
		return z
	}
	stack := strings.TrimPrefix(id, "Z")
	z = map[string]r53types.ResourceRecordSet{}
	for side, w := range map[string]int64{"source": 100, "target": 0} {
		rr := r53types.ResourceRecordSet{Name: aws.String("api.payments.internal."), Type: r53types.RRTypeA, SetIdentifier: aws.String(side), Weight: aws.Int64(w),
			AliasTarget: &r53types.AliasTarget{DNSName: aws.String(side + ".payments.internal."), HostedZoneId: aws.String(id), EvaluateTargetHealth: true}}
		z[recordKey(*rr.Name, rr.Type, rr.SetIdentifier)] = rr
	}
	writer := r53types.ResourceRecordSet{Name: aws.String("db.payments.internal."), Type: r53types.RRTypeCname, TTL: aws.Int64(5),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("rds-source-" + stack + ".example.internal")}}}
	z[recordKey(*writer.Name, writer.Type, nil)] = writer
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
	id := aws.ToString(in.HostedZoneId)
	if f.fail[id] > 0 {
		f.fail[id]--
		return nil, fmt.Errorf("Throttling: rate exceeded")
	}
	z := f.zone(id)
	var parts []string
	for _, c := range in.ChangeBatch.Changes {
		rr := *c.ResourceRecordSet
		z[recordKey(*rr.Name, rr.Type, rr.SetIdentifier)] = rr
		switch {
		case rr.Weight != nil:
			parts = append(parts, fmt.Sprintf("%s=%d", aws.ToString(rr.SetIdentifier), *rr.Weight))
		case len(rr.ResourceRecords) > 0:
			parts = append(parts, "writer="+aws.ToString(rr.ResourceRecords[0].Value))
		}
	}
	f.log = append(f.log, id+" "+strings.Join(parts, " "))
	journal.add(strings.TrimPrefix(id, "Z"), "routes "+strings.Join(parts, " "))
	return &route53.ChangeResourceRecordSetsOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/C1"), Status: r53types.ChangeStatusInsync}}, nil
}

func (f *fakeRoute53) GetChange(_ context.Context, in *route53.GetChangeInput, _ ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	return &route53.GetChangeOutput{ChangeInfo: &r53types.ChangeInfo{Id: in.Id, Status: r53types.ChangeStatusInsync}}, nil
}

func (f *fakeRoute53) GetHealthCheckStatus(_ context.Context, in *route53.GetHealthCheckStatusInput, _ ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.healthy[aws.ToString(in.HealthCheckId)]
	if !ok {
		h = [2]int{16, 16}
	}
	out := &route53.GetHealthCheckStatusOutput{}
	for i := 0; i < h[0]; i++ {
		status := "Success: HTTP Status Code 200, OK"
		if i >= h[1] {
			status = "Failure: HTTP Status Code 503"
		}
		out.HealthCheckObservations = append(out.HealthCheckObservations, r53types.HealthCheckObservation{
			IPAddress: aws.String(fmt.Sprintf("15.177.0.%d", i)), StatusReport: &r53types.StatusReport{Status: aws.String(status)}})
	}
	return out, nil
}

func (f *fakeRoute53) setHealth(id string, checkers, healthy int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.healthy[id] = [2]int{checkers, healthy}
}

// routes reads a stack's weights and writer value.
func (f *fakeRoute53) routes(stack string) (source, target int64, writer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	z := f.zone("Z" + stack)
	source = *z[recordKey("api.payments.internal", r53types.RRTypeA, aws.String("source"))].Weight
	target = *z[recordKey("api.payments.internal", r53types.RRTypeA, aws.String("target"))].Weight
	w := z[recordKey("db.payments.internal", r53types.RRTypeCname, nil)]
	return source, target, aws.ToString(w.ResourceRecords[0].Value)
}

type fakeAlarms struct {
	mu     sync.Mutex
	firing []string
}

func (f *fakeAlarms) FiringAlarms(_ context.Context, names []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range names {
		for _, x := range f.firing {
			if n == x {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// The cutover side of fakeSQL: per database (secret ARN) the application
// role's fence, the watermark rows, the slot; a watermark reaches the other
// side of its stack at once unless that stack's drain is stuck.
type fakeDB struct {
	fenced     bool
	watermarks map[string]bool
	slot       bool
	synced     int
	drains     int
}

func (f *fakeSQL) db(arn string) *fakeDB {
	d, ok := f.dbs[arn]
	if !ok {
		d = &fakeDB{watermarks: map[string]bool{}}
		f.dbs[arn] = d
	}
	return d
}

// peer is the other database of the same stack.
func peer(arn string) string {
	if strings.Contains(arn, ":rds-source-") {
		return strings.Replace(arn, ":rds-source-", ":rds-target-", 1)
	}
	return strings.Replace(arn, ":rds-target-", ":rds-source-", 1)
}

// logf journals an effect on a database as "<side> <what>" under its stack.
func (f *fakeSQL) logf(arn, format string, args ...any) {
	side, stack := "target", ""
	if i := strings.Index(arn, ":rds-source-"); i >= 0 {
		side, stack = "source", arn[i+len(":rds-source-"):]
	} else if i := strings.Index(arn, ":rds-target-"); i >= 0 {
		stack = arn[i+len(":rds-target-"):]
	}
	line := side + " " + fmt.Sprintf(format, args...)
	f.log = append(f.log, line)
	journal.add(stack, line)
}

func (f *fakeSQL) EnsureAppRole(_ context.Context, db sqlrunner.Database, role sqlrunner.AppRole) error {
	if role.SecretARN == "" || role.Name == "" {
		return fmt.Errorf("no app role or secret")
	}
	return nil
}

func (f *fakeSQL) EnsureWatermarkTable(context.Context, sqlrunner.Database, string) error { return nil }

func (f *fakeSQL) FenceState(_ context.Context, db sqlrunner.Database, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db(db.SecretARN).fenced, nil
}

func (f *fakeSQL) SetFence(_ context.Context, db sqlrunner.Database, _ string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db(db.SecretARN).fenced = on
	f.logf(db.SecretARN, "fence=%t", on)
	return nil
}

func (f *fakeSQL) ConfirmFence(_ context.Context, db sqlrunner.Database, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db(db.SecretARN).fenced, nil
}

func (f *fakeSQL) DrainSessions(_ context.Context, db sqlrunner.Database, _ string, _ time.Duration) (sqlrunner.DrainResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db(db.SecretARN).drains++
	f.logf(db.SecretARN, "drain")
	return sqlrunner.DrainResult{SessionsTerminated: 2}, nil
}

func (f *fakeSQL) WriteWatermark(_ context.Context, db sqlrunner.Database, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db(db.SecretARN).watermarks[id] = true
	if !f.stuck[peer(db.SecretARN)] {
		f.db(peer(db.SecretARN)).watermarks[id] = true
	}
	f.logf(db.SecretARN, "watermark %s", id)
	return nil
}

func (f *fakeSQL) WaitWatermark(_ context.Context, db sqlrunner.Database, _, id string, timeout time.Duration) (bool, error) {
	f.mu.Lock()
	found := f.db(db.SecretARN).watermarks[id]
	f.mu.Unlock()
	if !found {
		time.Sleep(min(timeout, 50*time.Millisecond))
	}
	return found, nil
}

func (f *fakeSQL) SyncSequences(_ context.Context, from, to sqlrunner.Database, _ string, _ int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db(to.SecretARN).synced++
	f.logf(to.SecretARN, "sequences from %s", from.Side)
	return 3, nil
}

func (f *fakeSQL) CreateSlot(_ context.Context, db sqlrunner.Database, name, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db(db.SecretARN).slot = true
	f.logf(db.SecretARN, "slot %s", name)
	return "0/16B3748", nil
}

// MarkFlipPoint returns a position that grows with every watermark the
// database took, so a flip point from an earlier drain shows as older.
func (f *fakeSQL) MarkFlipPoint(_ context.Context, db sqlrunner.Database, name, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.db(db.SecretARN)
	if !d.slot {
		d.slot = true
		f.logf(db.SecretARN, "slot %s", name)
	}
	f.logf(db.SecretARN, "flip point")
	return fmt.Sprintf("0/%X", 0x16B3748+len(d.watermarks)), nil
}

func (f *fakeSQL) DropSlot(_ context.Context, db sqlrunner.Database, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db(db.SecretARN).slot = false
	return nil
}

func (f *fakeSQL) SlotExists(_ context.Context, db sqlrunner.Database, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db(db.SecretARN).slot, nil
}

// ReplicationSettings: room for the reverse slot and task, unless a test
// set a database's settings.
func (f *fakeSQL) ReplicationSettings(_ context.Context, db sqlrunner.Database) (pgcatalog.Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.settings[db.SecretARN]; ok {
		return s, nil
	}
	return sourceCatalog().Settings, nil
}

func (f *fakeSQL) LongestWriteTransaction(context.Context, sqlrunner.Database) (time.Duration, error) {
	return 0, nil
}

// LogicalSlots shows the DMS task's slot on a source, read from while the
// task runs.
func (f *fakeSQL) LogicalSlots(_ context.Context, db sqlrunner.Database) ([]sqlrunner.Slot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.slots[db.SecretARN]; ok {
		return s, nil
	}
	return []sqlrunner.Slot{{Name: "dms_slot", Active: true, WALStatus: "reserved", RetainedBytes: 1 << 20}}, nil
}

func (f *fakeSQL) setStuck(arn string, stuck bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stuck[arn] = stuck
}

func (f *fakeSQL) state(arn string) fakeDB {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.db(arn)
}

// journal orders every effect of the cutover fakes (databases, Route 53,
// DMS starts) per stack, so a test can check what happened before what.
var journal = &effects{byStack: map[string][]string{}}

type effects struct {
	mu      sync.Mutex
	byStack map[string][]string
}

func (e *effects) add(stack, line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byStack[stack] = append(e.byStack[stack], line)
}

func (e *effects) of(stack string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.byStack[stack]...)
}
