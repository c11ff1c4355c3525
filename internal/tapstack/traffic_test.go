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

func TestWeightedRecordsTakeTheirWeightsFromTheParameters(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		r := d.resource(t, idWeightedRecord(s))
		p := r["Properties"]
		mustEqual(t, "Name", at(p, "Name"), "api.payments.internal.")
		mustEqual(t, "SetIdentifier", at(p, "SetIdentifier"), string(s))
		mustEqual(t, "Weight", at(p, "Weight"), refTo(weightParam[s]))
		mustEqual(t, "AliasTarget", at(p, "AliasTarget"), map[string]any{
			"DNSName": string(s) + ".payments.internal.", "HostedZoneId": refTo(idHostedZone), "EvaluateTargetHealth": true})
		if at(p, "TTL") != nil || at(p, "HealthCheckId") != nil {
			t.Errorf("%s weighted record has TTL or HealthCheckId: %s", s, js(p))
		}
		mustEqual(t, "DependsOn", r["DependsOn"], []string{idSideRecord(s)})
		// The aspects reach the policy fields through the wrapper type.
		mustEqual(t, "DeletionPolicy", r["DeletionPolicy"], "Delete")
	}
}

// The stack renders the cutover state it is given, so an update after (or
// during) the cutover keeps the weights where the cutover put them; without
// parameters all traffic is on the source.
func TestWeightsFollowTheCutoverStateParameters(t *testing.T) {
	d := sampleDoc(t)
	for _, c := range []struct {
		name           string
		params         map[string]any
		source, target int
	}{
		{"defaults: before any cutover", nil, 100, 0},
		{"mid-cutover step", map[string]any{ParamSourceWeight: 75, ParamTargetWeight: 25}, 75, 25},
		{"after the final step", map[string]any{ParamSourceWeight: 0, ParamTargetWeight: 100}, 0, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			for s, want := range map[naming.Side]int{naming.Source: c.source, naming.Target: c.target} {
				mustEqual(t, string(s)+" weight", d.evaluate(t, d.props(t, idWeightedRecord(s))["Weight"], c.params), want)
			}
		})
	}
}

func TestCutoverStateParametersAreBoundedWithPreCutoverDefaults(t *testing.T) {
	params := sampleDoc(t)["Parameters"].(map[string]any)
	for name, want := range map[string]map[string]any{
		ParamSourceWeight: {"Type": "Number", "MinValue": 0, "MaxValue": 255, "Default": 100},
		ParamTargetWeight: {"Type": "Number", "MinValue": 0, "MaxValue": 255, "Default": 0},
		ParamWriterSide:   {"Type": "String", "AllowedValues": []string{"source", "target"}, "Default": "source"},
	} {
		for k, v := range want {
			mustEqual(t, name+"."+k, at(params[name], k), v)
		}
		if d, _ := at(params[name], "Description").(string); d == "" {
			t.Errorf("parameter %s has no description", name)
		}
	}
}

// The writer record is one CNAME whose single value is chosen by WriterSide:
// it can never name both databases.
func TestWriterRecordPointsAtTheSideWriterSideNames(t *testing.T) {
	d := sampleDoc(t)
	r := d.resource(t, idWriterRecord)
	p := r["Properties"].(map[string]any)
	mustEqual(t, "Type", p["Type"], "CNAME")
	mustEqual(t, "Name", p["Name"], "db.payments.internal.")
	mustEqual(t, "HostedZoneId", p["HostedZoneId"], refTo(idHostedZone))
	for _, absent := range []string{"SetIdentifier", "Weight", "HealthCheckId", "Failover", "AliasTarget"} {
		if _, ok := p[absent]; ok {
			t.Errorf("writer record sets %s; only the cutover may move it", absent)
		}
	}
	mustEqual(t, "condition", d["Conditions"].(map[string]any)[condWriterIsTarget],
		map[string]any{"Fn::Equals": []any{refTo(ParamWriterSide), "target"}})
	for _, c := range []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"default", nil, "SourceDatabase"},
		{"source", map[string]any{ParamWriterSide: "source"}, "SourceDatabase"},
		{"target after the flip", map[string]any{ParamWriterSide: "target"}, "TargetDatabase"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustEqual(t, "ResourceRecords", d.evaluate(t, p["ResourceRecords"], c.params),
				[]any{getAttOf(c.want, "Endpoint.Address")})
		})
	}
}

func TestWriterRecordNameAndTTLComeFromTheSpec(t *testing.T) {
	spec, region := variantSpec(t, noReversePath)
	for _, c := range []struct {
		name, record, ttl string
		d                 doc
	}{
		{"sample (defaults)", "db.payments.internal.", "5", sampleDoc(t)},
		{"custom", "primary.payments.internal.", "30", rendered(t, synth(t, spec, region))},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.d.props(t, idWriterRecord)
			mustEqual(t, "Name", p["Name"], c.record)
			mustEqual(t, "TTL", p["TTL"], c.ttl)
			mustEqual(t, "WriterRecordName output", c.d.outputs()["WriterRecordName"]["Value"], c.record)
		})
	}
}
