"""AWS::Route53::HostedZone, ::RecordSet and ::HealthCheck fixes for moto's CloudFormation.

Gaps closed:
- moto's HostedZone model always creates a *public* zone and ignores VPCs and
  HostedZoneConfig; it has no GetAtt. Here: private zone associated with the
  template's VPCs, GetAtt Id / NameServers, and deletion (refused while records
  other than NS/SOA remain, like AWS, so moto's delete loop removes records first).
- moto stores records created by CloudFormation without the trailing dot and
  outside the change journal, so ChangeResourceRecordSets UPSERT/DELETE from the
  API does not match them. Here records go through moto's own
  ChangeResourceRecordSets path (trailing dot, journal), and update/delete act on
  exactly one (name, type, set identifier) - moto's deletes every weighted
  record of the name.
- moto's HealthCheck model cannot be deleted; the stack left it behind.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.route53.models import HealthCheck, route53_backends

from ._base import Resource


def _backend(account_id: str) -> Any:
    return route53_backends[account_id]["aws"]


def _dot(name: str) -> str:
    return name if name.endswith(".") else name + "."


class HostedZone(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::Route53::HostedZone"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {
        "Id": lambda r: r.physical_resource_id,
        "NameServers": lambda r: list(
            _backend(r.account_id)
            .get_hosted_zone(r.physical_resource_id)
            .delegation_set.name_servers
        ),
    }

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        vpcs = props.get("VPCs") or []
        first = vpcs[0] if vpcs else {}
        zone = _backend(account_id).create_hosted_zone(
            _dot(props.get("Name", name)),
            private_zone=bool(vpcs),
            vpcid=first.get("VPCId"),
            vpcregion=first.get("VPCRegion"),
            comment=(props.get("HostedZoneConfig") or {}).get("Comment"),
        )
        for vpc in vpcs[1:]:
            zone.add_vpc(vpc.get("VPCId"), vpc.get("VPCRegion"))
        tags = props.get("HostedZoneTags")
        if tags:
            _backend(account_id).change_tags_for_resource(
                "hostedzone", zone.resource_id, tags, []
            )
        return cls(account_id, region_name, zone.resource_id, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id)
        if physical_id in backend.zones:
            backend.delete_hosted_zone(physical_id)

    def _update_in_place(self, props):
        if not self._only_changed(props, {"HostedZoneConfig", "HostedZoneTags", "VPCs"}):
            return False
        zone = _backend(self.account_id).get_hosted_zone(self.physical_resource_id)
        zone.comment = (props.get("HostedZoneConfig") or {}).get("Comment")
        zone.vpcs = []
        for vpc in props.get("VPCs") or []:
            zone.add_vpc(vpc.get("VPCId"), vpc.get("VPCRegion"))
        return True


class RecordSet(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::Route53::RecordSet"
    NAME_PROPERTY = "Name"
    # Ref returns the record name.

    @staticmethod
    def _zone(account_id: str, props: dict[str, Any]) -> Any:
        backend = _backend(account_id)
        if props.get("HostedZoneId"):
            return backend.get_hosted_zone(props["HostedZoneId"])
        zone = backend.get_hosted_zone_by_name(_dot(props["HostedZoneName"]))
        return zone or backend.get_hosted_zone_by_name(props["HostedZoneName"])

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        zone = cls._zone(account_id, props)
        rrset = {
            k: v
            for k, v in props.items()
            if k not in ("HostedZoneId", "HostedZoneName", "Comment")
        }
        rrset["Name"] = _dot(props["Name"])
        if "ResourceRecords" in rrset:
            rrset["ResourceRecords"] = [{"Value": v} for v in rrset["ResourceRecords"]]
        if "TTL" in rrset:
            rrset["TTL"] = str(rrset["TTL"])
        if "AliasTarget" in rrset:
            alias = dict(rrset["AliasTarget"])
            alias["DNSName"] = _dot(alias["DNSName"])
            alias.setdefault("EvaluateTargetHealth", False)
            rrset["AliasTarget"] = alias
        _backend(account_id).change_resource_record_sets(
            zone.resource_id, [{"Action": "CREATE", "ResourceRecordSet": rrset}]
        )
        cfn = cls(account_id, region_name, props["Name"], name, props)
        cfn.key = (zone.resource_id, rrset["Name"], rrset["Type"], rrset.get("SetIdentifier"))
        return cfn

    def delete(self, account_id, region_name):
        zone_id, name, type_, set_id = self.key
        backend = _backend(account_id)
        if zone_id not in backend.zones:
            return
        zone = backend.zones[zone_id]
        zone.rrsets = [
            r
            for r in zone.rrsets
            if (r.name, r.type, r.set_identifier) != (name, type_, set_id)
        ]

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        # Only reached without a handle; the handle's delete() is exact.
        return None


def _delete_health_check(self: HealthCheck, account_id: str, region_name: str) -> None:
    _backend(account_id).delete_health_check(self.id)


HealthCheck.delete = _delete_health_check  # type: ignore[attr-defined]
