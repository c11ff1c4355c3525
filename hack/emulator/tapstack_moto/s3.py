"""AWS::S3::BucketPolicy for moto's CloudFormation.

Gap: moto's CloudFormation skips BucketPolicy, so the TLS-only policies of the
stack's buckets never reach S3 (GetBucketPolicy says NoSuchBucketPolicy). This
model puts the policy document through moto's S3 backend.
"""

from __future__ import annotations

import json

from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

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
