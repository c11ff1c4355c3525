package controller_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/existingsource"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// fakeSources is the AWS side of existing sources: secrets by ARN (nil keys:
// access denied), instances and bucket regions by name.
type fakeSources struct {
	mu      sync.Mutex
	secrets map[string]map[string]string
	reads   int
}

var sources = &fakeSources{secrets: map[string]map[string]string{}}

func (s *fakeSources) setSecret(arn string, keys map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[arn] = keys
}

func (s *fakeSources) Instance(context.Context, string) (*existingsource.Instance, error) {
	return nil, errors.New("the controller suite's sources are ACK objects")
}

func (s *fakeSources) BucketRegion(context.Context, string) (string, error) {
	return "", errors.New("the controller suite's sources are ACK objects")
}

func (s *fakeSources) SecretKeys(_ context.Context, arn string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	keys, ok := s.secrets[arn]
	if !ok || keys == nil {
		return nil, errors.New("reading secret " + arn + ": AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue")
	}
	return keys, nil
}

// withSourceParameters makes the fake stack's outputs what the template's
// are: an existing source's outputs are its parameters.
func withSourceParameters(out, params map[string]string) map[string]string {
	for output, param := range map[string]string{
		tapstack.OutputSourceDbInstanceID: tapstack.ParamSourceDbInstanceID, tapstack.OutputSourceDbEndpoint: tapstack.ParamSourceDbAddress,
		tapstack.OutputSourceDbSecretArn: tapstack.ParamSourceDbSecretArn, tapstack.OutputSourceBucketName: tapstack.ParamSourceBucketName,
		tapstack.OutputAppDbSecretArn: tapstack.ParamAppDbSecretArn,
	} {
		if v := params[param]; v != "" {
			out[output] = v
		}
	}
	return out
}

const (
	ackMasterSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0001-AbCdEf"
	ackAppSecret    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-app-AbCdEf"
)

// ackObject creates an ACK object and then its status, as the ACK controller
// would have written it.
func ackObject(t *testing.T, kind, name string, spec, status map[string]any) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	gvk := existingsource.DBInstanceGVK
	if kind == "Bucket" {
		gvk = existingsource.BucketGVK
	}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace("default")
	u.SetName(name)
	if err := k8s.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), u) })
	u.Object["status"] = status
	if err := k8s.Status().Update(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func syncedStatus(name, region string, extra map[string]any) map[string]any {
	st := map[string]any{
		"ackResourceMetadata": map[string]any{"arn": "arn:aws:rds:" + region + ":123456789012:db:" + name, "region": region, "ownerAccountID": "123456789012"},
		"conditions":          []any{map[string]any{"type": "ACK.ResourceSynced", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}},
	}
	for k, v := range extra {
		st[k] = v
	}
	return st
}

func ackInstance(t *testing.T, name, region string, port int64) {
	ackObject(t, "DBInstance", name, map[string]any{"dbInstanceIdentifier": name, "engine": "postgres", "dbInstanceClass": "db.r5.large"},
		syncedStatus(name, region, map[string]any{
			"endpoint":          map[string]any{"address": name + ".abc.rds.amazonaws.com", "port": port},
			"masterUserSecret":  map[string]any{"secretARN": ackMasterSecret},
			"vpcSecurityGroups": []any{map[string]any{"vpcSecurityGroupID": "sg-0aaaaaaaaaaaaaaaa", "status": "active"}},
			"dbParameterGroups": []any{map[string]any{"dbParameterGroupName": "prod-pg14", "parameterApplyStatus": "in-sync"}},
		}))
}

func ackBucket(t *testing.T, name, region string) {
	ackObject(t, "Bucket", name, map[string]any{"name": name + "-logs"}, syncedStatus(name, region, nil))
}

func ackMigration(name string, db, bucket string) *paymentsv1alpha1.PaymentMigration {
	pm := newMigration(name, name, "us-east-1")
	pm.Spec.Source = paymentsv1alpha1.SourceSpec{Type: paymentsv1alpha1.SourceACK, ApplicationSecretARN: ackAppSecret,
		ACK: &paymentsv1alpha1.ACKSource{DBInstance: paymentsv1alpha1.ACKReference{Name: db}, Bucket: paymentsv1alpha1.ACKReference{Name: bucket}}}
	return pm
}

func readableSecrets() {
	sources.setSecret(ackMasterSecret, map[string]string{"username": "postgres_admin", "password": "set"})
	sources.setSecret(ackAppSecret, map[string]string{"username": "payments_app", "password": "set"})
}

// An ACK source: the stack is created with the ACK objects' values as its
// parameters, status.source records them, SourceReady says so, and deleting
// the migration never empties the source's bucket.
func TestAnACKSourceIsResolvedIntoTheStacksParameters(t *testing.T) {
	readableSecrets()
	ackInstance(t, "prod-db", "us-east-1", 5432)
	ackBucket(t, "prod-bucket", "us-east-1")
	key := create(t, ackMigration("acksource", "prod-db", "prod-bucket"))
	pm := waitFor(t, key, "StackReady", stackReady)
	c := condition(pm, paymentsv1alpha1.ConditionSourceReady)
	if c.Status != metav1.ConditionTrue || c.Reason != "SourceResolved" || !strings.Contains(c.Message, "prod-db") {
		t.Errorf("SourceReady = %s %s %q", c.Status, c.Reason, c.Message)
	}
	want := paymentsv1alpha1.SourceStatus{Type: paymentsv1alpha1.SourceACK, DBInstanceARN: "arn:aws:rds:us-east-1:123456789012:db:prod-db", DBInstanceIdentifier: "prod-db",
		Endpoint: "prod-db.abc.rds.amazonaws.com:5432", MasterSecretARN: ackMasterSecret, SecurityGroupID: "sg-0aaaaaaaaaaaaaaaa",
		BucketName: "prod-bucket-logs", ParameterGroup: "prod-pg14"}
	if pm.Status.Source == nil || *pm.Status.Source != want {
		t.Errorf("status.source = %+v, want %+v", pm.Status.Source, want)
	}
	st, _ := cloud.stack("TapStackacksource")
	for param, v := range map[string]string{
		tapstack.ParamSourceDbInstanceID: "prod-db", tapstack.ParamSourceDbAddress: "prod-db.abc.rds.amazonaws.com",
		tapstack.ParamSourceDbSecretArn: ackMasterSecret, tapstack.ParamSourceSecurityGroupID: "sg-0aaaaaaaaaaaaaaaa",
		tapstack.ParamSourceBucketName: "prod-bucket-logs", tapstack.ParamAppDbSecretArn: ackAppSecret,
	} {
		if st.parameters[param] != v {
			t.Errorf("stack parameter %s = %q, want %q", param, st.parameters[param], v)
		}
	}

	if err := k8s.Delete(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CR gone", func() (bool, error) {
		err := k8s.Get(t.Context(), key, pm)
		return apierrors.IsNotFound(err), err
	})
	for _, b := range cloud.emptiedBuckets() {
		if b == "prod-bucket-logs" {
			t.Error("deleting the migration emptied the existing source's bucket")
		}
	}
	if len(cloud.batches["prod-bucket-logs"]) != 0 {
		t.Errorf("the existing source's bucket was touched: %v", cloud.batches["prod-bucket-logs"])
	}
}

// Bad ACK references: SourceReady names the field and the cause, and no
// stack is created.
func TestABadACKSourceCreatesNothingAndNamesTheField(t *testing.T) {
	readableSecrets()
	ackInstance(t, "eu-db", "eu-west-1", 5432)
	ackInstance(t, "ok-db", "us-east-1", 5432)
	ackBucket(t, "ok-bucket", "us-east-1")
	unsynced := ackObject(t, "Bucket", "unsynced-bucket", map[string]any{"name": "unsynced-logs"}, map[string]any{
		"conditions": []any{map[string]any{"type": "ACK.ResourceSynced", "status": "False", "message": "BucketAlreadyExists", "lastTransitionTime": "2026-12-01T00:00:00Z"}}})
	_ = unsynced
	const lockedSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:locked-AbCdEf"
	for _, c := range []struct {
		name, db, bucket, field, reason, text string
		mutate                                func(*paymentsv1alpha1.PaymentMigration)
	}{
		{"missing", "no-such-db", "ok-bucket", "spec.source.ack.dbInstance", "SourceNotFound", "DBInstance default/no-such-db does not exist", nil},
		{"unsynced", "ok-db", "unsynced-bucket", "spec.source.ack.bucket", "SourceNotSynced", "BucketAlreadyExists", nil},
		{"region", "eu-db", "ok-bucket", "spec.source.ack.dbInstance", "SourceInAnotherRegion", "eu-west-1", nil},
		{"secret", "ok-db", "ok-bucket", "spec.source.applicationSecretARN", "SourceSecretUnreadable", "AccessDenied",
			func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Source.ApplicationSecretARN = lockedSecret }},
	} {
		t.Run(c.name, func(t *testing.T) {
			pm := ackMigration("badack"+c.name, c.db, c.bucket)
			if c.mutate != nil {
				c.mutate(pm)
			}
			key := create(t, pm)
			pm = waitFor(t, key, "SourceReady False", func(pm *paymentsv1alpha1.PaymentMigration) bool {
				return condition(pm, paymentsv1alpha1.ConditionSourceReady).Reason == c.reason
			})
			cond := condition(pm, paymentsv1alpha1.ConditionSourceReady)
			if cond.Status != metav1.ConditionFalse || !strings.HasPrefix(cond.Message, c.field+": ") || !strings.Contains(cond.Message, c.text) {
				t.Errorf("SourceReady = %s %s %q, want False naming %s and saying %q", cond.Status, cond.Reason, cond.Message, c.field, c.text)
			}
			if ready := condition(pm, paymentsv1alpha1.ConditionReady); ready.Status == metav1.ConditionTrue {
				t.Errorf("Ready is True with an unusable source")
			}
			if _, ok := cloud.stack("TapStackbadack" + c.name); ok {
				t.Error("a stack was created for an unusable source")
			}
			if pm.Status.Source != nil && pm.Status.Source.DBInstanceIdentifier != "" {
				t.Errorf("status.source recorded an unusable source: %+v", pm.Status.Source)
			}
		})
	}
}

// Two migrations of one database: the younger creates nothing and names the
// older; once the older is gone it goes ahead.
func TestTheYoungerOfTwoMigrationsOfOneSourceYields(t *testing.T) {
	readableSecrets()
	ackInstance(t, "shared-db", "us-east-1", 5432)
	ackBucket(t, "shared-bucket", "us-east-1")
	first := create(t, ackMigration("sharedfirst", "shared-db", "shared-bucket"))
	waitFor(t, first, "StackReady", stackReady)
	second := create(t, ackMigration("sharedsecond", "shared-db", "shared-bucket"))
	pm := waitFor(t, second, "SourceInUse", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionSourceReady).Reason == "SourceInUse"
	})
	if c := condition(pm, paymentsv1alpha1.ConditionSourceReady); !strings.Contains(c.Message, "default/sharedfirst") {
		t.Errorf("SourceReady %q does not name the older migration", c.Message)
	}
	if _, ok := cloud.stack("TapStacksharedsecond"); ok {
		t.Error("the younger migration created a stack")
	}
	older := &paymentsv1alpha1.PaymentMigration{}
	if err := k8s.Get(t.Context(), first, older); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(t.Context(), older); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the older migration gone", func() (bool, error) {
		err := k8s.Get(t.Context(), first, older)
		return apierrors.IsNotFound(err), nil
	})
	mutate(t, second, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Annotations = map[string]string{"test/poke": "1"} })
	waitFor(t, second, "StackReady once the older one is gone", stackReady)
}
