package webhook_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/approval"
)

const (
	by  = approval.AnnotationApprovedBy
	uid = approval.AnnotationApprovedByUID
	at  = approval.AnnotationApprovedAt
)

func migration(name string, approved bool, annotations map[string]string) *paymentsv1alpha1.PaymentMigration {
	suffix := strings.ReplaceAll(name, "-", "")
	pm := &paymentsv1alpha1.PaymentMigration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations},
		Spec:       paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: suffix[:min(len(suffix), 21)]},
	}
	pm.Spec.Cutover.Approved = approved
	return pm
}

// create stores pm as c and removes it when the test ends.
func create(t *testing.T, c client.Client, pm *paymentsv1alpha1.PaymentMigration) client.ObjectKey {
	t.Helper()
	if err := c.Create(t.Context(), pm); err != nil {
		t.Fatalf("creating %s: %v", pm.Name, err)
	}
	key := client.ObjectKeyFromObject(pm)
	t.Cleanup(func() { remove(key) })
	return key
}

// remove deletes a test's migration once it ended (its context is gone by
// then), finalizers and all.
func remove(key client.ObjectKey) {
	ctx := context.Background()
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	_ = admin.Patch(ctx, pm, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
	_ = admin.Delete(ctx, pm)
}

func get(t *testing.T, key client.ObjectKey) *paymentsv1alpha1.PaymentMigration {
	t.Helper()
	var pm paymentsv1alpha1.PaymentMigration
	if err := admin.Get(t.Context(), key, &pm); err != nil {
		t.Fatal(err)
	}
	return &pm
}

// stampOf is the part of pm's annotations the webhook owns.
func stampOf(pm *paymentsv1alpha1.PaymentMigration) map[string]string {
	s := map[string]string{}
	for _, k := range approval.Keys {
		if v, ok := pm.Annotations[k]; ok {
			s[k] = v
		}
	}
	return s
}

func patch(t *testing.T, u *user, key client.ObjectKey, pt types.PatchType, body string) {
	t.Helper()
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	if err := u.Patch(t.Context(), pm, client.RawPatch(pt, []byte(body))); err != nil {
		t.Fatalf("%s's patch %s: %v", u.name, body, err)
	}
}

// approve sets spec.cutover.approved as u, the way the README's kubectl
// patch does, and returns the window the stamp's time must fall in.
func approve(t *testing.T, u *user, key client.ObjectKey, approved bool) (from, to time.Time) {
	t.Helper()
	from = time.Now().Truncate(time.Second)
	patch(t, u, key, types.MergePatchType, fmt.Sprintf(`{"spec":{"cutover":{"approved":%v}}}`, approved))
	return from, time.Now()
}

// wantStamp: pm is stamped as approved by u, at a time in [from, to].
func wantStamp(t *testing.T, pm *paymentsv1alpha1.PaymentMigration, u *user, from, to time.Time) {
	t.Helper()
	s, ok := approval.Read(pm.Annotations)
	if !ok || s.By != u.name || s.UID != u.uid {
		t.Fatalf("stamp %v, want %s (%s)", stampOf(pm), u.name, u.uid)
	}
	if s.At.Before(from) || s.At.After(to) {
		t.Errorf("stamped at %s, want within [%s, %s]", s.At, from, to)
	}
}

// wantWarned: the last requests of u were told their stamp was not kept.
func wantWarned(t *testing.T, u *user) {
	t.Helper()
	w := u.warnings.take()
	for _, text := range w {
		if strings.Contains(text, "payments.tapstack.io/approved-") && strings.Contains(text, "not kept") {
			return
		}
	}
	t.Errorf("%s was not warned that the stamp was not kept; warnings: %q", u.name, w)
}

func TestApprovingStampsTheRequestingUser(t *testing.T) {
	key := create(t, admin, migration("approve", false, nil))
	if s := stampOf(get(t, key)); len(s) != 0 {
		t.Fatalf("an unapproved migration is stamped: %v", s)
	}
	alice := as(t, "alice", "uid-alice")
	from, to := approve(t, alice, key, true)
	wantStamp(t, get(t, key), alice, from, to)
	if w := alice.warnings.take(); len(w) != 0 {
		t.Errorf("an honest approval was warned: %q", w)
	}
}

// Whatever another user does to the stamp of an approved migration, the
// request goes through and the stamp stays as it was, and the user is told.
func TestAnotherUserCannotWriteOrRemoveTheStamp(t *testing.T) {
	key := create(t, admin, migration("forge", false, map[string]string{"team": "payments"}))
	alice, bob := as(t, "alice", "uid-alice"), as(t, "bob", "uid-bob")
	approve(t, alice, key, true)
	stamped := stampOf(get(t, key))
	forgeries := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"merge patch of the approver", func(t *testing.T) {
			patch(t, bob, key, types.MergePatchType, `{"metadata":{"annotations":{"`+by+`":"bob"}}}`)
		}},
		{"merge patch of the time and UID", func(t *testing.T) {
			patch(t, bob, key, types.MergePatchType, `{"metadata":{"annotations":{"`+at+`":"2020-01-01T00:00:00Z","`+uid+`":"uid-bob"}}}`)
		}},
		{"merge patch removing the approver", func(t *testing.T) {
			patch(t, bob, key, types.MergePatchType, `{"metadata":{"annotations":{"`+by+`":null}}}`)
		}},
		{"JSON patch removing every annotation", func(t *testing.T) {
			patch(t, bob, key, types.JSONPatchType, `[{"op":"remove","path":"/metadata/annotations"}]`)
		}},
		{"update of the whole object", func(t *testing.T) {
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				var pm paymentsv1alpha1.PaymentMigration
				if err := bob.Get(t.Context(), key, &pm); err != nil {
					return err
				}
				pm.Annotations[by] = "bob"
				return bob.Update(t.Context(), &pm)
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"server-side apply taking the annotation over", func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": paymentsv1alpha1.GroupVersion.String(), "kind": "PaymentMigration",
				"metadata": map[string]any{"name": key.Name, "namespace": key.Namespace, "annotations": map[string]any{by: "bob"}},
			}}
			if err := bob.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("bob-tool"), client.ForceOwnership); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, f := range forgeries {
		t.Run(f.name, func(t *testing.T) {
			patch(t, alice, key, types.MergePatchType, `{"metadata":{"annotations":{"team":"payments"}}}`)
			f.do(t)
			pm := get(t, key)
			if got := stampOf(pm); !maps.Equal(got, stamped) {
				t.Errorf("stamp %v after the forgery, want %v", got, stamped)
			}
			if _, kept := pm.Annotations["team"]; kept == strings.HasPrefix(f.name, "JSON patch removing every") {
				t.Errorf("annotations %v: the forgery's other changes must stand", pm.Annotations)
			}
			wantWarned(t, bob)
		})
	}
}

// On a migration nobody approved, a stamp written by a user is removed.
func TestAForgedStampWithoutApprovalIsRemoved(t *testing.T) {
	bob := as(t, "bob", "uid-bob")
	key := create(t, bob, migration("forged-create", false, map[string]string{by: "alice", at: "2026-03-01T09:00:00Z", "team": "payments"}))
	wantWarned(t, bob)
	patch(t, bob, key, types.MergePatchType, `{"metadata":{"annotations":{"`+by+`":"alice"}}}`)
	wantWarned(t, bob)
	pm := get(t, key)
	if s := stampOf(pm); len(s) != 0 || pm.Annotations["team"] != "payments" {
		t.Errorf("annotations %v: want the stamp removed and the rest kept", pm.Annotations)
	}
}

// A request that approves and writes a stamp of its own is stamped with
// its real user: on update and on create.
func TestApprovingWithAForgedStampStampsTheRealUser(t *testing.T) {
	bob := as(t, "bob", "uid-bob")
	key := create(t, admin, migration("approve-forged", false, nil))
	from := time.Now().Truncate(time.Second)
	patch(t, bob, key, types.MergePatchType, `{"metadata":{"annotations":{"`+by+`":"alice","`+uid+`":"uid-alice","`+at+`":"2020-01-01T00:00:00Z"}},"spec":{"cutover":{"approved":true}}}`)
	wantStamp(t, get(t, key), bob, from, time.Now())
	wantWarned(t, bob)

	from = time.Now().Truncate(time.Second)
	key = create(t, bob, migration("create-approved", true, map[string]string{by: "alice"}))
	wantStamp(t, get(t, key), bob, from, time.Now())
	wantWarned(t, bob)
}

// Withdrawing the approval removes the stamp; approving again stamps the
// new approver, at the new time.
func TestReapprovalStampsTheNewApprover(t *testing.T) {
	key := create(t, admin, migration("reapprove", false, nil))
	alice, bob, carol := as(t, "alice", "uid-alice"), as(t, "bob", "uid-bob"), as(t, "carol", "")
	approve(t, alice, key, true)
	first, _ := approval.Read(get(t, key).Annotations)
	approve(t, bob, key, false)
	if s := stampOf(get(t, key)); len(s) != 0 {
		t.Fatalf("stamp %v after the approval was withdrawn", s)
	}
	// The stamp has a resolution of a second: make the second one's differ.
	time.Sleep(time.Until(first.At.Add(time.Second)))
	from, to := approve(t, carol, key, true)
	pm := get(t, key)
	wantStamp(t, pm, carol, from, to)
	if _, has := pm.Annotations[uid]; has {
		t.Errorf("carol has no UID, but the stamp has one: %v", stampOf(pm))
	}
	for _, u := range []*user{alice, bob, carol} {
		if w := u.warnings.take(); len(w) != 0 {
			t.Errorf("%s was warned: %q", u.name, w)
		}
	}
}

// Edits that leave the approval alone, by users and by the operator (a
// finalizer), keep the stamp exactly and warn nobody.
func TestUpdatesThatLeaveTheApprovalAloneKeepTheStamp(t *testing.T) {
	key := create(t, admin, migration("unrelated", false, nil))
	alice, bob := as(t, "alice", "uid-alice"), as(t, "bob", "uid-bob")
	approve(t, alice, key, true)
	stamped := stampOf(get(t, key))
	patch(t, bob, key, types.MergePatchType, `{"metadata":{"labels":{"tier":"payments"},"annotations":{"payments.tapstack.io/allow-replacement":"TargetBucket"}},"spec":{"cutover":{"stepIntervalSeconds":300}}}`)
	patch(t, alice, key, types.MergePatchType, `{"spec":{"cutover":{"approved":true}}}`) // approved again while approved
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pm := get(t, key)
		pm.Finalizers = append(pm.Finalizers, "payments.tapstack.io/test")
		return admin.Update(t.Context(), pm)
	})
	if err != nil {
		t.Fatal(err)
	}
	pm := get(t, key)
	if got := stampOf(pm); !maps.Equal(got, stamped) {
		t.Errorf("stamp %v, want %v unchanged", got, stamped)
	}
	if pm.Spec.Cutover.StepIntervalSeconds != 300 || pm.Labels["tier"] != "payments" {
		t.Errorf("the edits were not stored: %+v %v", pm.Spec.Cutover, pm.Labels)
	}
	for _, u := range []*user{alice, bob} {
		if w := u.warnings.take(); len(w) != 0 {
			t.Errorf("%s was warned: %q", u.name, w)
		}
	}
}

// Approving through server-side apply (GitOps) stamps the applier; applying
// again, with or without other changes, keeps the stamp; an apply that
// withdraws the approval removes it.
func TestServerSideApplyStampsTheApplier(t *testing.T) {
	alice := as(t, "alice", "uid-alice")
	config := func(approved bool, labels map[string]any) runtime.ApplyConfiguration {
		return client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: map[string]any{
			"apiVersion": paymentsv1alpha1.GroupVersion.String(), "kind": "PaymentMigration",
			"metadata": map[string]any{"name": "applied", "namespace": "default", "labels": labels},
			"spec":     map[string]any{"environmentSuffix": "applied", "cutover": map[string]any{"approved": approved}},
		}})
	}
	apply := func(c runtime.ApplyConfiguration) {
		t.Helper()
		if err := alice.Apply(t.Context(), c, client.FieldOwner("gitops")); err != nil {
			t.Fatal(err)
		}
	}
	from := time.Now().Truncate(time.Second)
	apply(config(true, nil))
	key := client.ObjectKey{Namespace: "default", Name: "applied"}
	t.Cleanup(func() { remove(key) })
	wantStamp(t, get(t, key), alice, from, time.Now())
	stamped := stampOf(get(t, key))
	// The applier's own config never holds the stamp: applying it again (the
	// annotations absent from it) must not drop the stamp.
	apply(config(true, nil))
	apply(config(true, map[string]any{"tier": "payments"}))
	if got := stampOf(get(t, key)); !maps.Equal(got, stamped) {
		t.Errorf("stamp %v after re-applying, want %v", got, stamped)
	}
	if w := alice.warnings.take(); len(w) != 0 {
		t.Errorf("re-applying an unchanged approval was warned: %q", w)
	}
	apply(config(false, map[string]any{"tier": "payments"}))
	if s := stampOf(get(t, key)); len(s) != 0 {
		t.Errorf("stamp %v after an apply withdrew the approval", s)
	}
}

// The status subresource is not sent to the webhook, and cannot change
// annotations: the API server keeps the stored metadata on it.
func TestTheStatusSubresourceCannotChangeTheStamp(t *testing.T) {
	key := create(t, admin, migration("status", false, nil))
	alice, bob := as(t, "alice", "uid-alice"), as(t, "bob", "uid-bob")
	approve(t, alice, key, true)
	stamped := stampOf(get(t, key))
	before := calls(t)
	pm := get(t, key)
	pm.Annotations[by] = "bob"
	pm.Annotations["team"] = "payments"
	pm.Status.Phase = paymentsv1alpha1.PhaseProvisioning
	if err := bob.Status().Update(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	statusPatch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+by+`":"bob"}},"status":{"phase":"Failed"}}`))
	if err := bob.Status().Patch(t.Context(), get(t, key), statusPatch); err != nil {
		t.Fatal(err)
	}
	pm = get(t, key)
	if pm.Status.Phase != paymentsv1alpha1.PhaseFailed {
		t.Fatalf("the status writes did not land: phase %q", pm.Status.Phase)
	}
	if got := stampOf(pm); !maps.Equal(got, stamped) || pm.Annotations["team"] != "" {
		t.Errorf("annotations %v after status writes, want the stamp %v and nothing else", pm.Annotations, stamped)
	}
	if n := calls(t) - before; n != 0 {
		t.Errorf("the webhook was called %v times for status writes", n)
	}
	// The count is the webhook's: a write of the object itself is counted.
	patch(t, bob, key, types.MergePatchType, `{"metadata":{"labels":{"tier":"payments"}}}`)
	if calls(t) == before {
		t.Error("the webhook's request counter did not count a write of the object")
	}
}

// A dry run is admitted as the real request would be (sideEffects None) and
// stores nothing.
func TestADryRunApprovalIsStampedAndNotStored(t *testing.T) {
	key := create(t, admin, migration("dryrun", false, nil))
	alice := as(t, "alice", "uid-alice")
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	from := time.Now().Truncate(time.Second)
	if err := alice.Patch(t.Context(), pm, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cutover":{"approved":true}}}`)), client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	wantStamp(t, pm, alice, from, time.Now())
	if stored := get(t, key); stored.Spec.Cutover.Approved || len(stampOf(stored)) != 0 {
		t.Errorf("a dry run was stored: approved %v stamp %v", stored.Spec.Cutover.Approved, stampOf(stored))
	}
}

// failurePolicy Fail: while the webhook cannot be reached, the API server
// refuses every create and update of a migration, an approval above all,
// naming the webhook; nothing is stored. Once it serves again, so does the
// API server.
func TestWhileTheWebhookIsDownNothingIsStored(t *testing.T) {
	key := create(t, admin, migration("down", false, nil))
	alice := as(t, "alice", "uid-alice")
	if err := running.stop(); err != nil {
		t.Fatalf("stopping the webhook: %v", err)
	}
	running = nil
	t.Cleanup(func() {
		if running != nil {
			return
		}
		var err error
		if running, err = serve(); err != nil {
			t.Errorf("restarting the webhook: %v", err)
		}
	})

	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	err := alice.Patch(t.Context(), pm, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cutover":{"approved":true}}}`)))
	if err == nil || !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "approval.paymentmigrations.payments.tapstack.io") {
		t.Errorf("approval with the webhook down: %v; want refused, naming the webhook", err)
	}
	if err := alice.Create(t.Context(), migration("down-create", true, nil)); err == nil {
		t.Error("a create with the webhook down was stored")
		_ = admin.Delete(t.Context(), migration("down-create", true, nil))
	}
	if get(t, key).Spec.Cutover.Approved {
		t.Fatal("an approval was stored while the webhook was down")
	}

	if running, err = serve(); err != nil {
		t.Fatalf("restarting the webhook: %v", err)
	}
	from, to := approve(t, alice, key, true)
	wantStamp(t, get(t, key), alice, from, to)
}
