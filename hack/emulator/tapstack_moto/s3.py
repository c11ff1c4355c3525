"""S3 fixes for moto's CloudFormation.

Gap: moto's CloudFormation skips BucketPolicy, so the TLS-only policies of the
stack's buckets never reach S3 (GetBucketPolicy says NoSuchBucketPolicy). This
model puts the policy document through moto's S3 backend.

Gap: moto's AWS::S3::Bucket model applies only BucketEncryption and Tags, so a
bucket created by the stack had no versioning (GetBucketVersioning empty), no
public access block, no lifecycle rules and no replication. On create and on
update the bucket now gets VersioningConfiguration, PublicAccessBlockConfiguration,
LifecycleConfiguration, ReplicationConfiguration and OwnershipControls, translated
from the CloudFormation shapes to the ones the S3 API stores; a property removed
by an update is removed from the bucket, as in AWS. GetBucketReplication shows
each rule's own DeleteMarkerReplication and Filter (moto always said Disabled
and an empty prefix). Deleting a bucket that still
holds objects or versions fails with BucketNotEmpty like in AWS (moto silently
kept the bucket and reported the resource deleted).

Gap: moto's bucket-policy check ignores conditions it cannot evaluate (every
operator but StringEquals) and applies such a statement unconditionally, so the
stack's TLS-only policy (Deny s3:* when aws:SecureTransport is "false") denied
every PutObject/DeleteObject with 403. A request to the emulator stands for a
request to S3's regional endpoint, which the SDK (and the operator) reach over
HTTPS; the emulator listens on plain HTTP only because it serves loopback.
Bucket policies are therefore evaluated with the request context
aws:SecureTransport = "true": Bool/String conditions on that key are evaluated
(a statement whose condition is false does not apply, one whose condition holds
applies). Consequence: a plain-HTTP client of the emulator is *not* treated as
insecure transport, so the Deny itself is never exercised here. The policy and its Deny statement stay exactly as the template says;
a statement conditioned on any other key is left to moto as before.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.core.responses import ActionResult
from moto.s3.exceptions import BucketNotEmpty, ReplicationConfigurationNotFoundError
from moto.s3.models import FakeBucket, s3_backends
from moto.s3.responses import S3Response

from . import control
from ._base import Resource


def _backend(account_id, region_name):
    return s3_backends[account_id]["aws"]


class BucketPolicy(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::S3::BucketPolicy"
    # Ref returns the bucket name; moto's S3 backend keeps one policy per bucket.

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        bucket = props["Bucket"]
        document = props["PolicyDocument"]
        if not isinstance(document, str):
            document = json.dumps(document)
        _backend(account_id, region_name).put_bucket_policy(bucket, document.encode())
        return cls(account_id, region_name, bucket, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id, region_name)
        if physical_id in backend.buckets:
            backend.delete_bucket_policy(physical_id)

    def _update_in_place(self, props):
        if props.get("Bucket") != self.properties.get("Bucket"):
            return False
        self._create(self.name, props, self.account_id, self.region_name)
        return True


# --- AWS::S3::Bucket properties moto's model drops --------------------------


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle Rule as the S3 API's LifecycleRule."""
    out: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule["Status"]}
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters") or []]
    prefix = rule.get("Prefix") or ""
    out["Filter"] = {"And": {"Prefix": prefix, "Tag": tags}} if tags else {"Prefix": prefix}
    transitions = list(rule.get("Transitions") or [])
    if rule.get("Transition"):
        transitions.append(rule["Transition"])
    out["Transition"] = [
        {
            k: v
            for k, v in (
                ("Days", t.get("TransitionInDays")),
                ("Date", t.get("TransitionDate")),
                ("StorageClass", t.get("StorageClass")),
            )
            if v is not None
        }
        for t in transitions
    ]
    noncurrent = list(rule.get("NoncurrentVersionTransitions") or [])
    if rule.get("NoncurrentVersionTransition"):
        noncurrent.append(rule["NoncurrentVersionTransition"])
    out["NoncurrentVersionTransition"] = [
        {
            k: v
            for k, v in (
                ("NoncurrentDays", t.get("TransitionInDays")),
                ("StorageClass", t.get("StorageClass")),
                ("NewerNoncurrentVersions", t.get("NewerNoncurrentVersions")),
            )
            if v is not None
        }
        for t in noncurrent
    ]
    expiration = {
        k: v
        for k, v in (
            ("Days", rule.get("ExpirationInDays")),
            ("Date", rule.get("ExpirationDate")),
            ("ExpiredObjectDeleteMarker", rule.get("ExpiredObjectDeleteMarker")),
        )
        if v is not None
    }
    if expiration:
        out["Expiration"] = expiration
    nve = rule.get("NoncurrentVersionExpiration") or {}
    if rule.get("NoncurrentVersionExpirationInDays") is not None:
        nve = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if nve:
        out["NoncurrentVersionExpiration"] = nve
    if rule.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return out


def _replication(config: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation ReplicationConfiguration as the S3 API stores it."""
    rules = []
    for rule in config.get("Rules") or []:
        out = {k: v for k, v in rule.items() if k not in ("Id", "Prefix")}
        if rule.get("Id"):
            out["ID"] = rule["Id"]
        if "Filter" not in out:
            out["Prefix"] = rule.get("Prefix", "")
        rules.append(out)
    return {"Role": config["Role"], "Rule": rules}


def _apply_bucket_properties(backend: Any, name: str, props: dict[str, Any], previous: dict[str, Any]) -> None:
    """Apply (or, when an update drops them, remove) the bucket's configurations."""
    bucket = backend.get_bucket(name)
    if "VersioningConfiguration" in props:
        backend.put_bucket_versioning(name, props["VersioningConfiguration"]["Status"])
    elif "VersioningConfiguration" in previous and bucket.versioning_status:
        # Once versioned, a bucket can only be suspended.
        backend.put_bucket_versioning(name, "Suspended")
    if "PublicAccessBlockConfiguration" in props:
        backend.put_public_access_block(name, props["PublicAccessBlockConfiguration"])
    elif "PublicAccessBlockConfiguration" in previous:
        backend.delete_public_access_block(name)
    if "OwnershipControls" in props:
        rules = props["OwnershipControls"].get("Rules") or []
        if rules:
            backend.put_bucket_ownership_controls(name, rules[0]["ObjectOwnership"])
    elif "OwnershipControls" in previous:
        backend.delete_bucket_ownership_controls(name)
    if "LifecycleConfiguration" in props:
        rules = props["LifecycleConfiguration"].get("Rules") or []
        backend.put_bucket_lifecycle_configuration(name, [_lifecycle_rule(r) for r in rules])
    elif "LifecycleConfiguration" in previous:
        backend.delete_bucket_lifecycle(name)
    if "ReplicationConfiguration" in props:
        # S3 requires versioning on the source (and destination) first, as here.
        backend.put_bucket_replication(name, _replication(props["ReplicationConfiguration"]))
    elif "ReplicationConfiguration" in previous:
        backend.delete_bucket_replication(name)
    if "BucketEncryption" not in props and "BucketEncryption" in previous:
        backend.delete_bucket_encryption(name)
    if "Tags" not in props and "Tags" in previous:
        backend.put_bucket_tagging(name, {})


_original_bucket_create = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_original_bucket_update = FakeBucket.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    bucket = _original_bucket_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    props = cloudformation_json.get("Properties") or {}
    _apply_bucket_properties(_backend(account_id, region_name), bucket.name, props, {})
    bucket.cfn_properties = props
    return bucket


def _update_bucket(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json.get("Properties") or {}
    previous = getattr(original_resource, "cfn_properties", {})
    bucket = _original_bucket_update(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )
    if bucket is original_resource:  # updated in place; a replacement is set up by create
        _apply_bucket_properties(_backend(account_id, region_name), bucket.name, props, previous)
        bucket.cfn_properties = props
    return bucket


def _delete_bucket(cls, resource_name, cloudformation_json, account_id, region_name):
    backend = _backend(account_id, region_name)
    if resource_name not in backend.buckets:
        return
    if backend.delete_bucket(resource_name) is None:
        raise BucketNotEmpty(resource_name)


def _get_bucket_replication(self: S3Response) -> Any:
    # moto's response hard-codes DeleteMarkerReplication and Filter; this is
    # the same response with each rule's stored members.
    self.data["Action"] = "GetBucketReplication"
    replication = self.backend.get_bucket_replication(self.bucket_name)
    if not replication:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    rules = [
        {
            "ID": rule["ID"],
            "Priority": rule["Priority"],
            "Status": rule["Status"],
            "DeleteMarkerReplication": rule.get("DeleteMarkerReplication") or {"Status": "Disabled"},
            "Filter": rule.get("Filter") or {"Prefix": rule.get("Prefix") or ""},
            "Destination": rule["Destination"],
        }
        for rule in replication["Rule"]
    ]
    return self.serialized(
        ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}})
    )


S3Response.get_bucket_replication = _get_bucket_replication  # type: ignore[method-assign]
FakeBucket.create_from_cloudformation_json = classmethod(_create_bucket)  # type: ignore[method-assign]
FakeBucket.update_from_cloudformation_json = classmethod(_update_bucket)  # type: ignore[method-assign]
FakeBucket.delete_from_cloudformation_json = classmethod(_delete_bucket)  # type: ignore[method-assign]


# --- bucket policy conditions: the request context of the emulated endpoint --

# Every request served here stands for an SDK request to AWS over TLS.
REQUEST_CONTEXT = {"aws:securetransport": "true"}

_OPERATORS = {
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
}


def _condition_holds(condition: dict[str, Any]) -> bool | None:
    """True/False when every test is on a known key, None otherwise."""
    for operator, tests in condition.items():
        compare = _OPERATORS.get(operator)
        if compare is None:
            return None
        for key, expected in tests.items():
            actual = REQUEST_CONTEXT.get(key.lower())
            if actual is None:
                return None
            values = expected if isinstance(expected, list) else [expected]
            if operator == "StringNotEquals":
                ok = all(compare(actual, str(v)) for v in values)
            else:
                ok = any(compare(actual, str(v)) for v in values)
            if not ok:
                return False
    return True


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode())
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    applicable = []
    for statement in statements:
        condition = statement.get("Condition")
        if condition:
            holds = _condition_holds(condition)
            if holds is False:
                continue
            if holds:
                statement = {k: v for k, v in statement.items() if k != "Condition"}
        applicable.append(statement)
    return IAMPolicy(json.dumps({**document, "Statement": applicable})).is_action_permitted(
        action, resource
    )


FakeBucket.get_permission = _get_permission  # type: ignore[method-assign]


@control.route("POST", "s3/fill")
def _control_fill(body: dict[str, Any]) -> Any:
    """{bucket, versions, prefix?, accountId?}: write that many object versions
    (one per key under prefix) straight into the backend, for tests that need
    a bucket of many versions (20k PutObject calls through HTTP would take
    minutes, and moto's store of one key's versions slows down as it grows)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = _backend(body.get("accountId") or DEFAULT_ACCOUNT_ID, "us-east-1")
    bucket, prefix, n = body["bucket"], body.get("prefix") or "fill/", int(body["versions"])
    if n < 1 or n > 1_000_000:
        raise ValueError(f"versions {n}: want 1..1000000")
    if backend.get_bucket(bucket).versioning_status != "Enabled":
        raise ValueError(f"bucket {bucket} is not versioned: every write would replace the last")
    for i in range(n):
        backend.put_object(bucket, f"{prefix}{i:07d}", b"x")
    return {"bucket": bucket, "prefix": prefix, "versions": n}
