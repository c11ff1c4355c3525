package controller_test

import (
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// mutateAs is mutate as another user, whom the API server authenticates
// (impersonated by the suite's administrator), so the admission webhook
// stamps that user on an approval.
func mutateAs(t *testing.T, user string, key client.ObjectKey, change func(*paymentsv1alpha1.PaymentMigration)) {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, UID: "uid-" + user, Groups: []string{"system:masters"}}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var pm paymentsv1alpha1.PaymentMigration
		if err := c.Get(t.Context(), key, &pm); err != nil {
			return err
		}
		change(&pm)
		return c.Update(t.Context(), &pm)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// historyEntry is the first history entry whose message contains text.
func historyEntry(pm *paymentsv1alpha1.PaymentMigration, text string) (paymentsv1alpha1.HistoryEntry, bool) {
	for _, h := range pm.Status.History {
		if strings.Contains(h.Message, text) {
			return h, true
		}
	}
	return paymentsv1alpha1.HistoryEntry{}, false
}
