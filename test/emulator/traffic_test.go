package emulator

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/traffic"
)

const (
	trafficZone     = "payments-traffic.internal"
	trafficSourceDB = "rds-source-traffic.c9akciq32.us-east-1.rds.amazonaws.com"
	trafficTargetDB = "rds-target-traffic.c9akciq32.us-east-1.rds.amazonaws.com"
)

// countingRoute53 counts the calls that change or wait, to tell an idempotent
// SetRoutes from one that sent something.
type countingRoute53 struct {
	*route53.Client
	changes, getChanges atomic.Int32
}

func (c *countingRoute53) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	c.changes.Add(1)
	return c.Client.ChangeResourceRecordSets(ctx, in, opts...)
}

func (c *countingRoute53) GetChange(ctx context.Context, in *route53.GetChangeInput, opts ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	c.getChanges.Add(1)
	return c.Client.GetChange(ctx, in, opts...)
}

// trafficZoneIn builds what the stack's traffic layer has, straight through
// the Route 53 API: a private zone, the side records, the weighted aliases
// (source 100, target 0), the writer CNAME at the source and the ALB's health
// check. It returns the zone id and the health check id.
func trafficZoneIn(t *testing.T, ctx context.Context, r53 *route53.Client, e *Emulator) (string, string) {
	t.Helper()
	vpc, err := ec2.NewFromConfig(sdkConfig(e)).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	zone, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String(trafficZone), CallerReference: aws.String("traffic-" + t.Name()),
		HostedZoneConfig: &r53types.HostedZoneConfig{PrivateZone: true},
		VPC:              &r53types.VPC{VPCId: vpc.Vpc.VpcId, VPCRegion: r53types.VPCRegionUsEast1},
	})
	if err != nil {
		t.Fatal(err)
	}
	zoneID := strings.TrimPrefix(aws.ToString(zone.HostedZone.Id), "/hostedzone/")
	var changes []r53types.Change
	for i, side := range naming.Sides {
		changes = append(changes,
			r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String(string(side) + "." + trafficZone + "."), Type: r53types.RRTypeA, TTL: aws.Int64(60),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String([]string{"10.20.1.10", "10.20.2.10"}[i])}},
			}},
			r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String("api." + trafficZone + "."), Type: r53types.RRTypeA, SetIdentifier: aws.String(string(side)),
				Weight: aws.Int64([]int64{100, 0}[i]),
				AliasTarget: &r53types.AliasTarget{
					DNSName: aws.String(string(side) + "." + trafficZone + "."), HostedZoneId: aws.String(zoneID), EvaluateTargetHealth: true,
				},
			}})
	}
	changes = append(changes, r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
		Name: aws.String("db." + trafficZone + "."), Type: r53types.RRTypeCname, TTL: aws.Int64(5),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(trafficSourceDB)}},
	}})
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes},
	}); err != nil {
		t.Fatal(err)
	}
	hc, err := r53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{
		CallerReference: aws.String("traffic-hc-" + t.Name()),
		HealthCheckConfig: &r53types.HealthCheckConfig{
			Type: r53types.HealthCheckTypeHttp, FullyQualifiedDomainName: aws.String("alb-target-traffic.us-east-1.elb.amazonaws.com"),
			Port: aws.Int32(80), ResourcePath: aws.String("/health"), RequestInterval: aws.Int32(10), FailureThreshold: aws.Int32(3),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return zoneID, aws.ToString(hc.HealthCheck.Id)
}

func trafficRouter(api traffic.Route53API, zoneID string) *traffic.Route53 {
	return &traffic.Route53{
		API: api, ZoneID: zoneID,
		WeightedName: "api." + trafficZone + ".", WriterName: "db." + trafficZone + ".", WriterTTL: 5,
		WriterTargets: map[naming.Side]string{naming.Source: trafficSourceDB, naming.Target: trafficTargetDB},
		PollInterval:  50 * time.Millisecond,
	}
}

// TestTrafficRoute53 runs the traffic seam against the emulator's Route 53:
// one emulator for all of it, since the zone is built in milliseconds and the
// emulator's start is the cost.
func TestTrafficRoute53(t *testing.T) {
	e := StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r53 := route53.NewFromConfig(sdkConfig(e))
	zoneID, healthCheckID := trafficZoneIn(t, ctx, r53, e)

	t.Run("ChangeIsPendingThenInsync", func(t *testing.T) {
		out, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID),
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String("probe." + trafficZone + "."), Type: r53types.RRTypeTxt,
					TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"probe"`)}}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.ChangeInfo.Id)
		if out.ChangeInfo.Status != r53types.ChangeStatusPending || !strings.HasPrefix(id, "/change/C") {
			t.Fatalf("ChangeResourceRecordSets answered %s %s, want PENDING under a change id", id, out.ChangeInfo.Status)
		}
		seen := map[r53types.ChangeStatus]bool{}
		deadline := time.Now().Add(10 * time.Second)
		for !seen[r53types.ChangeStatusInsync] && time.Now().Before(deadline) {
			got, err := r53.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(got.ChangeInfo.Id) != id {
				t.Errorf("GetChange answered for %s, asked %s", aws.ToString(got.ChangeInfo.Id), id)
			}
			seen[got.ChangeInfo.Status] = true
			time.Sleep(50 * time.Millisecond)
		}
		if !seen[r53types.ChangeStatusPending] || !seen[r53types.ChangeStatusInsync] {
			t.Errorf("GetChange reported %v, want PENDING then INSYNC", seen)
		}
		other, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID),
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionDelete,
				ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String("probe." + trafficZone + "."), Type: r53types.RRTypeTxt,
					TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"probe"`)}}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(other.ChangeInfo.Id) == id {
			t.Errorf("two changes share the id %s", id)
		}
	})

	t.Run("RouterRoundTrip", func(t *testing.T) {
		api := &countingRoute53{Client: r53}
		router := trafficRouter(api, zoneID)
		got, err := router.GetRoutes(ctx)
		if want := (traffic.Routes{SourceWeight: 100, TargetWeight: 0, Writer: naming.Source}); err != nil || got != want {
			t.Fatalf("initial GetRoutes = %v, %v; want %v", got, err, want)
		}

		for _, want := range []traffic.Routes{
			{SourceWeight: 90, TargetWeight: 10, Writer: naming.Source}, // a service-tier step
			{SourceWeight: 0, TargetWeight: 100, Writer: naming.Target}, // the flip
			{SourceWeight: 100, TargetWeight: 0, Writer: naming.Source}, // and back
		} {
			changes, getChanges := api.changes.Load(), api.getChanges.Load()
			began := time.Now()
			if err := router.SetRoutes(ctx, want); err != nil {
				t.Fatalf("SetRoutes(%v): %v", want, err)
			}
			took := time.Since(began)
			if api.changes.Load() != changes+1 || api.getChanges.Load() == getChanges {
				t.Errorf("SetRoutes(%v): %d change batches and %d GetChange calls, want one batch and its wait",
					want, api.changes.Load()-changes, api.getChanges.Load()-getChanges)
			}
			// The emulator holds a change PENDING for 0.5 s.
			if took < 500*time.Millisecond {
				t.Errorf("SetRoutes(%v) returned after %s, before the change was INSYNC", want, took)
			}
			got, err := router.GetRoutes(ctx)
			if err != nil || got != want {
				t.Errorf("GetRoutes after SetRoutes(%v) = %v, %v", want, got, err)
			}
			t.Logf("%v in sync after %s", want, took.Round(time.Millisecond))
		}

		// The records keep what the router does not own.
		sets, err := r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)})
		if err != nil {
			t.Fatal(err)
		}
		var weighted int
		for _, rec := range sets.ResourceRecordSets {
			switch {
			case rec.Type == r53types.RRTypeA && rec.SetIdentifier != nil:
				weighted++
				side := aws.ToString(rec.SetIdentifier)
				if rec.AliasTarget == nil || aws.ToString(rec.AliasTarget.DNSName) != side+"."+trafficZone+"." ||
					strings.TrimPrefix(aws.ToString(rec.AliasTarget.HostedZoneId), "/hostedzone/") != zoneID ||
					!rec.AliasTarget.EvaluateTargetHealth || rec.TTL != nil || len(rec.ResourceRecords) != 0 {
					t.Errorf("weighted %s record after the changes: %+v %+v, want the alias target as created", side, rec, rec.AliasTarget)
				}
			case rec.Type == r53types.RRTypeCname:
				if aws.ToInt64(rec.TTL) != 5 || len(rec.ResourceRecords) != 1 || aws.ToString(rec.ResourceRecords[0].Value) != trafficSourceDB {
					t.Errorf("writer record after the changes: %+v", rec)
				}
			}
		}
		if weighted != 2 {
			t.Errorf("%d weighted records, want source and target only", weighted)
		}

		// Routes already in place: nothing sent, nothing awaited.
		changes, getChanges := api.changes.Load(), api.getChanges.Load()
		if err := router.SetRoutes(ctx, traffic.Routes{SourceWeight: 100, TargetWeight: 0, Writer: naming.Source}); err != nil {
			t.Fatal(err)
		}
		if api.changes.Load() != changes || api.getChanges.Load() != getChanges {
			t.Errorf("SetRoutes of the routes in place called ChangeResourceRecordSets %d and GetChange %d times",
				api.changes.Load()-changes, api.getChanges.Load()-getChanges)
		}
		if err := router.SetRoutes(ctx, traffic.Routes{Writer: naming.Target}); !errors.Is(err, traffic.ErrInvalidRoutes) {
			t.Errorf("SetRoutes 0/0 = %v, want ErrInvalidRoutes", err)
		}
		if api.changes.Load() != changes {
			t.Error("0/0 was sent to Route 53")
		}
	})

	t.Run("WriterMatchingNeitherSide", func(t *testing.T) {
		router := trafficRouter(r53, zoneID)
		router.WriterTargets = map[naming.Side]string{naming.Source: "rds-a.example.", naming.Target: "rds-b.example."}
		if _, err := router.GetRoutes(ctx); !errors.Is(err, traffic.ErrUnknownWriter) || !strings.Contains(err.Error(), trafficSourceDB) {
			t.Errorf("GetRoutes = %v, want ErrUnknownWriter naming %s", err, trafficSourceDB)
		}
		router = trafficRouter(r53, zoneID)
		router.WriterName = "writer." + trafficZone + "."
		if _, err := router.GetRoutes(ctx); !errors.Is(err, traffic.ErrRecordNotFound) || !strings.Contains(err.Error(), "writer."+trafficZone) {
			t.Errorf("GetRoutes of a missing writer record = %v, want ErrRecordNotFound naming it", err)
		}
	})

	t.Run("ChangeInsyncAtOnce", func(t *testing.T) {
		if err := e.SetChangePending(ctx, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.SetChangePending(context.Background(), 500*time.Millisecond) })
		api := &countingRoute53{Client: r53}
		if err := trafficRouter(api, zoneID).SetRoutes(ctx, traffic.Routes{SourceWeight: 50, TargetWeight: 50, Writer: naming.Source}); err != nil {
			t.Fatal(err)
		}
		if api.changes.Load() != 1 || api.getChanges.Load() != 0 {
			t.Errorf("%d batches, %d GetChange calls; want one batch answered INSYNC, nothing to wait for",
				api.changes.Load(), api.getChanges.Load())
		}
	})

	t.Run("HealthFollowsCheckers", func(t *testing.T) {
		router := trafficRouter(r53, zoneID)
		h, err := router.Health(ctx, healthCheckID)
		if err != nil || !h.Majority() || h.Checkers != 1 {
			t.Errorf("default health = %+v, %v; want the emulator's one healthy checker", h, err)
		}
		for _, tc := range []struct {
			checkers, healthy int
			majority          bool
		}{{16, 5, false}, {16, 8, false}, {16, 9, true}, {16, 16, true}, {16, 0, false}} {
			if err := e.SetHealthCheck(ctx, healthCheckID, tc.checkers, tc.healthy); err != nil {
				t.Fatal(err)
			}
			h, err := router.Health(ctx, healthCheckID)
			if err != nil {
				t.Fatal(err)
			}
			if h.Checkers != tc.checkers || h.Healthy != tc.healthy || h.Majority() != tc.majority {
				t.Errorf("%d of %d healthy: read %+v, majority %v; want majority %v", tc.healthy, tc.checkers, h, h.Majority(), tc.majority)
			}
			if h.Observed.IsZero() || time.Since(h.Observed) > time.Minute {
				t.Errorf("observed %s, want the time of the reports", h.Observed)
			}
			t.Log(h.Message)
		}
		if err := e.ResetHealthCheck(ctx, healthCheckID); err != nil {
			t.Fatal(err)
		}
		if h, err := router.Health(ctx, healthCheckID); err != nil || h.Checkers != 1 || !h.Majority() {
			t.Errorf("after reset: %+v, %v", h, err)
		}
		if err := e.SetHealthCheck(ctx, healthCheckID, 16, 17); err == nil {
			t.Error("17 healthy of 16 checkers accepted")
		}
		if err := e.SetHealthCheck(ctx, "no-such-check", 16, 9); err == nil {
			t.Error("an unknown health check accepted")
		}
	})
}
