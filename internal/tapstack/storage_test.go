package tapstack

import (
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/s3"
	"github.com/awslabs/goformation/v7/cloudformation/tags"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

func TestEveryBucketIsVersionedEncryptedAndPrivate(t *testing.T) {
	d := sampleDoc(t)
	buckets := d.ofType("AWS::S3::Bucket")
	if len(buckets) != 2 {
		t.Fatalf("buckets = %v, want source and target", buckets)
	}
	for _, id := range buckets {
		p := d.props(t, id)
		mustEqual(t, id+" versioning", at(p, "VersioningConfiguration", "Status"), "Enabled")
		mustEqual(t, id+" encryption", at(p, "BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault", "SSEAlgorithm"), "AES256")
		mustEqual(t, id+" public access block", p["PublicAccessBlockConfiguration"], map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true})
	}
}

func TestBucketPoliciesDenyRequestsWithoutTLS(t *testing.T) {
	d := sampleDoc(t)
	for _, s := range naming.Sides {
		p := d.props(t, idBucketPolicy(s))
		mustEqual(t, "Bucket", p["Bucket"], refTo(idBucket(s)))
		stmt := at(p, "PolicyDocument", "Statement", 0)
		mustEqual(t, "Effect", at(stmt, "Effect"), "Deny")
		mustEqual(t, "Principal", at(stmt, "Principal"), "*")
		mustEqual(t, "Condition", at(stmt, "Condition"), map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}})
		mustEqual(t, "Resource", at(stmt, "Resource"), []any{getAttOf(idBucket(s), "Arn"),
			map[string]any{"Fn::Sub": "${" + idBucket(s) + ".Arn}/*"}})
	}
}

func TestLifecycleMovesCurrentAndNoncurrentVersionsToGlacier(t *testing.T) {
	for _, days := range []int32{90, 30} {
		spec := sampleSpec(t)
		spec.Storage.GlacierTransitionDays = days
		d := rendered(t, synth(t, spec, sampleRegion))
		for _, s := range naming.Sides {
			rule := at(d.props(t, idBucket(s)), "LifecycleConfiguration", "Rules", 0)
			mustEqual(t, "Status", at(rule, "Status"), "Enabled")
			mustEqual(t, "Transitions", at(rule, "Transitions"), []any{map[string]any{"StorageClass": "GLACIER", "TransitionInDays": days}})
			mustEqual(t, "NoncurrentVersionTransitions", at(rule, "NoncurrentVersionTransitions"),
				[]any{map[string]any{"StorageClass": "GLACIER", "TransitionInDays": days}})
		}
	}
}

func TestSourceBucketReplicatesToTargetWithItsOwnRole(t *testing.T) {
	d := sampleDoc(t)
	rc := d.props(t, idBucket(naming.Source))["ReplicationConfiguration"]
	mustEqual(t, "Role", at(rc, "Role"), getAttOf(idBucketReplicationRole, "Arn"))
	mustEqual(t, "Destination", at(rc, "Rules", 0, "Destination", "Bucket"), getAttOf(idBucket(naming.Target), "Arn"))
	mustEqual(t, "Status", at(rc, "Rules", 0, "Status"), "Enabled")
	if d.props(t, idBucket(naming.Target))["ReplicationConfiguration"] != nil {
		t.Error("target bucket replicates too; replication is one-way source -> target")
	}
	role := d.props(t, idBucketReplicationRole)
	mustEqual(t, "trust", at(role, "AssumeRolePolicyDocument", "Statement", 0, "Principal", "Service"), []any{"s3.amazonaws.com"})
}

// Least privilege: read the source, write replicas to the target, nothing else.
func TestReplicationRoleIsLeastPrivilege(t *testing.T) {
	stmts := at(sampleDoc(t).props(t, idBucketReplicationRole), "Policies", 0, "PolicyDocument", "Statement")
	arn := func(s naming.Side, suffix string) any {
		return map[string]any{"Fn::Sub": "arn:${AWS::Partition}:s3:::payments-" + string(s) + "-${AWS::AccountId}-pr6185" + suffix}
	}
	mustEqual(t, "statements", stmts, []any{
		map[string]any{"Effect": "Allow", "Action": []any{"s3:GetReplicationConfiguration", "s3:ListBucket"}, "Resource": []any{arn(naming.Source, "")}},
		map[string]any{"Effect": "Allow", "Action": []any{"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"},
			"Resource": []any{arn(naming.Source, "/*")}},
		map[string]any{"Effect": "Allow", "Action": []any{"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"},
			"Resource": []any{arn(naming.Target, "/*")}},
	})
}

// The encryption aspect is the guarantee for buckets a future layer forgets to
// encrypt: add one without encryption and watch the pass fix it.
func TestEncryptionAspectEncryptsAnUnencryptedBucket(t *testing.T) {
	tmpl := cloudformation.NewTemplate()
	tmpl.Resources["Forgotten"] = &s3.Bucket{BucketName: ptr("forgotten")}
	tmpl.Resources["KMS"] = &s3.Bucket{BucketEncryption: &s3.Bucket_BucketEncryption{
		ServerSideEncryptionConfiguration: []s3.Bucket_ServerSideEncryptionRule{{
			ServerSideEncryptionByDefault: &s3.Bucket_ServerSideEncryptionByDefault{SSEAlgorithm: "aws:kms"}}}}}
	applyAspects(tmpl, v1alpha1.PaymentMigrationSpec{Tags: map[string]string{"Environment": "dev"}})
	d := rendered(t, mustTemplate(t, tmpl))
	mustEqual(t, "forgotten bucket", at(d.props(t, "Forgotten"), "BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault", "SSEAlgorithm"), "AES256")
	mustEqual(t, "bucket with its own choice", at(d.props(t, "KMS"), "BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault", "SSEAlgorithm"), "aws:kms")
}

func TestTaggingAspectKeepsOwnTagsAndLetsStackTagsWin(t *testing.T) {
	tmpl := cloudformation.NewTemplate()
	tmpl.Resources["B"] = &s3.Bucket{Tags: []tags.Tag{{Key: "Name", Value: "mine"}, {Key: "Environment", Value: "overridden"}}}
	applyAspects(tmpl, v1alpha1.PaymentMigrationSpec{Tags: map[string]string{"Environment": "dev", "CostCenter": "payments"}})
	d := rendered(t, mustTemplate(t, tmpl))
	mustEqual(t, "tags", d.props(t, "B")["Tags"], []any{
		map[string]any{"Key": "CostCenter", "Value": "payments"},
		map[string]any{"Key": "Environment", "Value": "dev"},
		map[string]any{"Key": "Name", "Value": "mine"},
	})
}

func mustTemplate(t *testing.T, c *cloudformation.Template) *Template {
	t.Helper()
	tmpl, err := newTemplate(c)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}
