// Package existingsource resolves spec.source when it names a database and a
// bucket that exist already: from the ACK objects that manage them, or from
// their AWS identifiers. Resolution is a pure function of what was read; a
// source that cannot be used is a Problem naming the spec field and the
// cause, and the stack is then neither created nor updated.
package existingsource

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// The ACK kinds read, as unstructured objects (their Go modules are not a
// dependency of the operator).
var (
	DBInstanceGVK       = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBInstance"}
	DBParameterGroupGVK = schema.GroupVersionKind{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBParameterGroup"}
	BucketGVK           = schema.GroupVersionKind{Group: "s3.services.k8s.aws", Version: "v1alpha1", Kind: "Bucket"}
)

// AllowedNamespacesAnnotation on an ACK object lists (comma-separated) the
// namespaces whose migrations may use it, besides its own.
const AllowedNamespacesAnnotation = "payments.tapstack.io/allowed-migration-namespaces"

// Source is an existing source as resolved.
type Source struct {
	DBInstanceID    string
	DBInstanceARN   string
	Address         string
	Port            int64
	MasterSecretARN string
	SecurityGroupID string
	BucketName      string
	// ParameterGroup is the instance's DB parameter group, which the
	// preflight reads for rds.logical_replication.
	ParameterGroup string
	// Notes are facts worth the SourceReady message, not problems.
	Notes []string
}

// Problem is why the source cannot be used (yet).
type Problem struct {
	Reason  string // CamelCase, for the condition
	Field   string // the spec field at fault, spec.source...
	Message string
}

func (p *Problem) Error() string { return p.Field + ": " + p.Message }

func problem(reason, field, format string, args ...any) *Problem {
	return &Problem{Reason: reason, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ACKObjects are the referenced objects as read; nil when not found.
type ACKObjects struct {
	DBInstance, DBParameterGroup, Bucket *unstructured.Unstructured
}

// Namespace is where ref points for a migration in namespace ns.
func Namespace(ref v1alpha1.ACKReference, ns string) string {
	if ref.Namespace != "" {
		return ref.Namespace
	}
	return ns
}

// FromACK resolves an ACK source for a migration in namespace ns and region.
func FromACK(spec v1alpha1.ACKSource, objs ACKObjects, ns, region string, port int) (Source, *Problem) {
	const dbField, bucketField = "spec.source.ack.dbInstance", "spec.source.ack.bucket"
	if p := usable(objs.DBInstance, spec.DBInstance, DBInstanceGVK, dbField, ns, region); p != nil {
		return Source{}, p
	}
	if p := usable(objs.Bucket, spec.Bucket, BucketGVK, bucketField, ns, region); p != nil {
		return Source{}, p
	}
	db := objs.DBInstance
	src := Source{
		DBInstanceID:    str(db, "spec", "dbInstanceIdentifier"),
		DBInstanceARN:   str(db, "status", "ackResourceMetadata", "arn"),
		Address:         str(db, "status", "endpoint", "address"),
		MasterSecretARN: spec.MasterSecretARN,
		SecurityGroupID: spec.SecurityGroupID,
		BucketName:      str(objs.Bucket, "spec", "name"),
		ParameterGroup:  firstParameterGroup(db),
	}
	src.Port, _, _ = unstructured.NestedInt64(db.Object, "status", "endpoint", "port")
	if engine := str(db, "spec", "engine"); engine != "postgres" {
		return Source{}, problem("SourceNotPostgreSQL", dbField, "DBInstance %s has engine %q; the migration replicates RDS for PostgreSQL", ref(spec.DBInstance, ns), engine)
	}
	if src.Address == "" || src.Port == 0 || src.DBInstanceARN == "" {
		return Source{}, problem("SourceNotAvailable", dbField, "DBInstance %s has no status.endpoint or status.ackResourceMetadata.arn yet (status %q)",
			ref(spec.DBInstance, ns), str(db, "status", "dbInstanceStatus"))
	}
	if src.MasterSecretARN == "" {
		src.MasterSecretARN = str(db, "status", "masterUserSecret", "secretARN")
		if src.MasterSecretARN == "" {
			return Source{}, problem("SourceSecretUnknown", "spec.source.ack.masterSecretARN",
				"DBInstance %s has no status.masterUserSecret (RDS does not manage its password): name the master secret in spec.source.ack.masterSecretARN", ref(spec.DBInstance, ns))
		}
	}
	groups := securityGroups(db)
	switch {
	case src.SecurityGroupID == "" && len(groups) == 0:
		return Source{}, problem("SourceSecurityGroupUnknown", "spec.source.ack.securityGroupID", "DBInstance %s lists no status.vpcSecurityGroups", ref(spec.DBInstance, ns))
	case src.SecurityGroupID == "":
		src.SecurityGroupID = groups[0]
	case !slices.Contains(groups, src.SecurityGroupID):
		return Source{}, problem("SecurityGroupNotAttached", "spec.source.ack.securityGroupID",
			"%s is not a security group of DBInstance %s (%s)", src.SecurityGroupID, ref(spec.DBInstance, ns), strings.Join(groups, ", "))
	}
	if src.BucketName == "" {
		return Source{}, problem("SourceNotAvailable", bucketField, "Bucket %s has no spec.name", ref(spec.Bucket, ns))
	}
	if spec.DBParameterGroup != nil {
		const pgField = "spec.source.ack.dbParameterGroup"
		if p := usable(objs.DBParameterGroup, *spec.DBParameterGroup, DBParameterGroupGVK, pgField, ns, region); p != nil {
			return Source{}, p
		}
		overrides, _, _ := unstructured.NestedStringMap(objs.DBParameterGroup.Object, "spec", "parameterOverrides")
		if overrides["rds.logical_replication"] != "1" {
			src.Notes = append(src.Notes, fmt.Sprintf("DBParameterGroup %s does not set rds.logical_replication=1, which DMS CDC needs (the preflight checks the database itself)",
				ref(*spec.DBParameterGroup, ns)))
		}
	}
	return src, checkPort(src, dbField, port)
}

// usable checks that an ACK object exists, may be used from ns, is in region,
// and is synced and not terminal.
func usable(obj *unstructured.Unstructured, r v1alpha1.ACKReference, gvk schema.GroupVersionKind, field, ns, region string) *Problem {
	name := ref(r, ns)
	if obj == nil {
		return problem("SourceNotFound", field, "%s %s does not exist", gvk.Kind, name)
	}
	if objNS := obj.GetNamespace(); objNS != ns && !granted(obj, ns) {
		return problem("SourceNotGranted", field+".namespace",
			"%s %s is in another namespace and does not grant migrations of namespace %s (annotation %s)", gvk.Kind, name, ns, AllowedNamespacesAnnotation)
	}
	if got := str(obj, "status", "ackResourceMetadata", "region"); got != "" && got != region {
		return problem("SourceInAnotherRegion", field, "%s %s is in region %s, the migration in %s", gvk.Kind, name, got, region)
	}
	if c := ackCondition(obj, "ACK.Terminal"); c.status == "True" {
		return problem("SourceTerminal", field, "%s %s is ACK.Terminal: %s", gvk.Kind, name, c.message)
	}
	if c := ackCondition(obj, "ACK.ResourceSynced"); c.status != "True" {
		msg := c.message
		if c.status == "" {
			msg = "no ACK.ResourceSynced condition yet"
		}
		return problem("SourceNotSynced", field, "%s %s is not synced with AWS: %s", gvk.Kind, name, msg)
	}
	return nil
}

func granted(obj *unstructured.Unstructured, ns string) bool {
	for _, n := range strings.Split(obj.GetAnnotations()[AllowedNamespacesAnnotation], ",") {
		if strings.TrimSpace(n) == ns {
			return true
		}
	}
	return false
}

type ackCond struct{ status, message string }

func ackCondition(obj *unstructured.Unstructured, typ string) ackCond {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			msg, _ := m["message"].(string)
			return ackCond{s, msg}
		}
	}
	return ackCond{}
}

func securityGroups(db *unstructured.Unstructured) []string {
	var ids []string
	list, _, _ := unstructured.NestedSlice(db.Object, "status", "vpcSecurityGroups")
	for _, g := range list {
		if m, ok := g.(map[string]any); ok {
			if id, _ := m["vpcSecurityGroupID"].(string); id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func firstParameterGroup(db *unstructured.Unstructured) string {
	list, _, _ := unstructured.NestedSlice(db.Object, "status", "dbParameterGroups")
	for _, g := range list {
		if m, ok := g.(map[string]any); ok {
			if n, _ := m["dbParameterGroupName"].(string); n != "" {
				return n
			}
		}
	}
	s, _, _ := unstructured.NestedString(db.Object, "spec", "dbParameterGroupName")
	return s
}

func str(obj *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(obj.Object, path...)
	return s
}

func ref(r v1alpha1.ACKReference, ns string) string { return Namespace(r, ns) + "/" + r.Name }

// Instance is an RDS instance as DescribeDBInstances returns it.
type Instance struct {
	ID, ARN, Engine, Status, Address string
	Port                             int64
	SecurityGroups                   []string
	ParameterGroup                   string
}

// FromAWS resolves a plain AWS source from its instance (nil: not found in
// the region) and the region of its bucket ("": no such bucket).
func FromAWS(spec v1alpha1.AWSSource, inst *Instance, bucketRegion, region string, port int) (Source, *Problem) {
	const dbField = "spec.source.aws.dbInstanceIdentifier"
	if inst == nil {
		return Source{}, problem("SourceNotFound", dbField, "no DB instance %s in region %s", spec.DBInstanceIdentifier, region)
	}
	if inst.Engine != "postgres" {
		return Source{}, problem("SourceNotPostgreSQL", dbField, "DB instance %s has engine %q; the migration replicates RDS for PostgreSQL", inst.ID, inst.Engine)
	}
	if inst.Address == "" {
		return Source{}, problem("SourceNotAvailable", dbField, "DB instance %s has no endpoint yet (status %q)", inst.ID, inst.Status)
	}
	if !slices.Contains(inst.SecurityGroups, spec.SecurityGroupID) {
		return Source{}, problem("SecurityGroupNotAttached", "spec.source.aws.securityGroupID",
			"%s is not a security group of DB instance %s (%s)", spec.SecurityGroupID, inst.ID, strings.Join(inst.SecurityGroups, ", "))
	}
	switch bucketRegion {
	case "":
		return Source{}, problem("SourceNotFound", "spec.source.aws.bucketName", "no bucket %s", spec.BucketName)
	case region:
	default:
		return Source{}, problem("SourceInAnotherRegion", "spec.source.aws.bucketName", "bucket %s is in region %s, the migration in %s", spec.BucketName, bucketRegion, region)
	}
	src := Source{DBInstanceID: inst.ID, DBInstanceARN: inst.ARN, Address: inst.Address, Port: inst.Port,
		MasterSecretARN: spec.MasterSecretARN, SecurityGroupID: spec.SecurityGroupID, BucketName: spec.BucketName, ParameterGroup: inst.ParameterGroup}
	return src, checkPort(src, dbField, port)
}

// checkPort: the template opens and creates the target on spec.source.port,
// so the instance must listen there.
func checkPort(src Source, field string, port int) *Problem {
	if src.Port != int64(port) {
		return problem("SourcePortMismatch", "spec.source.port", "%s listens on port %d, and spec.source.port is %d (5432 when unset)",
			src.DBInstanceID, src.Port, port)
	}
	return nil
}

// CheckSecret judges a secret's JSON keys as read (Reader.SecretKeys): the master secret needs a
// user name and a password; the application secret also names the role of
// spec.database.applicationUsername.
func CheckSecret(field, arn string, keys map[string]string, wantUser string) *Problem {
	var missing []string
	for _, k := range []string{"username", "password"} {
		if keys[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return problem("SourceSecretIncomplete", field, "secret %s has no %s", arn, strings.Join(missing, " or "))
	}
	if wantUser != "" && keys["username"] != wantUser {
		return problem("SourceSecretMismatch", field, "secret %s is for user %q, and spec.database.applicationUsername is %q", arn, keys["username"], wantUser)
	}
	return nil
}
