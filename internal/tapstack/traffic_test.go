package tapstack

import (
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

func TestHostedZoneIsPrivateToTheStackVPC(t *testing.T) {
	p := sampleDoc(t).props(t, idHostedZone)
	mustEqual(t, "Name", p["Name"], "payments.internal")
	mustEqual(t, "VPCs", p["VPCs"], []any{map[string]any{"VPCId": refTo(idVPC), "VPCRegion": refTo("AWS::Region")}})
}

func TestRoute53HealthCheckProbesTheALBOverHTTP(t *testing.T) {
	spec, region := variantSpec(t, variants[1])
	cases := []struct {
		name string
		d    doc
		port int
		path string
	}{{"sample", sampleDoc(t), 80, "/"}, {"port 8080", rendered(t, synth(t, spec, region)), 8080, "/healthz"}}
	for _, c := range cases {
		cfg := c.d.props(t, idHealthCheck)["HealthCheckConfig"]
		mustEqual(t, c.name, cfg, map[string]any{
			"Type": "HTTP", "FullyQualifiedDomainName": getAttOf(idLoadBalancer, "DNSName"),
			"Port": c.port, "ResourcePath": c.path, "RequestInterval": 30, "FailureThreshold": 3,
		})
	}
}

func TestSideRecordsAliasTheALB(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		p := d.props(t, idSideRecord(s))
		mustEqual(t, "Name", p["Name"], string(s)+".payments.internal.")
		mustEqual(t, "Type", p["Type"], "A")
		mustEqual(t, "AliasTarget", p["AliasTarget"], map[string]any{
			"DNSName": getAttOf(idLoadBalancer, "DNSName"), "HostedZoneId": getAttOf(idLoadBalancer, "CanonicalHostedZoneID"),
			"EvaluateTargetHealth": true,
		})
	}
}

func TestWeightedRecordsStartWithAllTrafficOnTheSource(t *testing.T) {
	d := sampleDoc(t)
	for s, weight := range map[naming.Side]int{naming.Source: 100, naming.Target: 0} {
		r := d.resource(t, idWeightedRecord(s))
		p := r["Properties"]
		mustEqual(t, "Name", at(p, "Name"), "api.payments.internal.")
		mustEqual(t, "SetIdentifier", at(p, "SetIdentifier"), string(s))
		mustEqual(t, "Weight", at(p, "Weight"), weight)
		mustEqual(t, "AliasTarget", at(p, "AliasTarget"), map[string]any{
			"DNSName": string(s) + ".payments.internal.", "HostedZoneId": refTo(idHostedZone), "EvaluateTargetHealth": true})
		if at(p, "TTL") != nil || at(p, "HealthCheckId") != nil {
			t.Errorf("%s weighted record has TTL or HealthCheckId: %s", s, js(p))
		}
		mustEqual(t, "DependsOn", r["DependsOn"], []string{idSideRecord(s)})
	}
}
