package controllers

import (
	"context"
	"fmt"
	"net"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/existingsource"
	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// SourceReader reads an existing source on AWS (existingsource.Reader).
type SourceReader interface {
	// Instance is nil when the region has no such instance.
	Instance(ctx context.Context, id string) (*existingsource.Instance, error)
	// BucketRegion is "" when there is no such bucket.
	BucketRegion(ctx context.Context, name string) (string, error)
	// SecretKeys is the secret's JSON keys, the user name the only value.
	SecretKeys(ctx context.Context, arn string) (map[string]string, error)
}

// The ACK objects an existing source may name; read, never written.
// +kubebuilder:rbac:groups=rds.services.k8s.aws,resources=dbinstances;dbparametergroups,verbs=get
// +kubebuilder:rbac:groups=s3.services.k8s.aws,resources=buckets,verbs=get

// sourceParameters resolves an existing source into the template's
// parameters. It is resolved once, into status.source; afterwards the stack
// is rendered from that record, so that nothing the ACK objects or AWS later
// say (an object deleted, a sync failing) can change what the stack
// replicates from or stop a cutover. Until it resolves nothing is created or
// updated (stop), and SourceReady names the field and the cause.
func (r *PaymentMigrationReconciler) sourceParameters(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, st *statusWriter, aws AWSClients, region string) (map[string]string, ctrl.Result, bool, error) {
	spec := pm.Spec.Source
	if rec := pm.Status.Source; rec != nil && rec.Type != spec.Type {
		// The API refuses the switch; an old CRD or a forced write may not.
		st.condition(paymentsv1alpha1.ConditionSourceReady, metav1.ConditionFalse, "SourceTypeChanged",
			fmt.Sprintf("spec.source.type is %s, and the migration was created from a %s source (status.source.type): the stack is left as it is; create a new PaymentMigration to migrate from another source",
				spec.Type, rec.Type))
		return nil, ctrl.Result{RequeueAfter: r.Timing.Slow}, true, nil
	}
	if !spec.Existing() {
		// Recorded too, so that a later switch to an existing source is seen.
		if pm.Status.Source == nil {
			pm.Status.Source = &paymentsv1alpha1.SourceStatus{Type: spec.Type}
		}
		return map[string]string{}, ctrl.Result{}, false, nil
	}
	if pm.Status.Source == nil {
		src, p := r.resolveSource(ctx, pm, aws, region)
		if p != nil {
			st.condition(paymentsv1alpha1.ConditionSourceReady, metav1.ConditionFalse, p.Reason, p.Error()+"; nothing is created in AWS until it is fixed")
			return nil, ctrl.Result{RequeueAfter: r.Timing.Fast}, true, nil
		}
		pm.Status.Source = &paymentsv1alpha1.SourceStatus{Type: spec.Type, DBInstanceARN: src.DBInstanceARN, DBInstanceIdentifier: src.DBInstanceID,
			Endpoint: src.Address + ":" + strconv.FormatInt(src.Port, 10), MasterSecretARN: src.MasterSecretARN,
			SecurityGroupID: src.SecurityGroupID, BucketName: src.BucketName, ParameterGroup: src.ParameterGroup}
		msg := fmt.Sprintf("%s source: DB instance %s at %s, bucket %s; the stack opens security group %s to DMS and the service and never modifies or deletes the source",
			spec.Type, src.DBInstanceID, pm.Status.Source.Endpoint, src.BucketName, src.SecurityGroupID)
		for _, n := range src.Notes {
			msg += "\nnote: " + n
		}
		st.condition(paymentsv1alpha1.ConditionSourceReady, metav1.ConditionTrue, "SourceResolved", msg)
		st.history(fmt.Sprintf("resolved the existing source: DB instance %s (%s), bucket %s", src.DBInstanceID, pm.Status.Source.Endpoint, src.BucketName))
		// The claim is recorded before anything is made from it: a manager
		// stopped after the stack's creation resolves nothing again, and
		// another migration of the same source sees it.
		if err := st.patch(ctx); err != nil {
			return nil, ctrl.Result{}, true, err
		}
	}
	if !cutoverActive(pm) {
		// A cutover in motion is never interrupted; before one, the younger
		// of two migrations of one source yields to the older.
		other, err := r.olderClaim(ctx, pm)
		if err != nil {
			return nil, ctrl.Result{}, true, err
		}
		if other != "" {
			st.condition(paymentsv1alpha1.ConditionSourceReady, metav1.ConditionFalse, "SourceInUse",
				fmt.Sprintf("spec.source: DB instance %s is the source of the older migration %s; two migrations of one database would fence it and move its writes twice, so this one creates and changes nothing: delete one of them",
					pm.Status.Source.DBInstanceIdentifier, other))
			return nil, ctrl.Result{RequeueAfter: r.Timing.Slow}, true, nil
		}
	}
	return existingSourceParameters(pm), ctrl.Result{}, false, nil
}

// sourceKey identifies the database of a resolved existing source.
func sourceKey(pm *paymentsv1alpha1.PaymentMigration) string {
	rec := pm.Status.Source
	if rec == nil || rec.DBInstanceIdentifier == "" {
		return ""
	}
	if rec.DBInstanceARN != "" {
		return rec.DBInstanceARN
	}
	return pm.Status.Region + "/" + rec.DBInstanceIdentifier
}

// olderClaim names the migration, older than pm, that resolved the same
// source, if any. Older: created first, then by namespace and name, so that
// of two claims exactly one yields whichever reconcile sees them.
func (r *PaymentMigrationReconciler) olderClaim(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration) (string, error) {
	key := sourceKey(pm)
	if key == "" {
		return "", nil
	}
	var list paymentsv1alpha1.PaymentMigrationList
	if err := r.List(ctx, &list); err != nil {
		return "", fmt.Errorf("listing migrations for another claim on the source: %w", err)
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == pm.UID || sourceKey(o) != key || !o.DeletionTimestamp.IsZero() && o.Status.Stack == nil {
			continue
		}
		if older(o, pm) {
			return o.Namespace + "/" + o.Name, nil
		}
	}
	return "", nil
}

func older(a, b *paymentsv1alpha1.PaymentMigration) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// existingSourceParameters are the template's parameters from status.source.
func existingSourceParameters(pm *paymentsv1alpha1.PaymentMigration) map[string]string {
	rec := pm.Status.Source
	host, _ := splitEndpoint(rec.Endpoint)
	params := map[string]string{
		tapstack.ParamSourceDbInstanceID:    rec.DBInstanceIdentifier,
		tapstack.ParamSourceDbAddress:       host,
		tapstack.ParamSourceDbSecretArn:     rec.MasterSecretARN,
		tapstack.ParamSourceSecurityGroupID: rec.SecurityGroupID,
		tapstack.ParamSourceBucketName:      rec.BucketName,
		tapstack.ParamAppDbSecretArn:        pm.Spec.Source.ApplicationSecretARN,
	}
	if lb := pm.Spec.Source.LoadBalancer; lb != nil {
		params[tapstack.ParamSourceLoadBalancerDNSName] = lb.DNSName
		params[tapstack.ParamSourceLoadBalancerZoneID] = lb.CanonicalHostedZoneID
	}
	return params
}

// splitEndpoint is status.source.endpoint's host and port.
func splitEndpoint(endpoint string) (string, int) {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return endpoint, 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

// resolveSource reads what spec.source names and judges it.
func (r *PaymentMigrationReconciler) resolveSource(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration, aws AWSClients, region string) (existingsource.Source, *existingsource.Problem) {
	spec := pm.Spec.Source
	noClient := &existingsource.Problem{Reason: "AWSUnavailable", Field: "spec.source", Message: "no client to read the existing source on AWS"}
	var src existingsource.Source
	var p *existingsource.Problem
	masterField := "spec.source.aws.masterSecretARN"
	switch spec.Type {
	case paymentsv1alpha1.SourceACK:
		var objs existingsource.ACKObjects
		if objs, p = r.readACK(ctx, pm); p == nil {
			src, p = existingsource.FromACK(*spec.ACK, objs, pm.Namespace, region, spec.DatabasePort())
		}
		masterField = "spec.source.ack.masterSecretARN"
		if spec.ACK.MasterSecretARN == "" {
			masterField = "spec.source.ack.dbInstance (status.masterUserSecret)"
		}
	case paymentsv1alpha1.SourceAWS:
		if aws.Source == nil {
			return src, noClient
		}
		inst, err := aws.Source.Instance(ctx, spec.AWS.DBInstanceIdentifier)
		if err != nil {
			return src, awsProblem("spec.source.aws.dbInstanceIdentifier", err)
		}
		bucketRegion, err := aws.Source.BucketRegion(ctx, spec.AWS.BucketName)
		if err != nil {
			return src, awsProblem("spec.source.aws.bucketName", err)
		}
		src, p = existingsource.FromAWS(*spec.AWS, inst, bucketRegion, region, spec.DatabasePort())
	}
	if p != nil {
		return src, p
	}
	if aws.Source == nil {
		return src, noClient
	}
	for _, s := range []struct{ field, arn, user string }{
		{masterField, src.MasterSecretARN, ""},
		{"spec.source.applicationSecretARN", spec.ApplicationSecretARN, pm.Spec.Database.ApplicationUsername},
	} {
		keys, err := aws.Source.SecretKeys(ctx, s.arn)
		if err != nil {
			return src, &existingsource.Problem{Reason: "SourceSecretUnreadable", Field: s.field, Message: err.Error()}
		}
		if p := existingsource.CheckSecret(s.field, s.arn, keys, s.user); p != nil {
			return src, p
		}
	}
	return src, nil
}

func awsProblem(field string, err error) *existingsource.Problem {
	return &existingsource.Problem{Reason: "SourceLookupFailed", Field: field, Message: err.Error()}
}

// readACK gets the referenced ACK objects from the API server (not cached:
// they are read once per resolution). A missing object is nil; a missing
// kind (the ACK controller's CRDs not installed) is a problem.
func (r *PaymentMigrationReconciler) readACK(ctx context.Context, pm *paymentsv1alpha1.PaymentMigration) (existingsource.ACKObjects, *existingsource.Problem) {
	ack := pm.Spec.Source.ACK
	var objs existingsource.ACKObjects
	for _, ref := range []struct {
		field string
		gvk   schema.GroupVersionKind
		ref   *paymentsv1alpha1.ACKReference
		into  **unstructured.Unstructured
	}{
		{"spec.source.ack.dbInstance", existingsource.DBInstanceGVK, &ack.DBInstance, &objs.DBInstance},
		{"spec.source.ack.bucket", existingsource.BucketGVK, &ack.Bucket, &objs.Bucket},
		{"spec.source.ack.dbParameterGroup", existingsource.DBParameterGroupGVK, ack.DBParameterGroup, &objs.DBParameterGroup},
	} {
		if ref.ref == nil {
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(ref.gvk)
		key := client.ObjectKey{Namespace: existingsource.Namespace(*ref.ref, pm.Namespace), Name: ref.ref.Name}
		err := r.reader().Get(ctx, key, u)
		switch {
		case err == nil:
			*ref.into = u
		case meta.IsNoMatchError(err):
			return objs, &existingsource.Problem{Reason: "ACKNotInstalled", Field: ref.field,
				Message: fmt.Sprintf("the API server has no %s: install the ACK controller's CRDs", ref.gvk.GroupKind())}
		case apierrors.IsNotFound(err):
			// Left nil: FromACK says which object is missing.
		default:
			return objs, &existingsource.Problem{Reason: "SourceLookupFailed", Field: ref.field, Message: fmt.Sprintf("reading %s %s: %v", ref.gvk.Kind, key, err)}
		}
	}
	return objs, nil
}

// reader is the API reader when there is one, the cache otherwise.
func (r *PaymentMigrationReconciler) reader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// sourceParameterGroup is the source's DB parameter group: the stack's, or
// the existing instance's own.
func sourceParameterGroup(pm *paymentsv1alpha1.PaymentMigration, names naming.Names) string {
	if existingSource(pm) && pm.Status.Source != nil {
		return pm.Status.Source.ParameterGroup
	}
	return names.DBParameterGroup(naming.Source)
}

// existingSource reports whether the migration's source was given, not made.
func existingSource(pm *paymentsv1alpha1.PaymentMigration) bool { return pm.Spec.Source.Existing() }

// sourceEndpoint is where the operator's SQL reaches the source: an existing
// source's secret may be the one RDS manages, which holds no host, port or
// database name.
func sourceEndpoint(pm *paymentsv1alpha1.PaymentMigration, db sqlrunner.Database) sqlrunner.Database {
	if rec := pm.Status.Source; existingSource(pm) && rec != nil && db.Side == string(naming.Source) {
		db.Host, db.Port = splitEndpoint(rec.Endpoint)
		db.DBName = pm.Spec.Database.DatabaseName
	}
	return db
}
