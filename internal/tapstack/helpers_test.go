package tapstack

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/crdschema"
)

const (
	samplePath   = "../../config/samples/payments_v1alpha1_paymentmigration.yaml"
	sampleRegion = "us-east-1"
)

// sampleSpec is the sample manifest, defaulted by the CRD schema exactly as the
// API server would, so the tests exercise what users really deploy.
func sampleSpec(t testing.TB) v1alpha1.PaymentMigrationSpec {
	t.Helper()
	manifest, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := crdschema.DecodePaymentMigration(context.Background(), manifest)
	if err != nil {
		t.Fatalf("sample manifest: %v", err)
	}
	return pm.Spec
}

// variant is a named change of the sample spec.
type variant struct {
	name   string
	mutate func(*v1alpha1.PaymentMigrationSpec)
}

// variants cover every switch of the template; cfn-lint runs over each of them.
var variants = []variant{
	{"single-nat-no-service-roles", func(s *v1alpha1.PaymentMigrationSpec) {
		s.Network.NATGateways = v1alpha1.NATGatewaysSingle
		s.Replication.CreateServiceRoles = ptr(false)
	}},
	{"port-8080-pinned-azs-no-email", func(s *v1alpha1.PaymentMigrationSpec) {
		s.Service.Port = 8080
		s.Service.HealthCheckPath = "/healthz"
		s.Traffic.HealthCheck.Path = "/healthz"
		s.Network.AvailabilityZones = []string{"us-east-1a", "us-east-1b"}
		s.Alerts.Email = ""
	}},
	{"cdc-only-no-validation-kms-boundary-minor-version", func(s *v1alpha1.PaymentMigrationSpec) {
		s.Replication.MigrationType = v1alpha1.MigrationTypeCDC
		s.IAM.PermissionsBoundaryARN = testBoundary
		s.Replication.Validation = ptr(false)
		s.Database.KMSKeyID = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		s.Database.EngineVersion = "14.17"
		s.Network.VPCCIDR = "10.42.0.0/22"
		s.Cutover.Steps = []int32{5, 50, 100}
	}},
	{"longest-suffix-eu-region", func(s *v1alpha1.PaymentMigrationSpec) {
		s.EnvironmentSuffix = strings.Repeat("z", 21)
		s.Region = "eu-west-1"
		s.Replication.Tables = []string{"ledger"}
		s.Replication.Schema = "billing"
	}},
	{"no-reverse-path-custom-writer-record", func(s *v1alpha1.PaymentMigrationSpec) {
		s.Cutover.ReversePath = ptr(false)
		s.Cutover.WriterRecordName = "primary"
		s.Cutover.WriterRecordTTLSeconds = 30
		s.Database.ApplicationUsername = "ledger_svc"
		s.DeletionPolicy = v1alpha1.DeletionPolicySnapshot
	}},
	{"in-vpc-sql-runner", func(s *v1alpha1.PaymentMigrationSpec) {
		s.SQLRunner = v1alpha1.SQLRunnerSpec{Mode: v1alpha1.SQLRunnerInVPC, Image: "registry.example.com/tools/psql:15.8"}
	}},
	{"existing-aws-source-with-load-balancer-in-vpc-runner", func(s *v1alpha1.PaymentMigrationSpec) {
		existingAWSSource(s)
		s.SQLRunner = v1alpha1.SQLRunnerSpec{Mode: v1alpha1.SQLRunnerInVPC, Image: "public.ecr.aws/docker/library/postgres:15-alpine"}
	}},
	{"existing-ack-source-snapshot-no-reverse-path", func(s *v1alpha1.PaymentMigrationSpec) {
		s.Source = v1alpha1.SourceSpec{Type: v1alpha1.SourceACK,
			ACK:                  &v1alpha1.ACKSource{DBInstance: v1alpha1.ACKReference{Name: "payments"}, Bucket: v1alpha1.ACKReference{Name: "payments-logs"}},
			ApplicationSecretARN: testAppSecretARN}
		s.DeletionPolicy = v1alpha1.DeletionPolicySnapshot
		s.Cutover.ReversePath = ptr(false)
	}},
}

const testAppSecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-app-AbCdEf"

// existingAWSSource migrates from an RDS instance, a bucket and a load
// balancer that exist already.
func existingAWSSource(s *v1alpha1.PaymentMigrationSpec) {
	s.Source = v1alpha1.SourceSpec{Type: v1alpha1.SourceAWS,
		AWS: &v1alpha1.AWSSource{DBInstanceIdentifier: "payments-prod", SecurityGroupID: "sg-0123456789abcdef0", BucketName: "payments-prod-logs",
			MasterSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1234-AbCdEf"},
		ApplicationSecretARN: testAppSecretARN, Port: 6432,
		LoadBalancer: &v1alpha1.LoadBalancerReference{DNSName: "payments-prod-123456.us-east-1.elb.amazonaws.com",
			CanonicalHostedZoneID: "Z35SXDOTRQ7X7K"}}
}

// noReversePath is the variant without the reverse path.
var noReversePath = variants[4]

// inVPCRunner is the variant with the in-VPC SQL runner.
var inVPCRunner = variants[5]

func variantSpec(t testing.TB, v variant) (v1alpha1.PaymentMigrationSpec, string) {
	spec := sampleSpec(t)
	v.mutate(&spec)
	region := sampleRegion
	if spec.Region != "" {
		region = spec.Region
	}
	return spec, region
}

func synth(t testing.TB, spec v1alpha1.PaymentMigrationSpec, region string) *Template {
	t.Helper()
	tmpl, err := Synthesize(spec, region)
	if err != nil {
		t.Fatalf("Synthesize: %v", err)
	}
	return tmpl
}

// doc is the rendered template as generic JSON, what CloudFormation receives.
type doc map[string]any

func rendered(t testing.TB, tmpl *Template) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal(tmpl.JSON(), &d); err != nil {
		t.Fatalf("rendered template is not JSON: %v", err)
	}
	return d
}

func sampleDoc(t testing.TB) doc { return rendered(t, synth(t, sampleSpec(t), sampleRegion)) }

func (d doc) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range d["Resources"].(map[string]any) {
		out[id] = r.(map[string]any)
	}
	return out
}

func (d doc) outputs() map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, o := range d["Outputs"].(map[string]any) {
		out[id] = o.(map[string]any)
	}
	return out
}

// resource returns the resource with logicalID, failing the test if absent.
func (d doc) resource(t testing.TB, logicalID string) map[string]any {
	t.Helper()
	r, ok := d.resources()[logicalID]
	if !ok {
		t.Fatalf("no resource %s", logicalID)
	}
	return r
}

func (d doc) props(t testing.TB, logicalID string) map[string]any {
	t.Helper()
	p, _ := d.resource(t, logicalID)["Properties"].(map[string]any)
	return p
}

// ofType lists the logical ids of a resource type, sorted.
func (d doc) ofType(cfnType string) []string {
	var ids []string
	for id, r := range d.resources() {
		if r["Type"] == cfnType {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// at walks a path of map keys and slice indexes ("a", 0, "b").
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

// js is the compact JSON of v, for comparisons against expected fragments.
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func mustEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if js(got) != js(want) {
		t.Errorf("%s = %s, want %s", what, js(got), js(want))
	}
}

func refTo(id string) map[string]any { return map[string]any{"Ref": id} }

func getAttOf(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

var subRefPattern = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// subRefs lists the ${...} references of an Fn::Sub format string.
func subRefs(format string) []string {
	var out []string
	for _, m := range subRefPattern.FindAllStringSubmatch(format, -1) {
		out = append(out, m[1])
	}
	return out
}

// walk calls fn for every JSON value under v, with its path.
func walk(v any, path string, fn func(path string, v any)) {
	fn(path, v)
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			walk(c, path+"/"+k, fn)
		}
	case []any:
		for i, c := range x {
			walk(c, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// evaluate resolves what CloudFormation decides from parameter values alone:
// Refs of template parameters (the given value, else the default), Fn::Equals
// and Fn::If through the Conditions section. Everything else is kept as is.
func (d doc) evaluate(t testing.TB, v any, params map[string]any) any {
	t.Helper()
	declared, _ := d["Parameters"].(map[string]any)
	conditions, _ := d["Conditions"].(map[string]any)
	var eval func(v any) any
	eval = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if name, ok := x["Ref"].(string); ok && len(x) == 1 {
				if p, isParam := declared[name]; isParam {
					if value, given := params[name]; given {
						return value
					}
					return at(p, "Default")
				}
				return x
			}
			if args, ok := x["Fn::Equals"].([]any); ok && len(x) == 1 {
				return js(eval(args[0])) == js(eval(args[1]))
			}
			if args, ok := x["Fn::If"].([]any); ok && len(x) == 1 {
				cond, found := conditions[args[0].(string)]
				if !found {
					t.Fatalf("Fn::If names unknown condition %v", args[0])
				}
				if eval(cond) == true {
					return eval(args[1])
				}
				return eval(args[2])
			}
			out := map[string]any{}
			for k, c := range x {
				out[k] = eval(c)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, c := range x {
				out[i] = eval(c)
			}
			return out
		}
		return v
	}
	return eval(v)
}
