package api_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

const appSecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-app-AbCdEf"

func awsSource() map[string]any {
	return map[string]any{"type": "AWS", "applicationSecretARN": appSecretARN, "aws": map[string]any{
		"dbInstanceIdentifier": "payments-prod", "securityGroupID": "sg-0123456789abcdef0", "bucketName": "payments-prod-logs",
		"masterSecretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1234-AbCdEf"}}
}

func withSource(mutate func(map[string]any)) func(*unstructured.Unstructured) {
	src := awsSource()
	mutate(src)
	return set(src, "spec", "source")
}

func TestAnExistingSourceIsValidatedNamingTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*unstructured.Unstructured)
		field  string
		reason string
	}{
		{"unknown source type", set(map[string]any{"type": "Existing"}, "spec", "source"), "spec.source.type", "Unsupported value"},
		{"AWS without aws", withSource(func(s map[string]any) { delete(s, "aws") }), "spec.source.aws", "required when source.type is AWS"},
		{"ACK with aws", withSource(func(s map[string]any) {
			s["type"] = "ACK"
			s["ack"] = map[string]any{"dbInstance": map[string]any{"name": "payments"}, "bucket": map[string]any{"name": "logs"}}
		}), "spec.source.aws", "only then"},
		{"existing without the application secret", withSource(func(s map[string]any) { delete(s, "applicationSecretARN") }), "spec.source.applicationSecretARN", "required with an existing source"},
		{"managed with an application secret", set(map[string]any{"type": "Managed", "applicationSecretARN": appSecretARN}, "spec", "source"), "spec.source.applicationSecretARN", "not allowed with a managed one"},
		{"managed with a load balancer", set(map[string]any{"type": "Managed", "loadBalancer": map[string]any{"dnsName": "lb.example.com", "canonicalHostedZoneID": "Z35SXDOTRQ7X7K"}}, "spec", "source"), "spec.source.loadBalancer", "a managed source has none"},
		{"application secret not an ARN", withSource(func(s map[string]any) { s["applicationSecretARN"] = "payments-app" }), "spec.source.applicationSecretARN", "Secrets Manager secret ARN"},
		{"master secret of another service", withSource(func(s map[string]any) {
			s["aws"].(map[string]any)["masterSecretARN"] = "arn:aws:ssm:us-east-1:123456789012:parameter/db"
		}), "spec.source.aws.masterSecretARN", "Secrets Manager secret ARN"},
		{"security group malformed", withSource(func(s map[string]any) { s["aws"].(map[string]any)["securityGroupID"] = "payments" }), "spec.source.aws.securityGroupID", "should match"},
		{"instance identifier with underscore", withSource(func(s map[string]any) { s["aws"].(map[string]any)["dbInstanceIdentifier"] = "payments_prod" }), "spec.source.aws.dbInstanceIdentifier", "should match"},
		{"bucket name uppercase", withSource(func(s map[string]any) { s["aws"].(map[string]any)["bucketName"] = "Payments" }), "spec.source.aws.bucketName", "should match"},
		{"ACK instance without a name", set(map[string]any{"type": "ACK", "applicationSecretARN": appSecretARN,
			"ack": map[string]any{"dbInstance": map[string]any{}, "bucket": map[string]any{"name": "logs"}}}, "spec", "source"), "spec.source.ack.dbInstance.name", "Required"},
		{"load balancer zone malformed", withSource(func(s map[string]any) {
			s["loadBalancer"] = map[string]any{"dnsName": "lb.example.com", "canonicalHostedZoneID": "us-east-1"}
		}), "spec.source.loadBalancer.canonicalHostedZoneID", "should match"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := sample(t, fmt.Sprintf("source-invalid-%d", i))
			tc.mutate(obj)
			requireRejected(t, obj, tc.field, tc.reason)
		})
	}
}

func TestTheSourceDefaultsToManaged(t *testing.T) {
	obj := sample(t, "source-default")
	unstructured.RemoveNestedField(obj.Object, "spec", "source")
	pm := createdMigration(t, obj)
	if pm.Spec.Source.Type != paymentsv1alpha1.SourceManaged {
		t.Errorf("spec.source.type = %q, want Managed", pm.Spec.Source.Type)
	}
}

// What a migration migrates from is fixed: the type from creation, the
// source itself once the operator has resolved it (status.source).
func TestTheSourceCannotBeSwitched(t *testing.T) {
	obj := sample(t, "source-switch")
	pm := createdMigration(t, obj)
	pm.Spec.Source = paymentsv1alpha1.SourceSpec{Type: paymentsv1alpha1.SourceAWS, ApplicationSecretARN: appSecretARN,
		AWS: &paymentsv1alpha1.AWSSource{DBInstanceIdentifier: "payments-prod", SecurityGroupID: "sg-0123456789abcdef0", BucketName: "payments-prod-logs",
			MasterSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-AbCdEf"}}
	err := k8s.Update(ctx(t), &pm)
	if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.source.type") || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("switching a managed source to an existing one: want an Invalid error naming spec.source.type, got %v", err)
	}

	existing := sample(t, "source-resolved")
	withSource(func(map[string]any) {})(existing)
	pm = createdMigration(t, existing)
	// Before the operator resolved it, a wrong identifier can be corrected.
	pm.Spec.Source.AWS.DBInstanceIdentifier = "payments-prod-2"
	if err := k8s.Update(ctx(t), &pm); err != nil {
		t.Fatalf("correcting an unresolved source: %v", err)
	}
	pm.Status.Source = &paymentsv1alpha1.SourceStatus{Type: paymentsv1alpha1.SourceAWS, DBInstanceIdentifier: "payments-prod-2"}
	if err := k8s.Status().Update(ctx(t), &pm); err != nil {
		t.Fatal(err)
	}
	update := func(mutate func(*paymentsv1alpha1.SourceSpec)) error {
		var cur paymentsv1alpha1.PaymentMigration
		if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(existing), &cur); err != nil {
			t.Fatal(err)
		}
		mutate(&cur.Spec.Source)
		return k8s.Update(ctx(t), &cur)
	}
	for name, mutate := range map[string]func(*paymentsv1alpha1.SourceSpec){
		"instance":           func(s *paymentsv1alpha1.SourceSpec) { s.AWS.DBInstanceIdentifier = "payments-prod-3" },
		"application secret": func(s *paymentsv1alpha1.SourceSpec) { s.ApplicationSecretARN = appSecretARN + "x" },
	} {
		if err := update(mutate); err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "once the source is resolved") {
			t.Errorf("changing the resolved source's %s: want an Invalid error, got %v", name, err)
		}
	}
	// The current service's load balancer may still be corrected.
	if err := update(func(s *paymentsv1alpha1.SourceSpec) {
		s.LoadBalancer = &paymentsv1alpha1.LoadBalancerReference{DNSName: "payments-123.us-east-1.elb.amazonaws.com", CanonicalHostedZoneID: "Z35SXDOTRQ7X7K"}
	}); err != nil {
		t.Errorf("setting the load balancer of a resolved source: %v", err)
	}
}

// createdMigration creates obj, deleted at the end of the test, and reads it
// back as the API server stored it (defaults applied).
func createdMigration(t *testing.T, obj *unstructured.Unstructured) paymentsv1alpha1.PaymentMigration {
	t.Helper()
	if err := k8s.Create(ctx(t), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx(t), obj) })
	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(obj), &pm); err != nil {
		t.Fatal(err)
	}
	return pm
}
