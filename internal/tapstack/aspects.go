package tapstack

import (
	"reflect"
	"sort"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/policies"
	"github.com/awslabs/goformation/v7/cloudformation/rds"
	"github.com/awslabs/goformation/v7/cloudformation/route53"
	"github.com/awslabs/goformation/v7/cloudformation/s3"
	"github.com/awslabs/goformation/v7/cloudformation/tags"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// Aspects are passes over the finished template, like CDK's Aspects and Tags.of:
// a rule that must hold for every resource is enforced once here instead of being
// remembered by every layer (and forgotten by the next resource someone adds).

func applyAspects(t *cloudformation.Template, spec v1alpha1.PaymentMigrationSpec) {
	encryptBuckets(t)
	tagResources(t, spec.Tags)
	boundRoles(t, spec.IAM.PermissionsBoundaryARN)
	makeDestroyable(t)
	if spec.DeletionPolicy == v1alpha1.DeletionPolicySnapshot {
		keepData(t)
	}
}

// boundRoles sets the permissions boundary on every role of the stack, so
// that a role a layer adds cannot escape it. Accounts that delegate role
// creation under a boundary (iam:PermissionsBoundary in the creator's policy)
// refuse CreateRole without it. An empty arn leaves the roles unbounded.
func boundRoles(t *cloudformation.Template, arn string) {
	if arn == "" {
		return
	}
	for _, r := range t.Resources {
		if role, ok := r.(*iam.Role); ok {
			role.PermissionsBoundary = &arn
		}
	}
}

// encryptBuckets guarantees server-side encryption on every bucket: a bucket a
// layer left unencrypted gets SSE-S3 (AES256) by default. Buckets that already
// say how they are encrypted keep their choice.
func encryptBuckets(t *cloudformation.Template) {
	for _, r := range t.Resources {
		bucket, ok := r.(*s3.Bucket)
		if !ok || hasDefaultEncryption(bucket) {
			continue
		}
		bucket.BucketEncryption = &s3.Bucket_BucketEncryption{
			ServerSideEncryptionConfiguration: []s3.Bucket_ServerSideEncryptionRule{{
				ServerSideEncryptionByDefault: &s3.Bucket_ServerSideEncryptionByDefault{SSEAlgorithm: "AES256"},
			}},
		}
	}
}

func hasDefaultEncryption(b *s3.Bucket) bool {
	if b.BucketEncryption == nil {
		return false
	}
	for _, rule := range b.BucketEncryption.ServerSideEncryptionConfiguration {
		if rule.ServerSideEncryptionByDefault != nil && rule.ServerSideEncryptionByDefault.SSEAlgorithm != "" {
			return true
		}
	}
	return false
}

// tagResources puts every stack tag on every taggable resource. Most goformation
// types carry `Tags []tags.Tag`; Route 53 names its tag lists differently. A
// resource's own tags (Name) are kept; a stack tag with the same key wins, so the
// three required tags cannot be overridden by accident.
func tagResources(t *cloudformation.Template, stackTags map[string]string) {
	for _, r := range t.Resources {
		switch res := r.(type) {
		case *route53.HostedZone:
			res.HostedZoneTags = nil
			for _, tag := range mergeTags(nil, stackTags) {
				res.HostedZoneTags = append(res.HostedZoneTags, route53.HostedZone_HostedZoneTag{Key: tag.Key, Value: tag.Value})
			}
		case *route53.HealthCheck:
			var own []tags.Tag
			for _, tag := range res.HealthCheckTags {
				own = append(own, tags.Tag{Key: tag.Key, Value: tag.Value})
			}
			res.HealthCheckTags = nil
			for _, tag := range mergeTags(own, stackTags) {
				res.HealthCheckTags = append(res.HealthCheckTags, route53.HealthCheck_HealthCheckTag{Key: tag.Key, Value: tag.Value})
			}
		default:
			if field, ok := tagsField(r); ok {
				existing := field.Interface().([]tags.Tag)
				field.Set(reflect.ValueOf(mergeTags(existing, stackTags)))
			}
		}
	}
}

// tagsField finds the settable `Tags []tags.Tag` field of a goformation resource.
func tagsField(r cloudformation.Resource) (reflect.Value, bool) {
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName("Tags")
	if !f.IsValid() || !f.CanSet() || f.Type() != reflect.TypeOf([]tags.Tag(nil)) {
		return reflect.Value{}, false
	}
	return f, true
}

// mergeTags returns own plus stackTags, stack tags winning, sorted by key so the
// rendered template does not depend on map order.
func mergeTags(own []tags.Tag, stackTags map[string]string) []tags.Tag {
	byKey := make(map[string]string, len(own)+len(stackTags))
	for _, t := range own {
		byKey[t.Key] = t.Value
	}
	for k, v := range stackTags {
		byKey[k] = v
	}
	out := make([]tags.Tag, 0, len(byKey))
	for k, v := range byKey {
		out = append(out, tags.Tag{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// makeDestroyable sets DeletionPolicy and UpdateReplacePolicy Delete on every
// resource: the stack is dev/test, and deleting it must leave nothing behind (no
// retained bucket, no final snapshot that would block deletion). Every goformation
// resource has the two policy fields.
func makeDestroyable(t *cloudformation.Template) {
	for _, r := range t.Resources {
		v := reflect.ValueOf(r).Elem()
		v.FieldByName("AWSCloudFormationDeletionPolicy").Set(reflect.ValueOf(policies.DeletionPolicy("Delete")))
		v.FieldByName("AWSCloudFormationUpdateReplacePolicy").Set(reflect.ValueOf(policies.UpdateReplacePolicy("Delete")))
	}
}

// keepData is deletionPolicy Snapshot: a deleted or replaced database leaves
// a final snapshot, and the buckets stay with every object version, whatever
// removes them from the stack (its deletion, a replacement). The rest of the
// stack remains destroyable.
func keepData(t *cloudformation.Template) {
	for _, r := range t.Resources {
		switch r := r.(type) {
		case *rds.DBInstance:
			r.AWSCloudFormationDeletionPolicy = policies.DeletionPolicy("Snapshot")
			r.AWSCloudFormationUpdateReplacePolicy = policies.UpdateReplacePolicy("Snapshot")
		case *s3.Bucket:
			r.AWSCloudFormationDeletionPolicy = policies.DeletionPolicy("Retain")
			r.AWSCloudFormationUpdateReplacePolicy = policies.UpdateReplacePolicy("Retain")
		}
	}
}
