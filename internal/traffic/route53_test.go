package traffic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

const (
	zoneID       = "Z0PAYMENTS"
	weightedName = "api.payments.internal."
	writerName   = "db.payments.internal."
	sourceDB     = "rds-source-x.abc.us-east-1.rds.amazonaws.com"
	targetDB     = "rds-target-x.abc.us-east-1.rds.amazonaws.com"
)

// zone is the stack's zone as Route 53 lists it: names lower case with the
// trailing dot, weighted aliases with everything the stack set on them.
func zone() *fakeRoute53 {
	weighted := func(side string, weight int64) types.ResourceRecordSet {
		return types.ResourceRecordSet{
			Name: aws.String(weightedName), Type: types.RRTypeA, SetIdentifier: aws.String(side), Weight: aws.Int64(weight),
			AliasTarget:   &types.AliasTarget{DNSName: aws.String(side + ".payments.internal."), HostedZoneId: aws.String(zoneID), EvaluateTargetHealth: true},
			HealthCheckId: aws.String("hc-" + side),
		}
	}
	return &fakeRoute53{records: []types.ResourceRecordSet{
		{Name: aws.String("payments.internal."), Type: types.RRTypeNs, TTL: aws.Int64(172800), ResourceRecords: []types.ResourceRecord{{Value: aws.String("ns-1.awsdns-00.com.")}}},
		weighted("source", 100),
		weighted("target", 0),
		{Name: aws.String(writerName), Type: types.RRTypeCname, TTL: aws.Int64(5), ResourceRecords: []types.ResourceRecord{{Value: aws.String(sourceDB)}}},
		{Name: aws.String("source.payments.internal."), Type: types.RRTypeA, AliasTarget: &types.AliasTarget{DNSName: aws.String("alb.example.")}},
	}, pageSize: 1}
}

func router(api Route53API) *Route53 {
	return &Route53{
		API: api, ZoneID: zoneID, WeightedName: weightedName, WriterName: writerName, WriterTTL: 5,
		WriterTargets: map[naming.Side]string{naming.Source: sourceDB, naming.Target: targetDB},
		PollInterval:  time.Millisecond,
	}
}

func TestGetRoutesReadsWeightsAndWriter(t *testing.T) {
	f := zone()
	got, err := router(f).GetRoutes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (Routes{SourceWeight: 100, TargetWeight: 0, Writer: naming.Source}); got != want {
		t.Errorf("GetRoutes = %v, want %v", got, want)
	}
	for i, ok := range f.deadlines {
		if !ok {
			t.Errorf("call %d had no deadline of its own", i)
		}
	}
}

func TestGetRoutesIgnoresCaseAndTrailingDot(t *testing.T) {
	f := zone()
	f.records[3].ResourceRecords = []types.ResourceRecord{{Value: aws.String(strings.ToUpper(targetDB) + ".")}}
	r := router(f)
	r.WeightedName, r.WriterName = "API.payments.internal", "db.Payments.Internal"
	got, err := r.GetRoutes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Writer != naming.Target {
		t.Errorf("writer = %q, want target", got.Writer)
	}
}

func TestGetRoutesRefusesAWriterMatchingNeitherSide(t *testing.T) {
	f := zone()
	f.records[3].ResourceRecords = []types.ResourceRecord{{Value: aws.String("rds-old.abc.us-east-1.rds.amazonaws.com")}}
	_, err := router(f).GetRoutes(context.Background())
	if !errors.Is(err, ErrUnknownWriter) || !strings.Contains(err.Error(), `"rds-old.abc.us-east-1.rds.amazonaws.com"`) {
		t.Errorf("err = %v, want ErrUnknownWriter naming the value", err)
	}
}

func TestSetRoutesSendsOneBatchAndKeepsEveryOtherField(t *testing.T) {
	f := zone()
	f.statuses = []types.ChangeStatus{types.ChangeStatusPending, types.ChangeStatusPending, types.ChangeStatusInsync}
	want := Routes{SourceWeight: 0, TargetWeight: 100, Writer: naming.Target}
	if err := router(f).SetRoutes(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if len(f.batches) != 1 {
		t.Fatalf("%d change batches, want exactly one", len(f.batches))
	}
	changes := f.batches[0].Changes
	if len(changes) != 3 {
		t.Fatalf("%d changes, want both weights and the writer", len(changes))
	}
	for _, c := range changes {
		if c.Action != types.ChangeActionUpsert {
			t.Errorf("action %s, want UPSERT", c.Action)
		}
	}
	for _, side := range []string{"source", "target"} {
		rec := f.record(weightedName, types.RRTypeA, side)
		if rec.AliasTarget == nil || aws.ToString(rec.AliasTarget.DNSName) != side+".payments.internal." ||
			aws.ToString(rec.AliasTarget.HostedZoneId) != zoneID || !rec.AliasTarget.EvaluateTargetHealth ||
			aws.ToString(rec.HealthCheckId) != "hc-"+side {
			t.Errorf("%s record after the change = %+v, want alias target and health check kept", side, rec)
		}
	}
	writer := f.record(writerName, types.RRTypeCname, "")
	if aws.ToInt64(writer.TTL) != 5 || len(writer.ResourceRecords) != 1 || aws.ToString(writer.ResourceRecords[0].Value) != targetDB {
		t.Errorf("writer after the change = %+v, want %s with TTL 5", writer, targetDB)
	}
	if f.getChanges != 3 {
		t.Errorf("%d GetChange calls, want 3 (PENDING, PENDING, INSYNC)", f.getChanges)
	}
	got, err := router(f).GetRoutes(context.Background())
	if err != nil || got != want {
		t.Errorf("GetRoutes after SetRoutes = %v, %v; want %v", got, err, want)
	}
}

func TestSetRoutesSendsOnlyWhatDiffers(t *testing.T) {
	f := zone()
	if err := router(f).SetRoutes(context.Background(), Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}); err != nil {
		t.Fatal(err)
	}
	if len(f.batches) != 1 || len(f.batches[0].Changes) != 2 {
		t.Fatalf("batches = %+v, want one with the two weights", f.batches)
	}
	for _, c := range f.batches[0].Changes {
		if c.ResourceRecordSet.Type != types.RRTypeA {
			t.Errorf("change of %s %s: the writer already points at the source", aws.ToString(c.ResourceRecordSet.Name), c.ResourceRecordSet.Type)
		}
	}

	// A TTL that drifted is set back, though the value is right.
	f.records[3].TTL = aws.Int64(300)
	if err := router(f).SetRoutes(context.Background(), Routes{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}); err != nil {
		t.Fatal(err)
	}
	if len(f.batches) != 2 || len(f.batches[1].Changes) != 1 || aws.ToInt64(f.batches[1].Changes[0].ResourceRecordSet.TTL) != 5 {
		t.Fatalf("batches = %+v, want a second with the writer's TTL only", f.batches)
	}
}

func TestSetRoutesIsIdempotent(t *testing.T) {
	f := zone()
	f.changeErr = errors.New("must not be called")
	f.getChangeErr = errors.New("must not be called")
	if err := router(f).SetRoutes(context.Background(), Routes{SourceWeight: 100, TargetWeight: 0, Writer: naming.Source}); err != nil {
		t.Fatal(err)
	}
	if len(f.batches) != 0 || f.getChanges != 0 {
		t.Errorf("%d batches and %d GetChange calls for routes already in place, want none", len(f.batches), f.getChanges)
	}
}

func TestSetRoutesReturnsAtOnceWhenTheChangeIsInsync(t *testing.T) {
	f := zone()
	f.changeStatus = types.ChangeStatusInsync
	if err := router(f).SetRoutes(context.Background(), Routes{SourceWeight: 50, TargetWeight: 50, Writer: naming.Source}); err != nil {
		t.Fatal(err)
	}
	if f.getChanges != 0 {
		t.Errorf("%d GetChange calls for a change already INSYNC", f.getChanges)
	}
}

func TestSetRoutesWaitIsBoundedByTheContext(t *testing.T) {
	f := zone()
	f.statuses = []types.ChangeStatus{types.ChangeStatusPending}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := router(f).SetRoutes(ctx, Routes{SourceWeight: 0, TargetWeight: 100, Writer: naming.Target})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "/change/C1") || !strings.Contains(err.Error(), "PENDING") {
		t.Errorf("err = %v, want the deadline, naming the change still PENDING", err)
	}
	if f.getChanges == 0 {
		t.Error("GetChange was never called")
	}
}

func TestSetRoutesRefusesInvalidRoutes(t *testing.T) {
	for _, r := range []Routes{
		{SourceWeight: 0, TargetWeight: 0, Writer: naming.Source},
		{SourceWeight: 256, TargetWeight: 0, Writer: naming.Source},
		{SourceWeight: 100, TargetWeight: -1, Writer: naming.Source},
		{SourceWeight: 100, TargetWeight: 0, Writer: ""},
		{SourceWeight: 100, TargetWeight: 0, Writer: "both"},
	} {
		f := zone()
		err := router(f).SetRoutes(context.Background(), r)
		if !errors.Is(err, ErrInvalidRoutes) {
			t.Errorf("SetRoutes(%v) = %v, want ErrInvalidRoutes", r, err)
		}
		if f.lists != 0 || len(f.batches) != 0 {
			t.Errorf("SetRoutes(%v) called Route 53", r)
		}
	}
	err := Routes{Writer: naming.Target}.Validate()
	if err == nil || !strings.Contains(err.Error(), "weight 0 on both sides") {
		t.Errorf("0/0: %v", err)
	}
}

func TestMissingRecordsAreNamed(t *testing.T) {
	for _, tc := range []struct {
		drop string
		want string
	}{
		{"api.payments.internal|A|target", `api.payments.internal. with set identifier "target"`},
		{"api.payments.internal|A|source", `api.payments.internal. with set identifier "source"`},
		{"db.payments.internal|CNAME|", "writer CNAME record db.payments.internal."},
	} {
		f := zone()
		kept := f.records[:0]
		for _, r := range f.records {
			if key(r) != tc.drop {
				kept = append(kept, r)
			}
		}
		f.records = kept
		for name, call := range map[string]func() error{
			"GetRoutes": func() error { _, err := router(f).GetRoutes(context.Background()); return err },
			"SetRoutes": func() error {
				return router(f).SetRoutes(context.Background(), Routes{SourceWeight: 0, TargetWeight: 100, Writer: naming.Target})
			},
		} {
			err := call()
			if !errors.Is(err, ErrRecordNotFound) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), zoneID) {
				t.Errorf("%s without %s: %v, want ErrRecordNotFound naming %s in %s", name, tc.drop, err, tc.want, zoneID)
			}
		}
		if len(f.batches) != 0 {
			t.Errorf("without %s: a change was sent", tc.drop)
		}
	}
}

func TestAWSErrorsAreWrappedWithContext(t *testing.T) {
	boom := errors.New("throttled")
	f := zone()
	f.listErr = boom
	if _, err := router(f).GetRoutes(context.Background()); !errors.Is(err, boom) || !strings.Contains(err.Error(), "listing A records "+weightedName) {
		t.Errorf("list: %v", err)
	}
	f = zone()
	f.changeErr = boom
	if err := router(f).SetRoutes(context.Background(), Routes{SourceWeight: 1, TargetWeight: 1, Writer: naming.Source}); !errors.Is(err, boom) || !strings.Contains(err.Error(), "changing records of zone "+zoneID) {
		t.Errorf("change: %v", err)
	}
	f = zone()
	f.getChangeErr = boom
	if err := router(f).SetRoutes(context.Background(), Routes{SourceWeight: 1, TargetWeight: 1, Writer: naming.Source}); !errors.Is(err, boom) || !strings.Contains(err.Error(), "change /change/C1") {
		t.Errorf("get change: %v", err)
	}
}

func TestRouterConfigurationIsChecked(t *testing.T) {
	f := zone()
	r := router(f)
	r.WriterTargets = map[naming.Side]string{naming.Source: sourceDB, naming.Target: strings.ToUpper(sourceDB) + "."}
	if _, err := r.GetRoutes(context.Background()); err == nil || !strings.Contains(err.Error(), "could not tell them apart") {
		t.Errorf("same endpoint on both sides: %v", err)
	}
	r = router(f)
	delete(r.WriterTargets, naming.Target)
	r.ZoneID = ""
	if err := r.SetRoutes(context.Background(), Routes{SourceWeight: 1, Writer: naming.Source}); err == nil ||
		!strings.Contains(err.Error(), "WriterTargets[target], ZoneID not set") {
		t.Errorf("missing fields: %v", err)
	}
	r = router(f)
	r.WriterTTL = 0
	if err := r.SetRoutes(context.Background(), Routes{SourceWeight: 1, Writer: naming.Source}); err == nil || !strings.Contains(err.Error(), "writer TTL") {
		t.Errorf("TTL 0: %v", err)
	}
	if f.lists != 0 {
		t.Error("a misconfigured router called Route 53")
	}
}

func TestWriterRecordWithTwoValuesIsRefused(t *testing.T) {
	f := zone()
	f.records[3].ResourceRecords = append(f.records[3].ResourceRecords, types.ResourceRecord{Value: aws.String(targetDB)})
	if _, err := router(f).GetRoutes(context.Background()); err == nil || !strings.Contains(err.Error(), "2 values") {
		t.Errorf("err = %v", err)
	}
}

func observations(checkers, healthy int, at time.Time) []types.HealthCheckObservation {
	var obs []types.HealthCheckObservation
	for i := range checkers {
		status := "Success: HTTP Status Code 200, OK"
		if i >= healthy {
			status = "Failure: HTTP Status Code 503, Service Unavailable"
		}
		obs = append(obs, types.HealthCheckObservation{
			Region: types.HealthCheckRegionUsEast1, IPAddress: aws.String("15.177.0.1"),
			StatusReport: &types.StatusReport{Status: aws.String(status), CheckedTime: aws.Time(at.Add(time.Duration(i) * time.Second))},
		})
	}
	return obs
}

func TestHealthCountsCheckers(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		checkers, healthy int
		majority          bool
	}{{16, 5, false}, {16, 8, false}, {16, 9, true}, {16, 16, true}, {1, 1, true}, {0, 0, false}} {
		f := &fakeRoute53{health: observations(tc.checkers, tc.healthy, at)}
		h, err := router(f).Health(context.Background(), "hc-1")
		if err != nil {
			t.Fatal(err)
		}
		if h.Checkers != tc.checkers || h.Healthy != tc.healthy || h.Majority() != tc.majority {
			t.Errorf("%d of %d: %+v majority %v, want majority %v", tc.healthy, tc.checkers, h, h.Majority(), tc.majority)
		}
		if tc.checkers > 0 && !h.Observed.Equal(at.Add(time.Duration(tc.checkers-1)*time.Second)) {
			t.Errorf("observed %s, want the latest report", h.Observed)
		}
		if !strings.Contains(h.Message, "hc-1") || !strings.Contains(h.Message, fmt.Sprintf("%d of %d", tc.healthy, tc.checkers)) {
			t.Errorf("message %q lacks the counts", h.Message)
		}
		if tc.healthy < tc.checkers && !strings.Contains(h.Message, "Failure: HTTP Status Code 503") {
			t.Errorf("message %q lacks the latest failure", h.Message)
		}
	}
}

func TestHealthSkipsCheckersWithoutAReport(t *testing.T) {
	f := &fakeRoute53{health: append(observations(2, 2, time.Now()), types.HealthCheckObservation{Region: types.HealthCheckRegionEuWest1})}
	h, err := router(f).Health(context.Background(), "hc-1")
	if err != nil || h.Checkers != 2 || !h.Majority() {
		t.Errorf("health = %+v, %v; want 2 checkers that reported, both healthy", h, err)
	}
}

func TestHealthErrors(t *testing.T) {
	boom := errors.New("no such health check")
	f := &fakeRoute53{healthErr: boom}
	if _, err := router(f).Health(context.Background(), "hc-9"); !errors.Is(err, boom) || !strings.Contains(err.Error(), "hc-9") {
		t.Errorf("err = %v", err)
	}
	if _, err := router(f).Health(context.Background(), ""); err == nil {
		t.Error("empty id accepted")
	}
}
