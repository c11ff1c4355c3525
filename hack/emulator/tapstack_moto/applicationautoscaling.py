"""AWS::ApplicationAutoScaling::ScalableTarget and ::ScalingPolicy for moto's CloudFormation.

Gap: moto's CloudFormation skips both types, so the ECS service's CPU/memory
target tracking never exists (DescribeScalingPolicies is empty). These models
register the target and put the policies through moto's Application Auto
Scaling backend.

Ref on a ScalableTarget returns "<resource id>|<dimension>|<namespace>", the
id AWS returns and ScalingPolicy.ScalingTargetId accepts.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.core.common_models import CloudFormationModel

from ._base import Resource


def _backend(account_id: str, region_name: str) -> Any:
    return applicationautoscaling_backends[account_id][region_name]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


class ScalableTarget(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"
    ATTRIBUTES = {"Id": lambda r: r.physical_resource_id}

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        suspended = props.get("SuspendedState")
        _backend(account_id, region_name).register_scalable_target(
            namespace=props["ServiceNamespace"],
            r_id=props["ResourceId"],
            dimension=props["ScalableDimension"],
            min_capacity=_int(props.get("MinCapacity")),
            max_capacity=_int(props.get("MaxCapacity")),
            role_arn=props.get("RoleARN"),
            suspended_state=suspended,
        )
        physical = "|".join(
            (props["ResourceId"], props["ScalableDimension"], props["ServiceNamespace"])
        )
        return cls(account_id, region_name, physical, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        r_id, dimension, namespace = physical_id.split("|")
        backend = _backend(account_id, region_name)
        if r_id in backend.targets.get(dimension, {}):
            backend.deregister_scalable_target(namespace, r_id, dimension)

    def _update_in_place(self, props):
        if not self._only_changed(
            props, {"MinCapacity", "MaxCapacity", "SuspendedState", "RoleARN"}
        ):
            return False
        self._create(self.name, props, self.account_id, self.region_name)
        return True


class ScalingPolicy(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"
    ATTRIBUTES = {"Arn": lambda r: r.physical_resource_id}

    @staticmethod
    def _target(props: dict[str, Any]) -> tuple[str, str, str]:
        if props.get("ScalingTargetId"):
            r_id, dimension, namespace = props["ScalingTargetId"].split("|")
            return namespace, r_id, dimension
        return (
            props["ServiceNamespace"],
            props["ResourceId"],
            props["ScalableDimension"],
        )

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        namespace, r_id, dimension = cls._target(props)
        policy_type = props["PolicyType"]
        body = props.get(
            "TargetTrackingScalingPolicyConfiguration"
            if policy_type == "TargetTrackingScaling"
            else "StepScalingPolicyConfiguration"
        )
        policy = _backend(account_id, region_name).put_scaling_policy(
            policy_name=props["PolicyName"],
            service_namespace=namespace,
            resource_id=r_id,
            scalable_dimension=dimension,
            policy_body=body,
            policy_type=policy_type,
        )
        return cls(account_id, region_name, policy.policy_arn, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id, region_name)
        for p in list(backend.policies.values()):
            if p.policy_arn == physical_id:
                backend.delete_scaling_policy(
                    p.policy_name, p.service_namespace, p.resource_id, p.scalable_dimension
                )
