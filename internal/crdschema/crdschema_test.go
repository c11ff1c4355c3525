package crdschema

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

func decode(t *testing.T, manifest string) error {
	t.Helper()
	_, err := DecodePaymentMigration(context.Background(), []byte(manifest))
	return err
}

const minimal = `apiVersion: payments.tapstack.io/v1alpha1
kind: PaymentMigration
metadata: {name: m}
spec:
  environmentSuffix: pr1
`

func TestMinimalManifestGetsEveryProductDefault(t *testing.T) {
	pm, err := DecodePaymentMigration(context.Background(), []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	s := pm.Spec
	checks := map[string][2]any{
		"service.port":                 {s.Service.Port, int32(80)},
		"service.image":                {s.Service.Image, "nginx:latest"},
		"replication.engineVersion":    {s.Replication.EngineVersion, "3.5.4"},
		"replication.lag":              {s.Replication.LagThresholdSeconds, int32(60)},
		"replication.createRoles":      {*s.Replication.CreateServiceRoles, true},
		"storage.glacier":              {s.Storage.GlacierTransitionDays, int32(90)},
		"database.instanceClass":       {s.Database.InstanceClass, "db.r5.large"},
		"traffic.healthCheck.interval": {s.Traffic.HealthCheck.RequestIntervalSeconds, int32(30)},
		"network.natGateways":          {string(s.Network.NATGateways), "OnePerAZ"},
		"tags.CostCenter":              {s.Tags["CostCenter"], "payments"},
		"deletionPolicy":               {string(s.DeletionPolicy), "Delete"},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", field, c[0], c[1])
		}
	}
	if strings.Join(s.Replication.Tables, ",") != "payments,transactions,refunds,payment_%" {
		t.Errorf("tables = %v", s.Replication.Tables)
	}
}

func TestTheSampleIsAccepted(t *testing.T) {
	b, err := os.ReadFile("../../config/samples/payments_v1alpha1_paymentmigration.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := decode(t, string(b)); err != nil {
		t.Fatal(err)
	}
}

// Rejections name the field, like the API server's messages.
func TestInvalidManifestsAreRejectedNamingTheField(t *testing.T) {
	cases := []struct{ name, spec, want string }{
		{"steps not ending at 100 (CEL)", "  cutover: {steps: [10, 50]}\n", "spec.cutover.steps: Invalid value"},
		{"steps not increasing (CEL)", "  cutover: {steps: [50, 10, 100]}\n", "cutover.steps must be strictly increasing"},
		{"suffix pattern (OpenAPI)", "", "spec.environmentSuffix"},
		{"port out of range", "  service: {port: 70000}\n", "spec.service.port"},
		{"zone outside .internal", "  traffic: {hostedZoneName: payments.example.com}\n", "spec.traffic.hostedZoneName"},
		{"step interval below TTL (CEL on spec)", "  traffic: {recordTTLSeconds: 300}\n", "spec.cutover.stepIntervalSeconds"},
		{"missing required tag", "  tags: {Environment: dev}\n", "spec.tags"},
		{"unknown field", "  colour: red\n", "spec.colour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			manifest := minimal + c.spec
			if c.name == "suffix pattern (OpenAPI)" {
				manifest = strings.Replace(minimal, "pr1", "PR_1", 1)
			}
			err := decode(t, manifest)
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want an InvalidError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestWrongAPIVersionOrKindIsRejected(t *testing.T) {
	for _, m := range []string{
		strings.Replace(minimal, "v1alpha1", "v1", 1),
		strings.Replace(minimal, "kind: PaymentMigration", "kind: ConfigMap", 1),
	} {
		if err := decode(t, m); err == nil {
			t.Errorf("accepted %q", m)
		}
	}
}

func TestMalformedDocumentsAreRejected(t *testing.T) {
	for _, m := range []string{"", "spec: [", "- a\n- b\n"} {
		if err := decode(t, m); err == nil || !strings.Contains(err.Error(), "parse manifest") {
			t.Errorf("decode(%q) = %v, want a parse error", m, err)
		}
	}
}
