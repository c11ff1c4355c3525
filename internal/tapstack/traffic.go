package tapstack

import (
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation/route53"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Traffic layer: a private hosted zone in the stack's VPC, a Route 53 health check
// on the ALB, and the records the cutover moves.
//
//	<side>.<zone>          plain alias A record of one side's entry point. Both
//	                       alias the stack's ALB unless spec.source.loadBalancer
//	                       names the current service, which the source side then
//	                       aliases; repointing a side changes only this record.
//	<recordName>.<zone>    the name clients use: two weighted alias A records,
//	                       SetIdentifier "source" and "target", each aliasing
//	                       its side's record above, weighted by the SourceWeight
//	                       and TargetWeight parameters (100 and 0 before any
//	                       cutover). The cutover changes only their weights
//	                       (see the Route53 outputs).
//	<writerRecordName>.<zone>
//	                       the writer record (cutover.go).

const (
	idHostedZone  = "HostedZone"
	idHealthCheck = "AlbHealthCheck"

	initialSourceWeight = 100
	initialTargetWeight = 0
)

func idSideRecord(s naming.Side) string     { return sided(s, "AliasRecord") }
func idWeightedRecord(s naming.Side) string { return sided(s, "WeightedRecord") }

// fqdn is an absolute DNS name in the zone, with the trailing dot Route 53 uses.
func (b *builder) fqdn(label string) string {
	return fmt.Sprintf("%s.%s.", label, b.spec.Traffic.HostedZoneName)
}

func (b *builder) weightedName() string { return b.fqdn(b.spec.Traffic.RecordName) }

func (b *builder) traffic() {
	b.cutoverParameters()
	b.add(idHostedZone, &route53.HostedZone{
		Name: ptr(b.spec.Traffic.HostedZoneName),
		HostedZoneConfig: &route53.HostedZone_HostedZoneConfig{
			Comment: ptr(fmt.Sprintf("Payment migration %s: weighted source/target records", b.spec.EnvironmentSuffix)),
		},
		VPCs: []route53.HostedZone_VPC{{VPCId: ref(idVPC), VPCRegion: pseudo("AWS::Region")}},
	})
	hc := b.spec.Traffic.HealthCheck
	b.add(idHealthCheck, &route53.HealthCheck{
		HealthCheckConfig: &route53.HealthCheck_HealthCheckConfig{
			Type:                     "HTTP",
			FullyQualifiedDomainName: ptr(getAtt(idLoadBalancer, "DNSName")),
			Port:                     ptr(int(b.spec.Service.Port)),
			ResourcePath:             ptr(hc.Path),
			RequestInterval:          ptr(int(hc.RequestIntervalSeconds)),
			FailureThreshold:         ptr(int(hc.FailureThreshold)),
		},
		HealthCheckTags: []route53.HealthCheck_HealthCheckTag{{Key: "Name", Value: "alb-health-" + b.spec.EnvironmentSuffix}},
	})
	for _, s := range naming.Sides {
		b.add(idSideRecord(s), &route53.RecordSet{
			HostedZoneId: ptr(ref(idHostedZone)),
			Name:         b.fqdn(string(s)),
			Type:         "A",
			Comment:      ptr(fmt.Sprintf("Entry point of the %s side", s)),
			AliasTarget:  b.entryPoint(s),
		})
		b.add(idWeightedRecord(s), b.weightedRecord(s))
	}
	b.add(idWriterRecord, b.writerRecord())
}

// entryPoint is what a side's record aliases: the stack's ALB, or for the
// source side the current service's load balancer when spec.source names it.
func (b *builder) entryPoint(s naming.Side) *route53.RecordSet_AliasTarget {
	if s == naming.Source && b.spec.Source.LoadBalancer != nil {
		return &route53.RecordSet_AliasTarget{
			DNSName:              ref(ParamSourceLoadBalancerDNSName),
			HostedZoneId:         ref(ParamSourceLoadBalancerZoneID),
			EvaluateTargetHealth: ptr(true),
		}
	}
	return &route53.RecordSet_AliasTarget{
		DNSName:              getAtt(idLoadBalancer, "DNSName"),
		HostedZoneId:         getAtt(idLoadBalancer, "CanonicalHostedZoneID"),
		EvaluateTargetHealth: ptr(true),
	}
}

func initialWeight(s naming.Side) int {
	if s == naming.Source {
		return initialSourceWeight
	}
	return initialTargetWeight
}

// weightedRecord carries no HealthCheckId on purpose: Route 53 would then move
// traffic between the sides by itself on a failed check, possibly back to a
// source whose writes are fenced. The operator reads the health check as a
// cutover gate and moves the weights itself. The weight is a parameter so that
// a stack update keeps the weights the cutover set.
func (b *builder) weightedRecord(s naming.Side) *parameterWeightedRecordSet {
	return &parameterWeightedRecordSet{
		RecordSet: route53.RecordSet{
			HostedZoneId:  ptr(ref(idHostedZone)),
			Name:          b.weightedName(),
			Type:          "A",
			SetIdentifier: ptr(string(s)),
			Comment:       ptr(fmt.Sprintf("Share of %s traffic sent to the %s side", b.weightedName(), s)),
			AliasTarget:   b.sideAlias(s),
			// An alias to a record of the same zone fails until that record exists.
			AWSCloudFormationDependsOn: []string{idSideRecord(s)},
		},
		weight: ref(weightParam[s]),
	}
}

// sideAlias targets a side's record in the same hosted zone.
func (b *builder) sideAlias(s naming.Side) *route53.RecordSet_AliasTarget {
	return &route53.RecordSet_AliasTarget{
		DNSName:              b.fqdn(string(s)),
		HostedZoneId:         ref(idHostedZone),
		EvaluateTargetHealth: ptr(true),
	}
}
