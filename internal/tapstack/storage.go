package tapstack

import (
	"github.com/awslabs/goformation/v7/cloudformation/s3"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Storage layer: a bucket per side for transaction logs and audit trails, the
// source replicated into the target. Encryption is also guaranteed by the
// encryptBuckets aspect for any bucket added later.

const (
	idBucketReplicationRole = "BucketReplicationRole"
	glacier                 = "GLACIER"
	abortUploadsAfterDays   = 7
)

func idBucket(s naming.Side) string       { return sided(s, "Bucket") }
func idBucketPolicy(s naming.Side) string { return sided(s, "BucketPolicy") }

// bucketName is Fn::Sub-ready: the account id keeps the global name unique.
func (b *builder) bucketName(s naming.Side) string {
	return b.names.Bucket(s, "${AWS::AccountId}")
}

// bucketARN is built from the name rather than GetAtt so that the replication
// role can name the source bucket that itself refers to the role (GetAtt would
// be a circular dependency).
func (b *builder) bucketARN(s naming.Side, suffix string) string {
	if !b.creates(s) {
		return sub("arn:${AWS::Partition}:s3:::${" + ParamSourceBucketName + "}" + suffix)
	}
	return sub("arn:${AWS::Partition}:s3:::" + b.bucketName(s) + suffix)
}

func (b *builder) storage() {
	if b.existingSource() {
		// The replication rule belongs to the source bucket, which the stack
		// does not own: only the target bucket is created, and copying the
		// existing objects is left to the owner of the source bucket.
		b.storageSide(naming.Target, nil)
		return
	}
	b.storageSide(naming.Source, b.replicationToTarget())
	b.storageSide(naming.Target, nil)
	b.add(idBucketReplicationRole, role(b.names.ReplicationRole(),
		"S3 replicates the source bucket into the target bucket",
		trust("s3.amazonaws.com"), nil,
		inlinePolicy("replicate-source-to-target", b.replicationPolicy())))
}

// storageSide is a side's bucket and its TLS-only policy.
func (b *builder) storageSide(s naming.Side, replication *s3.Bucket_ReplicationConfiguration) {
	bucket := b.bucket(s)
	bucket.ReplicationConfiguration = replication
	b.add(idBucket(s), bucket)
	b.add(idBucketPolicy(s), &s3.BucketPolicy{
		Bucket:         ref(idBucket(s)),
		PolicyDocument: policy(denyInsecureTransport(getAtt(idBucket(s), "Arn"), sub("${"+idBucket(s)+".Arn}/*"))),
	})
}

func (b *builder) bucket(s naming.Side) *s3.Bucket {
	days := int(b.spec.Storage.GlacierTransitionDays)
	return &s3.Bucket{
		BucketName:              ptr(sub(b.bucketName(s))),
		VersioningConfiguration: &s3.Bucket_VersioningConfiguration{Status: "Enabled"},
		BucketEncryption: &s3.Bucket_BucketEncryption{
			ServerSideEncryptionConfiguration: []s3.Bucket_ServerSideEncryptionRule{{
				ServerSideEncryptionByDefault: &s3.Bucket_ServerSideEncryptionByDefault{SSEAlgorithm: "AES256"},
			}},
		},
		PublicAccessBlockConfiguration: &s3.Bucket_PublicAccessBlockConfiguration{
			BlockPublicAcls: ptr(true), BlockPublicPolicy: ptr(true), IgnorePublicAcls: ptr(true), RestrictPublicBuckets: ptr(true),
		},
		OwnershipControls: &s3.Bucket_OwnershipControls{
			Rules: []s3.Bucket_OwnershipControlsRule{{ObjectOwnership: ptr("BucketOwnerEnforced")}},
		},
		LifecycleConfiguration: &s3.Bucket_LifecycleConfiguration{Rules: []s3.Bucket_Rule{{
			Id:                             ptr("archive-to-glacier"),
			Status:                         "Enabled",
			Transitions:                    []s3.Bucket_Transition{{StorageClass: glacier, TransitionInDays: ptr(days)}},
			NoncurrentVersionTransitions:   []s3.Bucket_NoncurrentVersionTransition{{StorageClass: glacier, TransitionInDays: days}},
			AbortIncompleteMultipartUpload: &s3.Bucket_AbortIncompleteMultipartUpload{DaysAfterInitiation: abortUploadsAfterDays},
		}}},
	}
}

func (b *builder) replicationToTarget() *s3.Bucket_ReplicationConfiguration {
	return &s3.Bucket_ReplicationConfiguration{
		Role: getAtt(idBucketReplicationRole, "Arn"),
		Rules: []s3.Bucket_ReplicationRule{{
			Id:                      ptr("source-to-target"),
			Status:                  "Enabled",
			Priority:                ptr(1),
			Filter:                  &s3.Bucket_ReplicationRuleFilter{Prefix: ptr("")},
			DeleteMarkerReplication: &s3.Bucket_DeleteMarkerReplication{Status: ptr("Enabled")},
			Destination:             &s3.Bucket_ReplicationDestination{Bucket: getAtt(idBucket(naming.Target), "Arn")},
		}},
	}
}

// replicationPolicy is the least S3 needs to replicate: read the source's
// configuration and object versions, write replicas into the target.
func (b *builder) replicationPolicy() policyDocument {
	return policy(
		allow([]string{"s3:GetReplicationConfiguration", "s3:ListBucket"}, b.bucketARN(naming.Source, "")),
		allow([]string{"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"},
			b.bucketARN(naming.Source, "/*")),
		allow([]string{"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"}, b.bucketARN(naming.Target, "/*")),
	)
}
