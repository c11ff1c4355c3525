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
- moto lists alias records with TTL 0. Route 53 lists them without a TTL and
  refuses an alias record that carries one, so a client that sends a record
  back as listed (an UPSERT of the weight only) would pass here and fail on
  AWS. Here an alias record created without a TTL has none.
- moto answers every ChangeResourceRecordSets INSYNC under one fixed change id,
  and GetChange INSYNC for any id, so nothing that waits for a change ever
  waits. Route 53 answers PENDING until all its name servers have the change.
  Here each change gets its own id and is PENDING for a short while (0.5 s, or
  what POST route53/settings {changePendingSeconds} says), then INSYNC; ids
  this module did not hand out stay INSYNC as in moto.
- moto's GetHealthCheckStatus reports one checker, always healthy. Route 53
  has about 16 checkers and the cutover gate counts them: POST
  route53/health-check {healthCheckId, checkers, healthy, failureStatus?} sets
  how many report and how many of those report success (checkers null: back to
  moto's one healthy checker).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53.models import HealthCheck, route53_backends
from moto.route53.models import RecordSet as MotoRecordSet
from moto.route53.responses import Route53 as Route53Response

from . import control
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


# --- Alias records without a TTL ----------------------------------------------

_original_record_set_init = MotoRecordSet.__init__


def _record_set_init(self: MotoRecordSet, kwargs: dict[str, Any]) -> None:
    _original_record_set_init(self, kwargs)
    if self.alias_target and "TTL" not in kwargs:
        self.ttl = None


MotoRecordSet.__init__ = _record_set_init  # type: ignore[method-assign]


# --- Change propagation: PENDING, then INSYNC ---------------------------------

_lock = threading.Lock()
_settings = {"changePendingSeconds": 0.5}
# Bare change id -> (submitted at, monotonic time from which it is INSYNC).
_changes: dict[str, tuple[Any, float]] = {}

_original_change_resource_record_sets = Route53Response.change_resource_record_sets
_original_get_change = Route53Response.get_change


def _bare(change_id: str) -> str:
    return change_id.rsplit("/", 1)[-1]


def _change_resource_record_sets(self: Route53Response) -> Any:
    # A batch moto refuses raises here, so no change id is handed out for it.
    result = _original_change_resource_record_sets(self)
    bare = "C" + uuid.uuid4().hex[:13].upper()
    info = result.result["ChangeInfo"]
    with _lock:
        pending = float(_settings["changePendingSeconds"])
        _changes[bare] = (info["SubmittedAt"], time.monotonic() + pending)
    info["Id"] = "/change/" + bare
    info["Status"] = "PENDING" if pending > 0 else "INSYNC"
    comment = self._get_param("ChangeBatch.Comment")
    if comment:
        info["Comment"] = comment
    return result


def _get_change(self: Route53Response) -> Any:
    result = _original_get_change(self)
    info = result.result["ChangeInfo"]
    bare = _bare(info["Id"])
    with _lock:
        known = _changes.get(bare)
    info["Id"] = "/change/" + bare
    if known is not None:
        submitted, insync_at = known
        info["SubmittedAt"] = submitted
        info["Status"] = "INSYNC" if time.monotonic() >= insync_at else "PENDING"
    return result


Route53Response.change_resource_record_sets = _change_resource_record_sets  # type: ignore[method-assign]
Route53Response.get_change = _get_change  # type: ignore[method-assign]


@control.route("POST", "route53/settings")
def _control_settings(body: dict[str, Any]) -> Any:
    """{changePendingSeconds?}: how long a new change stays PENDING (0: INSYNC at once)."""
    with _lock:
        if "changePendingSeconds" in body:
            seconds = float(body["changePendingSeconds"])
            if seconds < 0:
                raise ValueError(f"changePendingSeconds {seconds}: want 0 or more")
            _settings["changePendingSeconds"] = seconds
        return dict(_settings)


# --- Health checkers ----------------------------------------------------------

# Route 53's checker regions, two checkers in each as Route 53 has them.
_CHECKER_REGIONS = (
    "us-east-1", "us-west-1", "us-west-2", "eu-west-1",
    "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1",
)
_SUCCESS = "Success: HTTP Status Code 200, OK"
_FAILURE = "Failure: HTTP Status Code 503, Service Unavailable"

_original_get_health_check_status = Route53Response.get_health_check_status


def _observations(checkers: dict[str, Any]) -> list[dict[str, Any]]:
    now = utcnow()
    observations = []
    for i in range(checkers["checkers"]):
        region = _CHECKER_REGIONS[i % len(_CHECKER_REGIONS)]
        observations.append({
            "Region": region,
            # Route 53's health checkers connect from 15.177.0.0/18.
            "IPAddress": f"15.177.{(i % len(_CHECKER_REGIONS)) * 8 + i // len(_CHECKER_REGIONS)}.{10 + i}",
            "StatusReport": {
                "Status": _SUCCESS if i < checkers["healthy"] else checkers["failureStatus"],
                "CheckedTime": now,
            },
        })
    return observations


def _get_health_check_status(self: Route53Response) -> Any:
    health_check = self.backend.get_health_check(self._get_param("HealthCheckId"))
    with _lock:
        checkers = getattr(health_check, "_tapstack_checkers", None)
    if checkers is None:
        return _original_get_health_check_status(self)
    return ActionResult({"HealthCheckObservations": _observations(checkers)})


Route53Response.get_health_check_status = _get_health_check_status  # type: ignore[method-assign]


@control.route("POST", "route53/health-check")
def _control_health_check(body: dict[str, Any]) -> Any:
    """{healthCheckId, checkers, healthy, failureStatus?, accountId?}; checkers null resets."""
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = _backend(body.get("accountId") or DEFAULT_ACCOUNT_ID)
    health_check = backend.get_health_check(body["healthCheckId"])
    if body.get("checkers") is None:
        with _lock:
            health_check._tapstack_checkers = None
        return {"healthCheckId": health_check.id, "checkers": None}
    checkers, healthy = int(body["checkers"]), int(body.get("healthy", body["checkers"]))
    if not 0 <= checkers <= 64:
        raise ValueError(f"checkers {checkers}: want 0-64")
    if not 0 <= healthy <= checkers:
        raise ValueError(f"healthy {healthy}: want 0-{checkers}")
    failure = body.get("failureStatus") or _FAILURE
    if not failure.startswith("Failure"):
        raise ValueError(f"failureStatus {failure!r}: Route 53 starts it with 'Failure'")
    state = {"checkers": checkers, "healthy": healthy, "failureStatus": failure}
    with _lock:
        health_check._tapstack_checkers = state
    return {"healthCheckId": health_check.id, **state}
