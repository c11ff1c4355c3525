package api_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

const samplePath = "../../config/samples/payments_v1alpha1_paymentmigration.yaml"

// sample returns the shipped sample as an unstructured object, renamed so that
// tests do not collide.
func sample(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Clean(samplePath))
	if err != nil {
		t.Fatalf("reading sample: %v", err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
		t.Fatalf("parsing sample: %v", err)
	}
	obj.SetName(name)
	return obj
}

// minimal is a PaymentMigration with only the required field, so everything else
// comes from the API server's defaults.
func minimal(name, suffix string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": paymentsv1alpha1.GroupVersion.String(),
		"kind":       "PaymentMigration",
		"metadata":   map[string]any{"name": name, "namespace": "default"},
		"spec":       map[string]any{"environmentSuffix": suffix},
	}}
}

func TestCRDIsInstalledWithPrinterColumns(t *testing.T) {
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := k8s.Get(ctx(t), types.NamespacedName{Name: "paymentmigrations.payments.tapstack.io"}, crd); err != nil {
		t.Fatalf("CRD not installed: %v", err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("want one served version, got %d", len(versions))
	}
	v := versions[0].(map[string]any)
	// The default view; columns of priority > 0 show with -o wide only.
	var names []string
	cols, _, _ := unstructured.NestedSlice(v, "additionalPrinterColumns")
	for _, c := range cols {
		if p, _ := c.(map[string]any)["priority"].(int64); p > 0 {
			continue
		}
		names = append(names, strings.ToUpper(c.(map[string]any)["name"].(string)))
	}
	want := []string{"PHASE", "STACK", "REPLICATION", "LAG", "TARGET%", "CUTOVER", "WRITER", "GATES", "READY", "AGE"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("printer columns = %v, want %v", names, want)
	}
	short, _, _ := unstructured.NestedStringSlice(crd.Object, "spec", "names", "shortNames")
	if len(short) != 1 || short[0] != "pm" {
		t.Errorf("short names = %v, want [pm]", short)
	}
	if _, ok, _ := unstructured.NestedMap(v, "subresources", "status"); !ok {
		t.Error("status subresource is not enabled")
	}
}

func TestSampleIsAccepted(t *testing.T) {
	obj := sample(t, "sample-accepted")
	if err := k8s.Create(ctx(t), obj); err != nil {
		t.Fatalf("the shipped sample was rejected: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx(t), obj) })

	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(obj), &pm); err != nil {
		t.Fatal(err)
	}
	if pm.Spec.EnvironmentSuffix != "pr6185" || pm.Spec.Tags["Owner"] != "payments-platform" {
		t.Errorf("sample fields lost: suffix %q, tags %v", pm.Spec.EnvironmentSuffix, pm.Spec.Tags)
	}
	// Fields the sample leaves out are still defaulted.
	if pm.Spec.Cutover.Gates.ConsecutiveLagSamples != 3 || pm.Spec.Traffic.HealthCheck.RequestIntervalSeconds != 30 {
		t.Errorf("defaults missing from the sample's unset fields: %+v %+v", pm.Spec.Cutover.Gates, pm.Spec.Traffic.HealthCheck)
	}
}

func TestEveryDefaultMatchesTheSpecification(t *testing.T) {
	obj := minimal("defaults", "dflt")
	if err := k8s.Create(ctx(t), obj); err != nil {
		t.Fatalf("minimal object rejected: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx(t), obj) })

	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(obj), &pm); err != nil {
		t.Fatal(err)
	}
	s := pm.Spec
	checks := []struct {
		field     string
		got, want any
	}{
		{"tags.Environment", s.Tags["Environment"], "dev"},
		{"tags.MigrationPhase", s.Tags["MigrationPhase"], "migration"},
		{"tags.CostCenter", s.Tags["CostCenter"], "payments"},
		{"network.vpcCIDR", s.Network.VPCCIDR, "10.0.0.0/16"},
		{"network.natGateways", s.Network.NATGateways, paymentsv1alpha1.NATGatewaysOnePerAZ},
		{"database.engineVersion", s.Database.EngineVersion, "14"},
		{"database.instanceClass", s.Database.InstanceClass, "db.r5.large"},
		{"database.allocatedStorageGiB", s.Database.AllocatedStorageGiB, int32(100)},
		{"database.backupRetentionDays", s.Database.BackupRetentionDays, int32(7)},
		{"database.databaseName", s.Database.DatabaseName, "payments"},
		{"database.masterUsername", s.Database.MasterUsername, "paymentsadmin"},
		{"database.allowRebootForParameterApply", s.Database.AllowRebootForParameterApply, false},
		{"replication.engineVersion", s.Replication.EngineVersion, "3.5.4"},
		{"replication.instanceClass", s.Replication.InstanceClass, "dms.r5.large"},
		{"replication.allocatedStorageGiB", s.Replication.AllocatedStorageGiB, int32(100)},
		{"replication.migrationType", s.Replication.MigrationType, paymentsv1alpha1.MigrationTypeFullLoadAndCDC},
		{"replication.schema", s.Replication.Schema, "public"},
		{"replication.tables", strings.Join(s.Replication.Tables, ","), "payments,transactions,refunds,payment_%"},
		{"replication.validation", deref(s.Replication.Validation), true},
		{"replication.lagThresholdSeconds", s.Replication.LagThresholdSeconds, int32(60)},
		{"replication.createServiceRoles", deref(s.Replication.CreateServiceRoles), true},
		{"replication.lobMode", s.Replication.LOBMode, paymentsv1alpha1.LOBModeLimited},
		{"replication.lobMaxSizeKiB", s.Replication.LOBMaxSizeKiB, int32(32)},
		{"replication.paused", s.Replication.Paused, false},
		{"storage.glacierTransitionDays", s.Storage.GlacierTransitionDays, int32(90)},
		{"service.image", s.Service.Image, "nginx:latest"},
		{"service.port", s.Service.Port, int32(80)},
		{"service.cpu", s.Service.CPU, int32(256)},
		{"service.memoryMiB", s.Service.MemoryMiB, int32(512)},
		{"service.desiredCount", s.Service.DesiredCount, int32(2)},
		{"service.minCapacity", s.Service.MinCapacity, int32(2)},
		{"service.maxCapacity", s.Service.MaxCapacity, int32(10)},
		{"service.cpuTargetPercent", s.Service.CPUTargetPercent, int32(70)},
		{"service.memoryTargetPercent", s.Service.MemoryTargetPercent, int32(80)},
		{"service.healthCheckPath", s.Service.HealthCheckPath, "/"},
		{"traffic.hostedZoneName", s.Traffic.HostedZoneName, "payments.internal"},
		{"traffic.recordName", s.Traffic.RecordName, "api"},
		{"traffic.recordTTLSeconds", s.Traffic.RecordTTLSeconds, int32(60)},
		{"traffic.healthCheck.path", s.Traffic.HealthCheck.Path, "/"},
		{"traffic.healthCheck.requestIntervalSeconds", s.Traffic.HealthCheck.RequestIntervalSeconds, int32(30)},
		{"traffic.healthCheck.failureThreshold", s.Traffic.HealthCheck.FailureThreshold, int32(3)},
		{"cutover.approval", s.Cutover.Approval, paymentsv1alpha1.ApprovalManual},
		{"cutover.approved", s.Cutover.Approved, false},
		{"cutover.steps", joinInts(s.Cutover.Steps), "10,25,50,100"},
		{"cutover.stepIntervalSeconds", s.Cutover.StepIntervalSeconds, int32(120)},
		{"cutover.autoRollback", deref(s.Cutover.AutoRollback), true},
		{"cutover.gates.consecutiveLagSamples", s.Cutover.Gates.ConsecutiveLagSamples, int32(3)},
		{"cutover.gates.requireValidation", deref(s.Cutover.Gates.RequireValidation), true},
		{"cutover.gates.requireTargetHealthy", deref(s.Cutover.Gates.RequireTargetHealthy), true},
		{"deletionPolicy", s.DeletionPolicy, paymentsv1alpha1.DeletionPolicyDelete},
		{"sqlRunner.mode", s.SQLRunner.Mode, paymentsv1alpha1.SQLRunnerDirect},
		{"sqlRunner.image", s.SQLRunner.Image, "public.ecr.aws/docker/library/postgres:15-alpine"},
		// Region has no API-server default: the operator's flag decides it and
		// pins it in status on first sight.
		{"region", s.Region, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("spec.%s defaulted to %v, want %v", c.field, c.got, c.want)
		}
	}
}

func deref(b *bool) any {
	if b == nil {
		return "<nil>"
	}
	return *b
}

func joinInts(xs []int32) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(int(x))
	}
	return strings.Join(parts, ",")
}
