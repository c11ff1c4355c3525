package tapstack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/sample.template.json from the current synthesizer")

const goldenPath = "testdata/sample.template.json"

func TestSynthesisIsByteIdenticalForTheSameSpec(t *testing.T) {
	first := synth(t, sampleSpec(t), sampleRegion)
	for range 5 {
		again := synth(t, sampleSpec(t), sampleRegion)
		if !bytes.Equal(first.JSON(), again.JSON()) {
			t.Fatal("two syntheses of the same spec differ")
		}
	}
}

func TestHashIsSHA256OfTheMinifiedTemplate(t *testing.T) {
	tmpl := synth(t, sampleSpec(t), sampleRegion)
	sum := sha256.Sum256(tmpl.JSON())
	mustEqual(t, "Hash", tmpl.Hash(), "sha256:"+hex.EncodeToString(sum[:]))
	if bytes.ContainsAny(tmpl.JSON(), "\n\t") {
		t.Error("JSON() is not minified")
	}
}

func TestHashChangesWithTheSpecAndTheRegion(t *testing.T) {
	base := synth(t, sampleSpec(t), sampleRegion).Hash()
	changed := sampleSpec(t)
	changed.Service.DesiredCount = 3
	if synth(t, changed, sampleRegion).Hash() == base {
		t.Error("desiredCount changed but the hash did not")
	}
	if synth(t, sampleSpec(t), "eu-west-1").Hash() == base {
		t.Error("region changed but the hash did not")
	}
}

func TestGoldenSampleTemplate(t *testing.T) {
	pretty, err := synth(t, sampleSpec(t), sampleRegion).PrettyJSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, pretty, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/tapstack -update to create it)", err)
	}
	if !bytes.Equal(pretty, want) {
		t.Errorf("sample template differs from %s; review the change and run go test ./internal/tapstack -update", goldenPath)
	}
}

func TestPrettyJSONAndYAMLCarryTheSameTemplate(t *testing.T) {
	tmpl := synth(t, sampleSpec(t), sampleRegion)
	var minified, pretty, fromYAML any
	pj, err := tmpl.PrettyJSON()
	if err != nil {
		t.Fatal(err)
	}
	y, err := tmpl.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		data []byte
		into *any
		yaml bool
	}{{tmpl.JSON(), &minified, false}, {pj, &pretty, false}, {y, &fromYAML, true}} {
		var err error
		if c.yaml {
			err = yaml.Unmarshal(c.data, c.into)
		} else {
			err = json.Unmarshal(c.data, c.into)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mustEqual(t, "pretty JSON", pretty, minified)
	mustEqual(t, "YAML", fromYAML, minified)
}

func TestSampleResourceCountPerType(t *testing.T) {
	want := map[string]int{
		"AWS::ApplicationAutoScaling::ScalableTarget": 1, "AWS::ApplicationAutoScaling::ScalingPolicy": 2,
		"AWS::CloudWatch::Alarm": 10, "AWS::CloudWatch::Dashboard": 1,
		"AWS::DMS::Endpoint": 4, "AWS::DMS::ReplicationInstance": 1, "AWS::DMS::ReplicationSubnetGroup": 1, "AWS::DMS::ReplicationTask": 2,
		"AWS::EC2::EIP": 2, "AWS::EC2::InternetGateway": 1, "AWS::EC2::NatGateway": 2, "AWS::EC2::Route": 3, "AWS::EC2::RouteTable": 3,
		"AWS::EC2::SecurityGroup": 4, "AWS::EC2::SecurityGroupEgress": 3, "AWS::EC2::SecurityGroupIngress": 3,
		"AWS::EC2::Subnet": 4, "AWS::EC2::SubnetRouteTableAssociation": 4, "AWS::EC2::VPC": 1, "AWS::EC2::VPCGatewayAttachment": 1,
		"AWS::ECS::Cluster": 1, "AWS::ECS::Service": 1, "AWS::ECS::TaskDefinition": 1,
		"AWS::ElasticLoadBalancingV2::Listener": 1, "AWS::ElasticLoadBalancingV2::LoadBalancer": 1, "AWS::ElasticLoadBalancingV2::TargetGroup": 1,
		"AWS::IAM::Role": 7, "AWS::Logs::LogGroup": 1,
		"AWS::RDS::DBInstance": 2, "AWS::RDS::DBParameterGroup": 2, "AWS::RDS::DBSubnetGroup": 1,
		"AWS::Route53::HealthCheck": 1, "AWS::Route53::HostedZone": 1, "AWS::Route53::RecordSet": 5,
		"AWS::S3::Bucket": 2, "AWS::S3::BucketPolicy": 2, "AWS::SNS::Subscription": 1, "AWS::SNS::Topic": 1,
		"AWS::SecretsManager::Secret": 3, "AWS::SecretsManager::SecretTargetAttachment": 2,
	}
	got := map[string]int{}
	for _, r := range sampleDoc(t).resources() {
		got[r["Type"].(string)]++
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s: %d resources, want %d", typ, got[typ], n)
		}
	}
	for typ := range got {
		if _, ok := want[typ]; !ok {
			t.Errorf("unexpected resource type %s", typ)
		}
	}
}

func TestSampleHasBetween85And90Resources(t *testing.T) {
	n := synth(t, sampleSpec(t), sampleRegion).ResourceCount()
	if n < 85 || n > 90 {
		t.Errorf("sample template has %d resources, SPEC section 3 expects about 85-90", n)
	}
	if got := len(sampleDoc(t).resources()); got != n {
		t.Errorf("ResourceCount() = %d, rendered template has %d", n, got)
	}
}

// The reverse path is two endpoints and a task; the writer record and the app
// secret are there either way.
func TestResourceCountWithAndWithoutTheReversePath(t *testing.T) {
	for _, c := range []struct {
		reverse bool
		want    int
	}{{true, 90}, {false, 87}} {
		spec := sampleSpec(t)
		spec.Cutover.ReversePath = ptr(c.reverse)
		if n := synth(t, spec, sampleRegion).ResourceCount(); n != c.want {
			t.Errorf("reversePath %v: %d resources, want %d", c.reverse, n, c.want)
		}
	}
}

func TestSynthesizeRefusesSpecsThatWereNotDefaulted(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*v1alpha1.PaymentMigrationSpec)
		region string
		want   string
	}{
		{"empty suffix", func(s *v1alpha1.PaymentMigrationSpec) { s.EnvironmentSuffix = "" }, sampleRegion, "spec.environmentSuffix"},
		{"suffix too long", func(s *v1alpha1.PaymentMigrationSpec) { s.EnvironmentSuffix = strings.Repeat("a", 22) }, sampleRegion, "spec.environmentSuffix"},
		{"empty region", func(*v1alpha1.PaymentMigrationSpec) {}, "", "region is empty"},
		{"missing required tag", func(s *v1alpha1.PaymentMigrationSpec) { delete(s.Tags, "CostCenter") }, sampleRegion, "spec.tags must contain CostCenter"},
		{"zero port", func(s *v1alpha1.PaymentMigrationSpec) { s.Service.Port = 0 }, sampleRegion, "spec.service.port"},
		{"no tables", func(s *v1alpha1.PaymentMigrationSpec) { s.Replication.Tables = nil }, sampleRegion, "spec.replication.tables"},
		{"steps not ending at 100", func(s *v1alpha1.PaymentMigrationSpec) { s.Cutover.Steps = []int32{10, 50} }, sampleRegion, "spec.cutover.steps"},
		{"zone not internal", func(s *v1alpha1.PaymentMigrationSpec) { s.Traffic.HostedZoneName = "payments.example.com" }, sampleRegion, ".internal"},
		{"zero value spec", func(s *v1alpha1.PaymentMigrationSpec) { *s = v1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "x"} }, sampleRegion, "apply the CRD defaults first"},
		{"no writer record name", func(s *v1alpha1.PaymentMigrationSpec) { s.Cutover.WriterRecordName = "" }, sampleRegion, "spec.cutover.writerRecordName"},
		{"zero writer record TTL", func(s *v1alpha1.PaymentMigrationSpec) { s.Cutover.WriterRecordTTLSeconds = 0 }, sampleRegion, "spec.cutover.writerRecordTTLSeconds"},
		{"no application user", func(s *v1alpha1.PaymentMigrationSpec) { s.Database.ApplicationUsername = "" }, sampleRegion, "spec.database.applicationUsername"},
		{"writer record on the weighted name", func(s *v1alpha1.PaymentMigrationSpec) { s.Cutover.WriterRecordName = s.Traffic.RecordName }, sampleRegion, "collides"},
		{"writer record on a side record", func(s *v1alpha1.PaymentMigrationSpec) { s.Cutover.WriterRecordName = "target" }, sampleRegion, "collides"},
		{"application user is the master user", func(s *v1alpha1.PaymentMigrationSpec) { s.Database.ApplicationUsername = s.Database.MasterUsername }, sampleRegion, "must differ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := sampleSpec(t)
			c.mutate(&spec)
			_, err := Synthesize(spec, c.region)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Synthesize error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
