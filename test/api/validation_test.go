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

func set(value any, path ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		if err := unstructured.SetNestedField(u.Object, value, path...); err != nil {
			panic(fmt.Sprintf("setting %v: %v", path, err))
		}
	}
}

func unset(path ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, path...) }
}

func TestInvalidObjectsAreRejectedNamingTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*unstructured.Unstructured)
		field  string // must appear in the error
		reason string // and so must this, when set
	}{
		{"suffix missing", unset("spec", "environmentSuffix"), "spec.environmentSuffix", "Required"},
		{"suffix empty", set("", "spec", "environmentSuffix"), "spec.environmentSuffix", ""},
		{"suffix uppercase", set("PR6185", "spec", "environmentSuffix"), "spec.environmentSuffix", "should match"},
		{"suffix with dash", set("pr-6185", "spec", "environmentSuffix"), "spec.environmentSuffix", "should match"},
		{"suffix too long for the ALB name", set(strings.Repeat("a", 22), "spec", "environmentSuffix"), "spec.environmentSuffix", "may not be more than 21"},
		{"region malformed", set("US-EAST-1", "spec", "region"), "spec.region", "should match"},
		{"tag CostCenter missing", set(map[string]any{"Environment": "dev", "MigrationPhase": "m"}, "spec", "tags"), "spec.tags", "must contain Environment, MigrationPhase and CostCenter"},
		{"tag key reserved aws: prefix", set(map[string]any{"Environment": "dev", "MigrationPhase": "m", "CostCenter": "c", "aws:owner": "x"}, "spec", "tags"), "spec.tags", "aws: prefix"},
		{"VPC CIDR not a CIDR", set("10.0.0.0", "spec", "network", "vpcCIDR"), "spec.network.vpcCIDR", "IPv4 CIDR"},
		{"VPC CIDR too small for four subnets", set("10.0.0.0/24", "spec", "network", "vpcCIDR"), "spec.network.vpcCIDR", "between /16 and /22"},
		{"NAT gateway mode unknown", set("None", "spec", "network", "natGateways"), "spec.network.natGateways", "Unsupported value"},
		{"same availability zone twice", set([]any{"us-east-1a", "us-east-1a"}, "spec", "network", "availabilityZones"), "spec.network.availabilityZones", "two different zones"},
		{"PostgreSQL version not 14", set("15.4", "spec", "database", "engineVersion"), "spec.database.engineVersion", "should match"},
		{"DB storage below RDS minimum", set(int64(10), "spec", "database", "allocatedStorageGiB"), "spec.database.allocatedStorageGiB", "greater than or equal to 20"},
		{"backups off disables PITR", set(int64(0), "spec", "database", "backupRetentionDays"), "spec.database.backupRetentionDays", "greater than or equal to 1"},
		{"reserved master username", set("rdsadmin", "spec", "database", "masterUsername"), "spec.database.masterUsername", "reserved"},
		{"DMS engine version malformed", set("latest", "spec", "replication", "engineVersion"), "spec.replication.engineVersion", "should match"},
		{"migration type full-load only", set("full-load", "spec", "replication", "migrationType"), "spec.replication.migrationType", "Unsupported value"},
		{"no tables", set([]any{}, "spec", "replication", "tables"), "spec.replication.tables", "at least 1"},
		{"table repeated", set([]any{"payments", "payments"}, "spec", "replication", "tables"), "spec.replication.tables", "must not repeat"},
		{"table name with quote", set([]any{"payments;drop"}, "spec", "replication", "tables"), "spec.replication.tables[0]", "should match"},
		{"lag threshold zero", set(int64(0), "spec", "replication", "lagThresholdSeconds"), "spec.replication.lagThresholdSeconds", "greater than or equal to 1"},
		{"unknown LOB mode", set("Chunked", "spec", "replication", "lobMode"), "spec.replication.lobMode", "Unsupported value"},
		{"LOB limit zero", set(int64(0), "spec", "replication", "lobMaxSizeKiB"), "spec.replication.lobMaxSizeKiB", "greater than or equal to 1"},
		{"glacier transition zero", set(int64(0), "spec", "storage", "glacierTransitionDays"), "spec.storage.glacierTransitionDays", "greater than or equal to 1"},
		{"service port out of range", set(int64(70000), "spec", "service", "port"), "spec.service.port", "less than or equal to 65535"},
		{"Fargate CPU size unknown", set(int64(300), "spec", "service", "cpu"), "spec.service.cpu", "Unsupported value"},
		{"Fargate memory invalid for CPU", set(int64(4096), "spec", "service", "memoryMiB"), "spec.service.memoryMiB", "not a valid Fargate size"},
		{"desired count above max", set(int64(11), "spec", "service", "desiredCount"), "spec.service.desiredCount", "between service.minCapacity and service.maxCapacity"},
		{"CPU target above 95", set(int64(100), "spec", "service", "cpuTargetPercent"), "spec.service.cpuTargetPercent", "less than or equal to 95"},
		{"health check path relative", set("health", "spec", "service", "healthCheckPath"), "spec.service.healthCheckPath", "should match"},
		{"hosted zone not .internal", set("payments.example.com", "spec", "traffic", "hostedZoneName"), "spec.traffic.hostedZoneName", ".internal"},
		{"Route 53 interval not 10 or 30", set(int64(20), "spec", "traffic", "healthCheck", "requestIntervalSeconds"), "spec.traffic.healthCheck.requestIntervalSeconds", "Unsupported value"},
		{"Route 53 failure threshold 0", set(int64(0), "spec", "traffic", "healthCheck", "failureThreshold"), "spec.traffic.healthCheck.failureThreshold", "greater than or equal to 1"},
		{"Route 53 failure threshold 11", set(int64(11), "spec", "traffic", "healthCheck", "failureThreshold"), "spec.traffic.healthCheck.failureThreshold", "less than or equal to 10"},
		{"cutover steps not ending at 100", set([]any{int64(10), int64(50)}, "spec", "cutover", "steps"), "spec.cutover.steps", "must end at 100"},
		{"cutover steps decreasing", set([]any{int64(50), int64(25), int64(100)}, "spec", "cutover", "steps"), "spec.cutover.steps", "strictly increasing"},
		{"cutover steps repeated", set([]any{int64(10), int64(10), int64(100)}, "spec", "cutover", "steps"), "spec.cutover.steps", "strictly increasing"},
		{"cutover step above 100", set([]any{int64(50), int64(150)}, "spec", "cutover", "steps"), "spec.cutover.steps[1]", "less than or equal to 100"},
		{"approval mode unknown", set("Sometimes", "spec", "cutover", "approval"), "spec.cutover.approval", "Unsupported value"},
		{"step interval shorter than record TTL", set(int64(30), "spec", "cutover", "stepIntervalSeconds"), "spec.cutover.stepIntervalSeconds", "at least traffic.recordTTLSeconds"},
		{"lag samples zero", set(int64(0), "spec", "cutover", "gates", "consecutiveLagSamples"), "spec.cutover.gates.consecutiveLagSamples", "greater than or equal to 1"},
		{"alert email malformed", set("oncall", "spec", "alerts", "email"), "spec.alerts.email", "should match"},
		{"SQL runner unknown", set("Bastion", "spec", "sqlRunner", "mode"), "spec.sqlRunner.mode", "Unsupported value"},
		{"SQL runner image with a space", set("postgres 15", "spec", "sqlRunner", "image"), "spec.sqlRunner.image", "should match"},
		{"deletion policy unknown", set("Orphan", "spec", "deletionPolicy"), "spec.deletionPolicy", "Unsupported value"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := sample(t, fmt.Sprintf("invalid-%d", i))
			tc.mutate(obj)
			requireRejected(t, obj, tc.field, tc.reason)
		})
	}
}

// requireRejected creates obj and requires the API server to refuse it as
// Invalid, naming field and saying reason (when set).
func requireRejected(t *testing.T, obj *unstructured.Unstructured, field, reason string) {
	t.Helper()
	err := k8s.Create(ctx(t), obj)
	if err == nil {
		_ = k8s.Delete(ctx(t), obj)
		t.Fatalf("accepted; want rejection naming %s", field)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error, got %v", err)
	}
	if !strings.Contains(err.Error(), field) {
		t.Errorf("error does not name %s:\n%v", field, err)
	}
	if reason != "" && !strings.Contains(err.Error(), reason) {
		t.Errorf("error does not say %q:\n%v", reason, err)
	}
}

func TestImmutableFields(t *testing.T) {
	cases := []struct {
		name   string
		create func(*unstructured.Unstructured)
		update func(*paymentsv1alpha1.PaymentMigration)
		want   string
	}{
		{"environmentSuffix changed", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.EnvironmentSuffix = "pr6186" }, "environmentSuffix is immutable"},
		{"region changed", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Region = "eu-west-1" }, "region is immutable"},
		{"region removed", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Region = "" }, "region cannot be added or removed"},
		{"region added later", unset("spec", "region"), func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Region = "eu-west-1" }, "region cannot be added or removed"},
		// Each of these would make CloudFormation replace a database or the
		// network it lives in (issue 9): the API refuses them, naming the field.
		{"databaseName changed", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Database.DatabaseName = "ledger" }, "database.databaseName is immutable"},
		{"masterUsername changed", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Database.MasterUsername = "ledgeradmin" }, "database.masterUsername is immutable"},
		{"applicationUsername changed", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Database.ApplicationUsername = "ledger_app" }, "applicationUsername is immutable"},
		{"kmsKeyID added", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Database.KMSKeyID = "alias/payments" }, "database.kmsKeyID is immutable"},
		{"kmsKeyID changed", set("alias/payments", "spec", "database", "kmsKeyID"), func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Database.KMSKeyID = "alias/other" }, "database.kmsKeyID is immutable"},
		{"kmsKeyID removed", set("alias/payments", "spec", "database", "kmsKeyID"), func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Database.KMSKeyID = "" }, "database.kmsKeyID is immutable"},
		{"vpcCIDR changed", nil, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Network.VPCCIDR = "10.1.0.0/16" }, "network.vpcCIDR is immutable"},
		{"availabilityZones pinned later", nil, func(pm *paymentsv1alpha1.PaymentMigration) {
			pm.Spec.Network.AvailabilityZones = []string{"us-east-1a", "us-east-1b"}
		}, "network.availabilityZones is immutable"},
		{"availabilityZones changed", set([]any{"us-east-1a", "us-east-1b"}, "spec", "network", "availabilityZones"), func(pm *paymentsv1alpha1.PaymentMigration) {
			pm.Spec.Network.AvailabilityZones = []string{"us-east-1a", "us-east-1c"}
		}, "network.availabilityZones is immutable"},
		{"availabilityZones unpinned", set([]any{"us-east-1a", "us-east-1b"}, "spec", "network", "availabilityZones"), func(pm *paymentsv1alpha1.PaymentMigration) {
			pm.Spec.Network.AvailabilityZones = nil
		}, "network.availabilityZones is immutable"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := sample(t, fmt.Sprintf("immutable-%d", i))
			if tc.create != nil {
				tc.create(obj)
			}
			if err := k8s.Create(ctx(t), obj); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k8s.Delete(ctx(t), obj) })
			var pm paymentsv1alpha1.PaymentMigration
			if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(obj), &pm); err != nil {
				t.Fatal(err)
			}
			tc.update(&pm)
			err := k8s.Update(ctx(t), &pm)
			if err == nil {
				t.Fatalf("update accepted; want %q", tc.want)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want Invalid error saying %q, got %v", tc.want, err)
			}
		})
	}
}

func TestMutableFieldsCanChange(t *testing.T) {
	obj := sample(t, "mutable")
	if err := k8s.Create(ctx(t), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx(t), obj) })
	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(obj), &pm); err != nil {
		t.Fatal(err)
	}
	pm.Spec.Tags["Owner"] = "someone-else"
	pm.Spec.Cutover.Approved = true
	pm.Spec.Replication.Paused = true
	// What changes a database in place, without replacing it, stays editable.
	pm.Spec.Database.InstanceClass = "db.r5.xlarge"
	pm.Spec.Database.AllocatedStorageGiB = 200
	pm.Spec.Database.BackupRetentionDays = 14
	pm.Spec.Network.NATGateways = paymentsv1alpha1.NATGatewaysSingle
	pm.Spec.Storage.GlacierTransitionDays = 30
	pm.Spec.DeletionPolicy = paymentsv1alpha1.DeletionPolicySnapshot
	if err := k8s.Update(ctx(t), &pm); err != nil {
		t.Fatalf("a tag, the approval, the pause switch and in-place database, network and storage settings must stay editable, and deletionPolicy accept Snapshot: %v", err)
	}
}

func TestStatusIsWrittenOnlyThroughTheSubresource(t *testing.T) {
	obj := sample(t, "status-subresource")
	if err := k8s.Create(ctx(t), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx(t), obj) })
	key := client.ObjectKeyFromObject(obj)

	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(ctx(t), key, &pm); err != nil {
		t.Fatal(err)
	}
	pm.Status.Phase = paymentsv1alpha1.PhaseCompleted
	if err := k8s.Update(ctx(t), &pm); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx(t), key, &pm); err != nil {
		t.Fatal(err)
	}
	if pm.Status.Phase != "" {
		t.Fatalf("a main-resource update wrote status.phase=%q", pm.Status.Phase)
	}

	pm.Status.Phase = paymentsv1alpha1.PhaseProvisioning
	pm.Spec.Tags["Owner"] = "status-writer"
	if err := k8s.Status().Update(ctx(t), &pm); err != nil {
		t.Fatalf("status update: %v", err)
	}
	if err := k8s.Get(ctx(t), key, &pm); err != nil {
		t.Fatal(err)
	}
	if pm.Status.Phase != paymentsv1alpha1.PhaseProvisioning {
		t.Errorf("status subresource did not write the phase: %q", pm.Status.Phase)
	}
	if pm.Spec.Tags["Owner"] == "status-writer" {
		t.Error("a status update changed the spec")
	}
}
