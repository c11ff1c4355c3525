"""Security-group egress for moto's CloudFormation.

Gap: moto's CloudFormation skips stand-alone AWS::EC2::SecurityGroupEgress, so
the stack's least-privilege paths (ALB -> service, DMS/service -> PostgreSQL)
were missing from DescribeSecurityGroups. This model authorizes them through
moto's EC2 backend; Ref returns the rule id, deletion revokes the rule.

Gap: moto's SecurityGroup model ignores the inline SecurityGroupEgress list and
keeps the default allow-all rule, which makes every group wide open outbound.
As in AWS, an inline egress list now replaces the default rule.

Gap: moto's NAT gateway, Elastic IP, internet gateway (and its attachment),
route table, route and subnet association models cannot be deleted, so
DeleteStack failed with "The vpc ... has dependencies" (and moto then forgot
the stack). Their ``delete`` now calls the EC2 backend's own Delete/Release/
Detach/Disassociate operations; an object still in use raises, and moto's delete
loop retries it after its dependants are gone, like AWS's dependency order.

Gap: moto's AWS-managed prefix lists (S3, DynamoDB, CloudFront, Ground Station,
VPC Lattice) lack ``com.amazonaws.<region>.route53-healthchecks`` (and its
``ipv6`` twin), so DescribeManagedPrefixLists found no list of the Route 53
health checkers, the only internet source the TapStack's ALB admits. Every
region's backend now has both, owned by ``AWS``, with the health checkers'
published ranges.

Gap: moto's SecurityGroup model reads only CidrIp and SourceSecurityGroupId of
an inline SecurityGroupIngress rule and drops SourcePrefixListId (and
CidrIpv6) without a word, so the ALB's rule from the health checkers' prefix
list was missing from DescribeSecurityGroups. Inline ingress rules are now
authorized with every source they name.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_ip_addresses import ElasticAddress
from moto.ec2.models.internet_gateways import InternetGateway
from moto.ec2.models.managed_prefixes import ManagedPrefixListBackend
from moto.ec2.models.nat_gateways import NatGateway
from moto.ec2.models.route_tables import Route, RouteTable
from moto.ec2.models.security_groups import SecurityGroup
from moto.ec2.models.subnets import SubnetRouteTableAssociation
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

from ._base import Resource


def _rule_args(props: dict[str, Any], peer: str = "Destination") -> dict[str, Any]:
    """moto's authorize/revoke arguments for one rule of the template's shape;
    peer is "Destination" for egress, "Source" for ingress (the prefix of the
    property naming the other side)."""
    description = props.get("Description")
    ip_ranges = []
    if props.get("CidrIp"):
        ip_ranges.append({"CidrIp": props["CidrIp"], "Description": description})
    if props.get("CidrIpv6"):
        ip_ranges.append({"CidrIpv6": props["CidrIpv6"], "Description": description})
    groups = []
    if props.get(peer + "SecurityGroupId"):
        groups.append({"GroupId": props[peer + "SecurityGroupId"], "Description": description})
    if props.get(peer + "SecurityGroupName"):
        groups.append({"GroupName": props[peer + "SecurityGroupName"], "Description": description})
    prefixes = []
    if props.get(peer + "PrefixListId"):
        prefixes.append({"PrefixListId": props[peer + "PrefixListId"], "Description": description})
    return {
        "group_name_or_id": props["GroupId"],
        "ip_protocol": str(props["IpProtocol"]),
        "from_port": props.get("FromPort"),
        "to_port": props.get("ToPort"),
        "ip_ranges": ip_ranges,
        "source_groups": groups,
        "prefix_list_ids": prefixes,
    }


class SecurityGroupEgress(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::EC2::SecurityGroupEgress"
    ATTRIBUTES = {"Id": lambda r: r.physical_resource_id}

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        rules, _ = ec2_backends[account_id][region_name].authorize_security_group_egress(
            **_rule_args(props)
        )
        return cls(account_id, region_name, rules[0].id, name, props)

    def delete(self, account_id, region_name):
        backend = ec2_backends[account_id][region_name]
        if backend.get_security_group_by_name_or_id(self.properties["GroupId"]) is None:
            return  # the group went first; its rules went with it
        backend.revoke_security_group_egress(**_rule_args(self.properties))

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        return None  # only the handle knows the rule; see delete()


_original_sg_create = SecurityGroup.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_security_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json.get("Properties") or {}
    # moto's own model gets no inline ingress: it would drop prefix-list sources.
    without_ingress = {**cloudformation_json, "Properties": {k: v for k, v in props.items() if k != "SecurityGroupIngress"}}
    group = _original_sg_create(cls, resource_name, without_ingress, account_id, region_name, **kwargs)
    backend = ec2_backends[account_id][region_name]
    for rule in props.get("SecurityGroupIngress") or []:
        backend.authorize_security_group_ingress(**_rule_args({**rule, "GroupId": group.id}, "Source"),
                                                 vpc_id=props.get("VpcId"))
    egress = props.get("SecurityGroupEgress")
    if egress:
        group.egress_rules = []
        for rule in egress:
            backend.authorize_security_group_egress(**_rule_args({**rule, "GroupId": group.id}))
    return group


SecurityGroup.create_from_cloudformation_json = classmethod(_create_security_group)  # type: ignore[method-assign]


def _ec2(account_id: str, region_name: str) -> Any:
    return ec2_backends[account_id][region_name]


def _delete_nat_gateway(self: NatGateway, account_id: str, region_name: str) -> None:
    backend = _ec2(account_id, region_name)
    backend.delete_nat_gateway(self.id)
    # AWS frees the gateway's address and network interface with it.
    for eip in list(backend.addresses):
        if eip.eni is self._eni:
            backend.disassociate_address(address=eip.public_ip)
    if self._eni.id in backend.enis:
        backend.delete_network_interface(self._eni.id)


def _release_address(self: ElasticAddress, account_id: str, region_name: str) -> None:
    backend = _ec2(account_id, region_name)
    # A NAT gateway holds its address until the gateway is deleted.
    if any(
        n.state != "deleted" and n._eni is self.eni for n in backend.nat_gateways.values()
    ):
        raise RuntimeError(f"{self.allocation_id} is used by a NAT gateway")
    if self in backend.addresses:
        backend.release_address(allocation_id=self.allocation_id)


def _detach_gateway(self: VPCGatewayAttachment, account_id: str, region_name: str) -> None:
    backend = _ec2(account_id, region_name)
    if self.gateway_id in backend.internet_gateways:
        igw = backend.internet_gateways[self.gateway_id]
        if igw.vpc is not None and igw.vpc.id == self.vpc_id:
            backend.detach_internet_gateway(self.gateway_id, self.vpc_id)


def _delete_internet_gateway(self: InternetGateway, account_id: str, region_name: str) -> None:
    _ec2(account_id, region_name).delete_internet_gateway(self.id)


def _delete_route(self: Route, account_id: str, region_name: str) -> None:
    backend = _ec2(account_id, region_name)
    if self.route_table.id in backend.route_tables:
        backend.delete_route(self.route_table.id, self.destination_cidr_block,
                             self.destination_ipv6_cidr_block)


def _delete_route_table(self: RouteTable, account_id: str, region_name: str) -> None:
    _ec2(account_id, region_name).delete_route_table(self.id)


def _disassociate_subnet(self: SubnetRouteTableAssociation, account_id: str, region_name: str) -> None:
    backend = _ec2(account_id, region_name)
    backend.subnet_associations.pop(f"{self.route_table_id}:{self.subnet_id}", None)
    table = backend.route_tables.get(self.route_table_id)
    if table is not None:
        for association_id, subnet_id in list(table._associations.items()):
            if subnet_id == self.subnet_id:
                backend.disassociate_route_table(association_id)


NatGateway.delete = _delete_nat_gateway  # type: ignore[attr-defined]
ElasticAddress.delete = _release_address  # type: ignore[attr-defined]
VPCGatewayAttachment.delete = _detach_gateway  # type: ignore[attr-defined]
InternetGateway.delete = _delete_internet_gateway  # type: ignore[attr-defined]
Route.delete = _delete_route  # type: ignore[attr-defined]
RouteTable.delete = _delete_route_table  # type: ignore[attr-defined]
SubnetRouteTableAssociation.delete = _disassociate_subnet  # type: ignore[attr-defined]


# The Route 53 health checkers' published ranges (ip-ranges.json, service
# ROUTE53_HEALTHCHECKS); what matters to the TapStack is the list's name and id.
_ROUTE53_HEALTHCHECKS_IPV4 = [
    "107.23.255.0/26", "54.243.31.192/26", "54.183.255.128/26", "54.241.32.64/26",
    "54.244.52.192/26", "54.245.168.0/26", "54.228.16.0/26", "176.34.159.192/26",
    "54.248.220.0/26", "54.250.253.192/26", "54.251.31.128/26", "54.255.254.192/26",
    "54.252.79.128/26", "54.252.254.192/26", "54.232.40.64/26", "177.71.207.128/26",
]
_ROUTE53_HEALTHCHECKS_IPV6 = [
    "2600:1f18:7fff:f800::/56", "2600:1f1c:7ff:f800::/56", "2600:1f14:fff:f800::/56",
    "2a05:d018:fff:f800::/56", "2406:da14:7ff:f800::/56", "2406:da18:fff:f800::/56",
    "2406:da1c:7ff:f800::/56", "2600:1f1e:7ff:f800::/56",
]

_original_default_pls = ManagedPrefixListBackend.create_default_pls


def _create_default_pls(self: ManagedPrefixListBackend) -> None:
    _original_default_pls(self)
    region = self.region_name  # type: ignore[attr-defined]
    self._create_aws_managed_prefix_list(
        name=f"com.amazonaws.{region}.route53-healthchecks",
        address_family="IPv4",
        entries=[{"Cidr": c, "Description": "Route 53 health checkers"} for c in _ROUTE53_HEALTHCHECKS_IPV4],
    )
    self._create_aws_managed_prefix_list(
        name=f"com.amazonaws.{region}.ipv6.route53-healthchecks",
        address_family="IPv6",
        entries=[{"Cidr": c, "Description": "Route 53 health checkers"} for c in _ROUTE53_HEALTHCHECKS_IPV6],
    )


ManagedPrefixListBackend.create_default_pls = _create_default_pls  # type: ignore[method-assign]
