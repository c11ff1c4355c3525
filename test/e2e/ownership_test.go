package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
	"github.com/tapstack/payment-migration-operator/internal/workload"
)

func stackNotOwned(pm *paymentsv1alpha1.PaymentMigration) bool {
	c := meta.FindStatusCondition(pm.Status.Conditions, paymentsv1alpha1.ConditionStackReady)
	return c != nil && c.Reason == "StackNotOwned" && pm.Status.Phase == paymentsv1alpha1.PhaseFailed
}

// A stack of the migration's name that another tool made is never updated
// or deleted by it.
func TestAStackMadeWithTheCLIIsLeftAlone(t *testing.T) {
	const template = `{"Resources":{"Topic":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":"made-elsewhere"}}}}`
	if _, err := emu.CLI(callCtx(t), "cloudformation", "create-stack", "--stack-name", "TapStackcli", "--template-body", template); err != nil {
		t.Fatal(err)
	}
	cfn := cloudformation.NewFromConfig(awsCfg)
	t.Cleanup(func() {
		_, _ = cfn.DeleteStack(t.Context(), &cloudformation.DeleteStackInput{StackName: aws.String("TapStackcli")})
	})
	pm := newMigration("payments-cli", "cli")
	if err := k8s.Create(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pm)
	got := waitFor(t, key, stackTimout, "StackNotOwned", stackNotOwned)
	if c := meta.FindStatusCondition(got.Status.Conditions, paymentsv1alpha1.ConditionStackReady); !strings.Contains(c.Message, "no PaymentMigration owns it") {
		t.Errorf("StackReady %q", c.Message)
	}
	deleteAndWait(t, key)
	out, err := cfn.DescribeStacks(callCtx(t), &cloudformation.DescribeStacksInput{StackName: aws.String("TapStackcli")})
	if err != nil || len(out.Stacks) != 1 || out.Stacks[0].StackStatus != "CREATE_COMPLETE" || len(out.Stacks[0].Tags) != 0 {
		t.Fatalf("the CLI's stack after the migration's deletion: %+v %v", out, err)
	}
	res, err := cfn.ListStackResources(callCtx(t), &cloudformation.ListStackResourcesInput{StackName: aws.String("TapStackcli")})
	if err != nil || len(res.StackResourceSummaries) != 1 {
		t.Errorf("the CLI's stack's resources: %+v %v", res, err)
	}
}

// Two migrations with one suffix in two namespaces: the second is told whose
// the stack is, and deleting it leaves the first one's stack, bucket versions
// and replication task exactly as they were.
func TestTheLosingMigrationOfOneSuffixTouchesNothing(t *testing.T) {
	if err := k8s.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	winner := newMigration("payments-twin", "twin")
	winner.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	if err := k8s.Create(t.Context(), winner); err != nil {
		t.Fatal(err)
	}
	winnerKey := client.ObjectKeyFromObject(winner)
	t.Cleanup(func() { deleteAndWait(t, winnerKey) })
	ready := waitFor(t, winnerKey, stackTimout, "StackReady", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
	})
	if _, err := workload.Seed(callCtx(t), openDatabase(t, ready.Status.Stack.Outputs["SourceDbSecretArn"]).pool, workload.SeedOptions{Rows: 100}); err != nil {
		t.Fatal(err)
	}
	ready = waitFor(t, winnerKey, stackTimout, "Replicating", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating
	})
	bucket := ready.Status.Stack.Outputs["SourceBucketName"]
	s3c := s3Client()
	for _, body := range []string{"v1", "v2", "v3"} {
		if _, err := s3c.PutObject(callCtx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("audit/1.json"), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}

	loser := newMigration("payments-twin", "twin")
	loser.Namespace = "team-b"
	if err := k8s.Create(t.Context(), loser); err != nil {
		t.Fatal(err)
	}
	loserKey := client.ObjectKeyFromObject(loser)
	got := waitFor(t, loserKey, stackTimout, "StackNotOwned", stackNotOwned)
	if c := meta.FindStatusCondition(got.Status.Conditions, paymentsv1alpha1.ConditionStackReady); !strings.Contains(c.Message, "owned by PaymentMigration default/payments-twin") {
		t.Errorf("StackReady %q does not name the owner", c.Message)
	}
	deleteAndWait(t, loserKey)

	stacks, err := cloudformation.NewFromConfig(awsCfg).DescribeStacks(callCtx(t), &cloudformation.DescribeStacksInput{StackName: aws.String("TapStacktwin")})
	if err != nil || len(stacks.Stacks) != 1 {
		t.Fatalf("the winner's stack: %v", err)
	}
	s := stacks.Stacks[0]
	owner := ""
	for _, tag := range s.Tags {
		if aws.ToString(tag.Key) == stackplan.OwnerUIDTag {
			owner = aws.ToString(tag.Value)
		}
	}
	if !strings.HasSuffix(string(s.StackStatus), "_COMPLETE") || strings.HasPrefix(string(s.StackStatus), "DELETE") || owner != string(ready.UID) || !aws.ToBool(s.EnableTerminationProtection) {
		t.Errorf("the winner's stack after the loser's deletion: %s, owner %q, protected %v", s.StackStatus, owner, aws.ToBool(s.EnableTerminationProtection))
	}
	versions, err := s3c.ListObjectVersions(callCtx(t), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil || len(versions.Versions) != 3 {
		t.Errorf("the winner's bucket holds %d versions after the loser's deletion, want 3 (%v)", len(versions.Versions), err)
	}
	if task := describeTask(t, ready.Status.Stack.Outputs["DMSTaskArn"]); aws.ToString(task.Status) != "running" {
		t.Errorf("the winner's task is %s after the loser's deletion", aws.ToString(task.Status))
	}
}
