package install_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// justified are the permissions the install grants the manager that one
// migration's run does not exercise, each with the code path that needs it.
// Everything else granted must be seen used; a permission nothing uses any
// more must be removed from its marker or Role, and from this table.
var justified = map[string]string{
	// client-go's reflector streams the cache's initial list as a watch
	// (WatchListClient, on by default since client-go 1.35) and falls back
	// to a paginated list where the API server cannot (its WatchList
	// feature off, or older servers).
	"list paymentmigrations.payments.tapstack.io": "the cache's initial list where the API server cannot stream it",
	// client-go's tools/events broadcaster sends an Event that repeats
	// within six minutes (same object, reason, action) as a patch of the
	// first one's series; a run that never repeats one only creates.
	"patch events.events.k8s.io": "the reconciler's Event series (client-go tools/events)",
	// The legacy recorder leader election uses (client-go tools/record)
	// patches the count of an Event it already sent: a replica that loses
	// and regains the lease within the aggregation window.
	"patch events.core": "leader election's repeated Event (client-go tools/record)",
}

// managerNamespace stands, in denied, for the namespace the install puts
// the manager in.
const managerNamespace = "<manager's>"

// denied are requests the manager must never be able to make: it reads no
// Kubernetes Secret (its database credentials are in AWS Secrets Manager,
// read with the pod's AWS identity), runs nothing, creates and deletes no
// PaymentMigration, and changes no RBAC, CRD or Lease outside its namespace.
var denied = []access{
	{Verb: "get", Resource: "secrets"},
	{Verb: "list", Resource: "secrets"},
	{Verb: "watch", Resource: "secrets"},
	{Verb: "get", Resource: "secrets", Namespace: managerNamespace},
	{Verb: "list", Resource: "secrets", Namespace: "payments"},
	{Verb: "list", Resource: "pods"},
	{Verb: "create", Resource: "pods", Namespace: "payments"},
	{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: managerNamespace},
	{Verb: "get", Resource: "configmaps", Namespace: managerNamespace},
	{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: managerNamespace},
	{Verb: "impersonate", Resource: "users"},
	{Verb: "create", Group: "payments.tapstack.io", Resource: "paymentmigrations", Namespace: "payments"},
	{Verb: "delete", Group: "payments.tapstack.io", Resource: "paymentmigrations", Namespace: "payments"},
	{Verb: "deletecollection", Group: "payments.tapstack.io", Resource: "paymentmigrations", Namespace: "payments"},
	{Verb: "update", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
	{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
	{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
	{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system"},
	{Verb: "delete", Group: "coordination.k8s.io", Resource: "leases", Namespace: managerNamespace},
	{Verb: "get", Path: "/metrics"},
}

// The manager runs a migration through every phase as its service account;
// every request it made must be allowed, and every permission it has must
// have been used or be justified above.
func TestManagerRBACIsExactlyWhatTheManagerDoes(t *testing.T) {
	ctx := t.Context()
	sa, err := one[corev1.ServiceAccount](install, "ServiceAccount")
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	cloud := newFakeCloud()
	m, err := startManager(ctx, sa, rec, cloud)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			m.stop()
		}
	}()
	key := migrateToCompleted(t, cloud, rec)
	scrapeMetrics(t, m.metricsAddr)
	deleteMigration(t, cloud, rec, key)
	resolveAnACKSource(t, rec)
	m.stop()
	stopped = true

	made := rec.accesses()
	t.Logf("requests the manager made as %s/%s:\n%s", sa.Namespace, sa.Name, summary(made))
	for _, r := range rec.refusals() {
		t.Errorf("the API server refused the manager: %s", r)
	}
	user := serviceaccount.MakeUsername(sa.Namespace, sa.Name)
	for _, a := range made {
		if ok, why := allowed(ctx, user, sa.Namespace, a); !ok {
			t.Errorf("%s may not %s (%s)", user, a, why)
		}
	}

	rules, err := install.managerRules(sa)
	if err != nil {
		t.Fatal(err)
	}
	granted := expand(rules)
	for _, g := range granted {
		if slices.ContainsFunc(made, g.covers) {
			continue
		}
		if _, ok := justified[g.key()]; !ok {
			t.Errorf("%s grants %s, which the manager never used: remove it, or justify it in the table", g.role, g)
		}
	}
	for key, why := range justified {
		if !slices.ContainsFunc(granted, func(g permission) bool { return g.key() == key }) {
			t.Errorf("justified %q (%s) is no longer granted: drop it from the table", key, why)
		}
	}
}

func TestManagerIsDeniedWhatItNeverDoes(t *testing.T) {
	sa, err := one[corev1.ServiceAccount](install, "ServiceAccount")
	if err != nil {
		t.Fatal(err)
	}
	user := serviceaccount.MakeUsername(sa.Namespace, sa.Name)
	for _, a := range denied {
		if a.Namespace == managerNamespace {
			a.Namespace = sa.Namespace
		}
		t.Run(a.String(), func(t *testing.T) {
			if ok, why := allowed(t.Context(), user, sa.Namespace, a); ok {
				t.Errorf("%s may %s (%s)", user, a, why)
			}
		})
	}
}

// migrateToCompleted walks one migration through Provisioning, Preflight,
// FullLoad, Replicating, CuttingOver and Completed (automatic approval, one
// service-tier step, the freeze and the flip).
// resolveAnACKSource has the manager read the ACK objects an existing source
// names (none exists here: the reads are what is recorded), and the
// migration wait with SourceReady False.
func resolveAnACKSource(t *testing.T, rec *recorder) {
	t.Helper()
	ctx := t.Context()
	pm := &paymentsv1alpha1.PaymentMigration{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-ack", Namespace: "payments"},
		Spec: paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "rbacack", Region: "us-east-1",
			Source: paymentsv1alpha1.SourceSpec{Type: paymentsv1alpha1.SourceACK,
				ApplicationSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-app-AbCdEf",
				ACK: &paymentsv1alpha1.ACKSource{DBInstance: paymentsv1alpha1.ACKReference{Name: "payments"}, Bucket: paymentsv1alpha1.ACKReference{Name: "payments-logs"},
					DBParameterGroup: &paymentsv1alpha1.ACKReference{Name: "payments-pg14"}}}},
	}
	if err := admin.Create(ctx, pm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pm)
	waitFor(t, 30*time.Second, "SourceReady False for the missing DBInstance", func() (bool, error) {
		failOnRefusal(t, rec)
		err := admin.Get(ctx, key, pm)
		for _, c := range pm.Status.Conditions {
			if c.Type == paymentsv1alpha1.ConditionSourceReady && c.Reason == "SourceNotFound" {
				return true, nil
			}
		}
		return false, err
	})
	if err := admin.Delete(ctx, pm); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the ACK-sourced migration gone", func() (bool, error) {
		err := admin.Get(ctx, key, pm)
		return apierrors.IsNotFound(err), nil
	})
}

func migrateToCompleted(t *testing.T, cloud *fakeCloud, rec *recorder) client.ObjectKey {
	t.Helper()
	ctx := t.Context()
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}); err != nil {
		t.Fatal(err)
	}
	pm := &paymentsv1alpha1.PaymentMigration{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-rbac", Namespace: "payments"},
		Spec:       paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "rbac", Region: "us-east-1", DeletionPolicy: paymentsv1alpha1.DeletionPolicyDelete},
	}
	pm.Spec.Traffic.RecordTTLSeconds = 1
	pm.Spec.Cutover.Approval = paymentsv1alpha1.ApprovalAutomatic
	pm.Spec.Cutover.StepIntervalSeconds = 1
	pm.Spec.Cutover.Steps = []int32{50, 100}
	pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	if err := admin.Create(ctx, pm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pm)
	waitFor(t, 90*time.Second, "the migration Completed", func() (bool, error) {
		failOnRefusal(t, rec)
		err := admin.Get(ctx, key, pm)
		return err == nil && pm.Status.Phase == paymentsv1alpha1.PhaseCompleted, err
	})
	var phases []paymentsv1alpha1.Phase
	for _, h := range pm.Status.History {
		if h.Phase != "" && !slices.Contains(phases, h.Phase) {
			phases = append(phases, h.Phase)
		}
	}
	want := []paymentsv1alpha1.Phase{paymentsv1alpha1.PhaseProvisioning, paymentsv1alpha1.PhasePreflight, paymentsv1alpha1.PhaseFullLoad,
		paymentsv1alpha1.PhaseReplicating, paymentsv1alpha1.PhaseCuttingOver, paymentsv1alpha1.PhaseCompleted}
	if !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	if w, target := cloud.r53.writer("TapStackrbac"), outputsOf("TapStackrbac")["TargetDbEndpoint"]; w != target {
		t.Errorf("writer record %s after the cutover, want %s", w, target)
	}
	return key
}

// deleteMigration deletes it with deletionPolicy Delete: the task stopped,
// the buckets emptied, the stack deleted, the finalizer released.
func deleteMigration(t *testing.T, cloud *fakeCloud, rec *recorder, key client.ObjectKey) {
	t.Helper()
	ctx := t.Context()
	pm := &paymentsv1alpha1.PaymentMigration{}
	if err := admin.Get(ctx, key, pm); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, pm); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the migration deleted", func() (bool, error) {
		failOnRefusal(t, rec)
		err := admin.Get(ctx, key, pm)
		return apierrors.IsNotFound(err), err
	})
	cloud.mu.Lock()
	defer cloud.mu.Unlock()
	if len(cloud.stacks) != 0 {
		t.Errorf("stacks left after the deletion: %v", cloud.stacks)
	}
}

// failOnRefusal ends the test at the first request the API server refused
// the manager: a missing permission stops the migration where it is, and
// waiting for the next phase would only time out.
func failOnRefusal(t *testing.T, rec *recorder) {
	t.Helper()
	if refused := rec.refusals(); len(refused) > 0 {
		t.Fatalf("the API server refused the manager: %s", strings.Join(refused, "; "))
	}
}

// scrapeMetrics reads the manager's metrics as a scraper bound to the
// install's metrics-reader ClusterRole, and is refused without a token and
// with one of a service account nobody bound.
func scrapeMetrics(t *testing.T, addr string) {
	t.Helper()
	ctx := t.Context()
	roles := install.ofKind("ClusterRole")
	reader := slices.IndexFunc(roles, func(o *unstructured.Unstructured) bool { return strings.HasSuffix(o.GetName(), "metrics-reader") })
	if reader < 0 {
		t.Fatal("the install has no metrics-reader ClusterRole")
	}
	readerRole := roles[reader].GetName()
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, name := range []string{"prometheus", "stranger"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "monitoring"}}
		if err := admin.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		token, err := tokenFor(ctx, sa)
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = token
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-payment-migration-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: readerRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: "monitoring"}},
	}
	if err := admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who, token string
		want       int
	}{
		{"prometheus (bound to " + readerRole + ")", tokens["prometheus"], http.StatusOK},
		{"a service account nobody bound", tokens["stranger"], http.StatusForbidden},
		{"no token", "", http.StatusUnauthorized},
	} {
		code, body, err := scrape(ctx, addr, c.token)
		if err != nil {
			t.Fatalf("scraping as %s: %v", c.who, err)
		}
		if code != c.want {
			t.Errorf("scraping as %s: HTTP %d, want %d: %.200s", c.who, code, c.want, body)
		}
		if code == http.StatusOK && !strings.Contains(body, "payment_migration_phase") {
			t.Errorf("the metrics do not include payment_migration_phase: %.500s", body)
		}
	}
}

func scrape(ctx context.Context, addr, token string) (int, string, error) {
	// The endpoint's certificate is self-signed (no --metrics-cert-path);
	// what is under test is who may read, not whom to trust.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// allowed asks the API server's authorizer whether the service account user
// (with the groups every service account token carries) may make a.
func allowed(ctx context.Context, user, saNamespace string, a access) (bool, string) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: []string{serviceaccount.AllServiceAccountsGroup, serviceaccount.MakeNamespaceGroupName(saNamespace), "system:authenticated"},
	}}
	if a.Path != "" {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: a.Verb, Path: a.Path}
	} else {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Verb: a.Verb, Group: a.Group, Resource: a.Resource,
			Subresource: a.Subresource, Namespace: a.Namespace}
	}
	if err := admin.Create(ctx, sar); err != nil {
		return false, fmt.Sprintf("SubjectAccessReview: %v", err)
	}
	return sar.Status.Allowed, sar.Status.Reason
}

// permission is one verb on one resource that a rule grants.
type permission struct {
	verb, group, resource, subresource string
	path                               string // a non-resource URL
	namespace                          string // a Role's; "" cluster-wide
	role                               string
}

func (p permission) key() string {
	if p.path != "" {
		return p.verb + " " + p.path
	}
	res := p.resource
	if p.subresource != "" {
		res += "/" + p.subresource
	}
	group := p.group
	if group == "" {
		group = "core"
	}
	return p.verb + " " + res + "." + group
}

func (p permission) String() string {
	if p.namespace != "" {
		return p.key() + " in " + p.namespace
	}
	return p.key()
}

// covers: a was made under this permission.
func (p permission) covers(a access) bool {
	if p.path != "" {
		return a.Verb == p.verb && a.Path == p.path
	}
	return a.Path == "" && a.Verb == p.verb && a.Group == p.group && a.Resource == p.resource && a.Subresource == p.subresource &&
		(p.namespace == "" || a.Namespace == p.namespace)
}

// expand lists every verb on every resource the rules grant. The install
// writes no wildcards; one would show here as a literal "*" and fail.
func expand(rules []grantedRule) []permission {
	var out []permission
	for _, g := range rules {
		for _, group := range g.rule.APIGroups {
			for _, res := range g.rule.Resources {
				resource, sub, _ := strings.Cut(res, "/")
				for _, verb := range g.rule.Verbs {
					out = append(out, permission{verb: verb, group: group, resource: resource, subresource: sub, namespace: g.namespace, role: g.role})
				}
			}
		}
		for _, url := range g.rule.NonResourceURLs {
			for _, verb := range g.rule.Verbs {
				out = append(out, permission{verb: verb, path: url, role: g.role})
			}
		}
	}
	return out
}
