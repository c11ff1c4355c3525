"""IAM fixes for moto's CloudFormation.

Gap: moto's AWS::IAM::Role model ignores ManagedPolicyArns, so the DMS service
roles (dms-vpc-role, dms-cloudwatch-logs-role), the task execution role and the
RDS monitoring role had no attached policies (ListAttachedRolePolicies empty).
The ARNs are attached now on create, reconciled on update (attach the new,
detach the dropped) and detached before the role is deleted (IAM refuses to
delete a role with attached policies).

moto only loads its copy of the AWS managed policies with
MOTO_IAM_LOAD_MANAGED_POLICIES (over a thousand policies, slow to parse at every
start); here a referenced ``arn:aws:iam::aws:policy/...`` is loaded on first use
from that same copy, so it is an AWS-managed policy like in an account. An ARN
that is neither there nor a customer policy fails the role, as in AWS.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from moto.iam.models import AWSManagedPolicy, Role, iam_backends
from moto.utilities.utils import get_partition


@lru_cache(maxsize=1)
def _aws_managed_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def _backend(account_id: str, region_name: str) -> Any:
    return iam_backends[account_id][get_partition(region_name)]


def _ensure_aws_managed(backend: Any, arn: str, region_name: str) -> None:
    if arn in backend.managed_policies or ":iam::aws:policy/" not in arn:
        return
    name = arn.rsplit("/", 1)[-1]
    data = _aws_managed_data().get(name)
    if data is None:
        return  # attach_role_policy reports it as not attachable
    policy = AWSManagedPolicy.from_data(name, backend.account_id, region_name, data)
    if policy.arn == arn:
        backend.managed_policies[policy.arn] = policy


def _sync_managed_policies(role: Role, arns: list[str], account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    wanted = list(dict.fromkeys(arns or []))
    for arn in list(role.managed_policies):
        if arn not in wanted:
            backend.detach_role_policy(arn, role.name)
    for arn in wanted:
        if arn not in role.managed_policies:
            _ensure_aws_managed(backend, arn, region_name)
            backend.attach_role_policy(arn, role.name)


_original_create = Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_original_update = Role.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_original_delete = Role.delete_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_role(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    role = _original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    props = cloudformation_json.get("Properties") or {}
    try:
        _sync_managed_policies(role, props.get("ManagedPolicyArns") or [], account_id, region_name)
    except Exception:
        # The resource failed: nothing of it may stay behind (the stack never
        # learns its name, so neither rollback nor deletion would remove it).
        _delete_role(cls, role.name, cloudformation_json, account_id, region_name)
        raise
    return role


def _update_role(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    role = _original_update(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )
    props = cloudformation_json.get("Properties") or {}
    _sync_managed_policies(role, props.get("ManagedPolicyArns") or [], account_id, region_name)
    return role


def _delete_role(cls, resource_name, cloudformation_json, account_id, region_name):
    backend = _backend(account_id, region_name)
    role = next((r for r in backend.roles.values() if r.name == resource_name), None)
    if role is not None:
        _sync_managed_policies(role, [], account_id, region_name)
    _original_delete(cls, resource_name, cloudformation_json, account_id, region_name)


Role.create_from_cloudformation_json = classmethod(_create_role)  # type: ignore[method-assign]
Role.update_from_cloudformation_json = classmethod(_update_role)  # type: ignore[method-assign]
Role.delete_from_cloudformation_json = classmethod(_delete_role)  # type: ignore[method-assign]
