package e2e

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

const (
	samplePath  = "../../config/samples/payments_v1alpha1_paymentmigration.yaml"
	stackTimout = 3 * time.Minute
)

// TestTapStackLifecycle applies the shipped sample and follows it through the
// stack's whole life: creation, inspection of every deployed resource, an
// update, and deletion. The steps share one stack, so they run in order.
func TestTapStackLifecycle(t *testing.T) {
	sample := readSample(t)
	key := client.ObjectKeyFromObject(sample)
	if err := k8s.Create(t.Context(), sample); err != nil {
		t.Fatalf("applying the sample: %v", err)
	}
	names := naming.New("pr6185")

	var pm *paymentsv1alpha1.PaymentMigration
	if !t.Run("CreateReachesStackReady", func(t *testing.T) {
		pm = waitFor(t, key, stackTimout, "StackReady", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
		})
		st := pm.Status.Stack
		if st.Name != names.Stack() || st.Status != "CREATE_COMPLETE" || !strings.Contains(st.ID, ":stack/"+names.Stack()+"/") {
			t.Errorf("status.stack = %s %s %s", st.Name, st.Status, st.ID)
		}
		if len(st.Outputs) < 33 {
			t.Errorf("%d outputs in status, want every output (33+)", len(st.Outputs))
		}
		if pm.Status.Phase != paymentsv1alpha1.PhasePreflight || condStatus(pm, paymentsv1alpha1.ConditionReady) != metav1.ConditionTrue {
			t.Errorf("phase %s, Ready %s", pm.Status.Phase, condStatus(pm, paymentsv1alpha1.ConditionReady))
		}
	}) {
		t.FailNow()
	}

	t.Run("PrinterColumns", func(t *testing.T) {
		out := kubectl(t, "get", "paymentmigration", key.Name, "-n", key.Namespace)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("kubectl get printed:\n%s", out)
		}
		header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
		want := []string{"NAME", "PHASE", "STACK", "REPLICATION", "LAG", "TARGET%", "READY", "AGE"}
		if strings.Join(header, " ") != strings.Join(want, " ") {
			t.Errorf("columns %v, want %v", header, want)
		}
		// REPLICATION, LAG and TARGET% are empty until DMS runs, so the row has
		// fewer fields than the header.
		if len(row) < 5 || row[0] != key.Name || row[1] != "Preflight" || row[2] != "CREATE_COMPLETE" || row[3] != "True" {
			t.Errorf("row %v", row)
		}
	})

	d := deployed{names: names, outputs: pm.Status.Stack.Outputs}
	t.Run("Resources", func(t *testing.T) {
		for _, c := range resourceChecks {
			t.Run(c.name, func(t *testing.T) { c.check(t, d) })
		}
	})

	t.Run("TagChangeRunsAChangeSet", func(t *testing.T) {
		pm := get(t, key)
		oldHash := pm.Status.Stack.TemplateHash
		pm.Spec.Tags["MigrationPhase"] = "rehearsal"
		if err := k8s.Update(t.Context(), pm); err != nil {
			t.Fatal(err)
		}
		pm = waitFor(t, key, stackTimout, "the update to complete", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.ObservedGeneration == pm.Generation && pm.Status.Stack.TemplateHash != oldHash &&
				pm.Status.Stack.Status == "UPDATE_COMPLETE" && condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
		})
		stacks, err := cloudformation.NewFromConfig(awsCfg).DescribeStacks(callCtx(t), &cloudformation.DescribeStacksInput{StackName: aws.String(names.Stack())})
		if err != nil {
			t.Fatal(err)
		}
		var tag string
		for _, tg := range stacks.Stacks[0].Tags {
			if aws.ToString(tg.Key) == "MigrationPhase" {
				tag = aws.ToString(tg.Value)
			}
		}
		if tag != "rehearsal" {
			t.Errorf("stack tag MigrationPhase = %q after the update", tag)
		}
	})

	// A second migration in the same account cannot own the account-wide DMS
	// roles the first one created: its creation fails on that resource, the
	// condition says so, and switching createServiceRoles off recovers it.
	t.Run("FailedResourceIsNamedAndAFixedSpecRecovers", func(t *testing.T) {
		second := newMigration("payments-clash", "clash")
		if err := k8s.Create(t.Context(), second); err != nil {
			t.Fatal(err)
		}
		key2 := client.ObjectKeyFromObject(second)
		pm := waitFor(t, key2, stackTimout, "creation given up", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return pm.Status.Phase == paymentsv1alpha1.PhaseFailed
		})
		c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionStackReady)
		// Both account-wide roles clash and neither depends on the other, so
		// CloudFormation may report either first.
		named := func(msg string) bool {
			return strings.Contains(msg, "DmsVpcRole (AWS::IAM::Role) failed") || strings.Contains(msg, "DmsCloudWatchLogsRole (AWS::IAM::Role) failed")
		}
		if c.Status != metav1.ConditionFalse || c.Reason != "CreateFailed" || !named(c.Message) {
			t.Errorf("StackReady = %s/%s %q, want it to name the clashing DMS role", c.Status, c.Reason, c.Message)
		}
		if !named(pm.Status.Stack.Reason) || pm.Status.Stack.Status != "ROLLBACK_COMPLETE" {
			t.Errorf("status.stack = %s %q", pm.Status.Stack.Status, pm.Status.Stack.Reason)
		}

		off := false
		pm.Spec.Replication.CreateServiceRoles = &off
		if err := k8s.Update(t.Context(), pm); err != nil {
			t.Fatal(err)
		}
		waitFor(t, key2, stackTimout, "the fixed spec to deploy", func(pm *paymentsv1alpha1.PaymentMigration) bool {
			return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue && pm.Status.Phase == paymentsv1alpha1.PhasePreflight
		})
		if err := k8s.Delete(t.Context(), get(t, key2)); err != nil {
			t.Fatal(err)
		}
		eventually(t, stackTimout, "the second migration to be gone", func() (bool, error) {
			err := k8s.Get(t.Context(), key2, &paymentsv1alpha1.PaymentMigration{})
			return apierrors.IsNotFound(err), err
		})
	})

	t.Run("DeletionEmptiesBucketsAndRemovesTheStack", func(t *testing.T) {
		s3c := s3Client()
		source, target := d.outputs["SourceBucketName"], d.outputs["TargetBucketName"]
		for _, body := range []string{"v1", "v2"} {
			if _, err := s3c.PutObject(callCtx(t), &s3.PutObjectInput{Bucket: aws.String(source), Key: aws.String("logs/2026/11/27.log"), Body: strings.NewReader(body)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s3c.DeleteObject(callCtx(t), &s3.DeleteObjectInput{Bucket: aws.String(source), Key: aws.String("logs/2026/11/27.log")}); err != nil {
			t.Fatal(err) // leaves two versions and a delete marker
		}
		if _, err := s3c.PutObject(callCtx(t), &s3.PutObjectInput{Bucket: aws.String(target), Key: aws.String("audit/1.json"), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}

		if err := k8s.Delete(t.Context(), get(t, key)); err != nil {
			t.Fatal(err)
		}
		eventually(t, stackTimout, "the PaymentMigration to be gone", func() (bool, error) {
			err := k8s.Get(t.Context(), key, &paymentsv1alpha1.PaymentMigration{})
			return apierrors.IsNotFound(err), err
		})
		_, err := cloudformation.NewFromConfig(awsCfg).DescribeStacks(callCtx(t), &cloudformation.DescribeStacksInput{StackName: aws.String(names.Stack())})
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("stack still described after deletion: %v", err)
		}
		for _, bucket := range []string{source, target} {
			_, err := s3c.HeadBucket(callCtx(t), &s3.HeadBucketInput{Bucket: aws.String(bucket)})
			var notFound *s3types.NotFound
			if !errors.As(err, &notFound) {
				t.Errorf("bucket %s still exists: %v", bucket, err)
			}
		}
	})
}

func newMigration(name, suffix string) *paymentsv1alpha1.PaymentMigration {
	return &paymentsv1alpha1.PaymentMigration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: suffix, Region: region},
	}
}

func readSample(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

func get(t *testing.T, key client.ObjectKey) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	if err := k8s.Get(t.Context(), key, &pm); err != nil {
		t.Fatal(err)
	}
	return &pm
}

func waitFor(t *testing.T, key client.ObjectKey, timeout time.Duration, what string, cond func(*paymentsv1alpha1.PaymentMigration) bool) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	eventually(t, timeout, what, func() (bool, error) {
		err := k8s.Get(t.Context(), key, &pm)
		return err == nil && cond(&pm), err
	})
	return &pm
}

func condStatus(pm *paymentsv1alpha1.PaymentMigration, condType string) metav1.ConditionStatus {
	if c := meta.FindStatusCondition(pm.Status.Conditions, condType); c != nil {
		return c.Status
	}
	return ""
}
