"""GetAtt attributes moto's Elastic Load Balancing v2 models lack.

Gap: GetAtt LoadBalancer.CanonicalHostedZoneID (needed by the Route 53 alias
records) raises NotImplementedError in moto, which leaves the raw
{"Fn::GetAtt": ...} in the template; TargetGroup has no GetAtt at all; a target
group is never deleted with its stack. The values come from the objects moto
already serves through DescribeLoadBalancers / DescribeTargetGroups.
"""

from __future__ import annotations

from typing import Any

from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup, elbv2_backends


_LB_ATTRIBUTES = {
    "CanonicalHostedZoneID": lambda lb: lb.canonical_hosted_zone_id,
    "LoadBalancerArn": lambda lb: lb.arn,
    "LoadBalancerFullName": lambda lb: lb.arn.split(":", 5)[5].removeprefix("loadbalancer/"),
    "SecurityGroups": lambda lb: list(lb.security_groups or []),
}
_original_lb_get = FakeLoadBalancer.get_cfn_attribute


def _lb_get_cfn_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
    if attribute_name in _LB_ATTRIBUTES:
        return _LB_ATTRIBUTES[attribute_name](self)
    return _original_lb_get(self, attribute_name)


_TG_ATTRIBUTES = {
    "TargetGroupArn": lambda tg: tg.arn,
    "TargetGroupFullName": lambda tg: tg.arn.split(":", 5)[5],
    "TargetGroupName": lambda tg: tg.name,
    "LoadBalancerArns": lambda tg: list(tg.load_balancer_arns),
}


def _tg_get_cfn_attribute(self: FakeTargetGroup, attribute_name: str) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name not in _TG_ATTRIBUTES:
        raise UnformattedGetAttTemplateException()
    return _TG_ATTRIBUTES[attribute_name](self)


def _tg_delete(self: FakeTargetGroup, account_id: str, region_name: str) -> None:
    backend = elbv2_backends[account_id][region_name]
    if self.arn in backend.target_groups:
        backend.delete_target_group(self.arn)


FakeLoadBalancer.get_cfn_attribute = _lb_get_cfn_attribute  # type: ignore[method-assign]
FakeTargetGroup.get_cfn_attribute = _tg_get_cfn_attribute  # type: ignore[attr-defined]
FakeTargetGroup.has_cfn_attr = classmethod(lambda cls, attr: attr in _TG_ATTRIBUTES)  # type: ignore[assignment]
FakeTargetGroup.delete = _tg_delete  # type: ignore[attr-defined]
