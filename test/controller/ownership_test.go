package controller_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
)

func notOwned(pm *paymentsv1alpha1.PaymentMigration) bool {
	return condition(pm, paymentsv1alpha1.ConditionStackReady).Reason == "StackNotOwned" && pm.Status.Phase == paymentsv1alpha1.PhaseFailed
}

func namespace(t *testing.T, name string) {
	t.Helper()
	if err := k8s.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// deleteAndWait deletes a migration and waits until its finalizer let it go.
func deleteAndWait(t *testing.T, pm *paymentsv1alpha1.PaymentMigration) {
	t.Helper()
	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pm)
	eventually(t, "the CR gone", func() (bool, error) {
		err := k8s.Get(t.Context(), key, &paymentsv1alpha1.PaymentMigration{})
		return apierrors.IsNotFound(err), err
	})
}

// Two migrations with one suffix in two namespaces: the first owns the stack;
// the second is told whose it is, and deleting it touches nothing of it.
func TestASecondMigrationWithTheSameSuffixNeverTouchesTheStack(t *testing.T) {
	namespace(t, "team-b")
	winner := waitFor(t, create(t, newMigration("winner", "shared", "us-east-1")), "StackReady", stackReady)
	loser := newMigration("loser", "shared", "us-east-1")
	loser.Namespace = "team-b"
	key := create(t, loser)
	pm := waitFor(t, key, "StackNotOwned", notOwned)
	c := condition(pm, paymentsv1alpha1.ConditionStackReady)
	if !strings.Contains(c.Message, "owned by PaymentMigration default/winner (uid "+string(winner.UID)+"), which exists") {
		t.Errorf("StackReady message %q does not name the owner", c.Message)
	}
	if pm.Status.Stack.Outputs != nil {
		t.Errorf("the other migration's outputs copied into status: %v", pm.Status.Stack.Outputs)
	}

	deletes, stops, updates := cloud.count("Delete"), cloud.count("StopReplicationTask"), cloud.count("Update")
	cloud.mu.Lock()
	emptiedBefore := len(cloud.batches[winner.Status.Stack.Outputs["SourceBucketName"]])
	cloud.mu.Unlock()
	deleteAndWait(t, pm)
	cloud.mu.Lock()
	emptied := len(cloud.batches[winner.Status.Stack.Outputs["SourceBucketName"]]) - emptiedBefore
	cloud.mu.Unlock()
	if cloud.count("Delete") != deletes || cloud.count("StopReplicationTask") != stops || cloud.count("Update") != updates || emptied != 0 {
		t.Errorf("deleting the loser touched the winner's stack: deletes %d->%d, stops %d->%d, updates %d->%d, bucket batches %d",
			deletes, cloud.count("Delete"), stops, cloud.count("StopReplicationTask"), updates, cloud.count("Update"), emptied)
	}
	if st, ok := cloud.stack("TapStackshared"); !ok || st.tags[stackplan.OwnerUIDTag] != string(winner.UID) {
		t.Errorf("the winner's stack after the loser's deletion: %+v", st)
	}
	waitForEvent(t, "loser", "StackNotOwned")
}

// A stack of the migration's name made by another tool is left alone, until
// the migration's annotation asks to adopt exactly it.
func TestAStackMadeElsewhereIsLeftAloneUntilAdopted(t *testing.T) {
	cloud.putStack("TapStackforeign", map[string]string{"Environment": "dev"})
	pm := newMigration("foreign", "foreign", "us-east-1")
	key := create(t, pm)
	got := waitFor(t, key, "StackNotOwned", notOwned)
	if c := condition(got, paymentsv1alpha1.ConditionStackReady); !strings.Contains(c.Message, "no PaymentMigration owns it") ||
		!strings.Contains(c.Message, "payments.tapstack.io/adopt-stack: TapStackforeign") {
		t.Errorf("StackReady %q", c.Message)
	}
	if cloud.count("Adopt") != 0 {
		t.Fatal("adopted without being asked")
	}

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
		pm.Annotations = map[string]string{stackplan.AdoptAnnotation: "TapStackforeign"}
	})
	got = waitFor(t, key, "StackReady after the adoption", stackReady)
	if st, _ := cloud.stack("TapStackforeign"); st.tags[stackplan.OwnerUIDTag] != string(got.UID) || st.tags[stackplan.OwnerTag] != "default/foreign" {
		t.Errorf("tags after adoption: %v", st.tags)
	}
	adopted := false
	for _, h := range got.Status.History {
		adopted = adopted || strings.Contains(h.Message, "adopting stack TapStackforeign, which no PaymentMigration owned")
	}
	if !adopted {
		t.Errorf("history does not record the adoption: %+v", got.Status.History)
	}
}

// A migration deleted with Retain leaves its stack; the same migration
// applied again (a new object, a new UID) does not take it silently.
func TestAReappliedMigrationAdoptsItsRetainedStackOnlyWhenAsked(t *testing.T) {
	pm := newMigration("again", "again", "us-east-1")
	pm.Spec.DeletionPolicy = paymentsv1alpha1.DeletionPolicyRetain
	first := waitFor(t, create(t, pm), "StackReady", stackReady)
	deleteAndWait(t, first)

	again := newMigration("again", "again", "us-east-1")
	key := create(t, again)
	got := waitFor(t, key, "StackNotOwned", notOwned)
	if c := condition(got, paymentsv1alpha1.ConditionStackReady); !strings.Contains(c.Message, "was owned by PaymentMigration default/again (uid "+string(first.UID)+"), which no longer exists") {
		t.Errorf("StackReady %q", c.Message)
	}
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) {
		pm.Annotations = map[string]string{stackplan.AdoptAnnotation: "TapStackagain"}
	})
	got = waitFor(t, key, "StackReady after the adoption", stackReady)
	if st, _ := cloud.stack("TapStackagain"); st.tags[stackplan.OwnerUIDTag] != string(got.UID) {
		t.Errorf("tags after adoption: %v", st.tags)
	}
}
