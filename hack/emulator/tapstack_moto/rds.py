"""RDS fixes for moto's CloudFormation.

Gap: ``Ref`` on an AWS::RDS::DBParameterGroup returns moto's Python object (the
class has no physical_resource_id), so a DBInstance with
``DBParameterGroupName: {Ref: ...}`` crashes CreateStack. AWS returns the group
name; so does this property (and the same for DBSubnetGroup).

Gap: moto's DBInstance model defaults Port to 3306 whatever the engine, so a
PostgreSQL instance (and the secret attached to it) would say 3306. The default
here is the engine's port, as in AWS.

Gap: moto's DBParameterGroup model ignores DBParameterGroupName (it names the
group after the stack and logical id), so the instance referenced a group the
template never named and DescribeDBParameters(<template name>) said
DBParameterGroupNotFound. The template's name is used now, its Parameters are
recorded as user-set parameters (Source "user", like AWS), and an update of
Parameters, Description or Tags is applied in place (the name or family
replaces the group, as in AWS).

Gap: moto reports every instance's parameter group "in-sync" whatever happens,
and RebootDBInstance changes nothing. Here the apply status is per instance
("in-sync" by default, "pending-reboot" through /_tapstack/rds/parameter-apply-status),
and a reboot of an available instance makes it "rebooting", then, after
SETTINGS["rebootSeconds"], "available" with its parameters "in-sync"; rebooting
an instance that is not available fails with InvalidDBInstanceState, as in AWS.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

from moto.core.utils import utcnow
from moto.rds.exceptions import InvalidDBInstanceStateError
from moto.rds.models import DBInstance, DBParameterGroup, DBSubnetGroup, RDSBackend, rds_backends

from . import control

DBParameterGroup.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]
# Same for the subnet group (Ref returned the object, DescribeStackResources no id);
# moto's DBInstance model then needs the group object back, see below.
DBSubnetGroup.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]

_original_create = DBInstance.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_db_instance(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json.setdefault("Properties", {})
    if isinstance(props.get("DBSubnetGroupName"), str):
        props["DBSubnetGroupName"] = rds_backends[account_id][region_name].subnet_groups[
            props["DBSubnetGroupName"].lower()
        ]
    if "Port" in props:
        props["Port"] = int(props["Port"])
    elif props.get("Engine"):
        try:
            props["Port"] = DBInstance.default_port(props["Engine"])
        except KeyError:
            pass  # moto's own default then applies
    return _original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


DBInstance.create_from_cloudformation_json = classmethod(_create_db_instance)  # type: ignore[method-assign]


# --- DBParameterGroup: the template's name and user parameters ---------------

DBParameterGroup.cloudformation_name_type = staticmethod(lambda: "DBParameterGroupName")  # type: ignore[method-assign]
_original_create_parameter_group = DBParameterGroup.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _user_parameters(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "ParameterName": name,
            "ParameterValue": str(value),
            "Source": "user",
            "ApplyMethod": "pending-reboot",
            "IsModifiable": True,
        }
        for name, value in (props.get("Parameters") or {}).items()
    ]


def _create_parameter_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json.setdefault("Properties", {})
    # resource_name is DBParameterGroupName when the template gives one.
    group = _original_create_parameter_group(
        cls, resource_name, {**cloudformation_json, "Properties": {**props, "Parameters": {}}},
        account_id, region_name, **kwargs
    )
    group.update_parameters(_user_parameters(props))
    return group


def _update_parameter_group(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json.get("Properties") or {}
    same_name = new_resource_name.lower() == original_resource.name
    if same_name and props.get("Family") == original_resource.family:
        original_resource.description = props.get("Description", original_resource.description)
        original_resource.tags = props.get("Tags") or []
        original_resource.parameters.clear()
        original_resource.update_parameters(_user_parameters(props))
        return original_resource
    # Replacement: the new group first, then the old one goes.
    group = _create_parameter_group(cls, new_resource_name, cloudformation_json, account_id, region_name)
    if original_resource.name in rds_backends[account_id][region_name].db_parameter_groups:
        original_resource.delete(account_id, region_name)
    return group


DBParameterGroup.create_from_cloudformation_json = classmethod(_create_parameter_group)  # type: ignore[method-assign]
DBParameterGroup.update_from_cloudformation_json = classmethod(_update_parameter_group)  # type: ignore[method-assign]


# --- Parameter apply status and reboots --------------------------------------

SETTINGS: dict[str, float] = {
    "rebootSeconds": float(os.environ.get("TAPSTACK_RDS_REBOOT_SECONDS", 1.0)),
}
_lock = threading.RLock()


class _GroupStatus:
    """One DBParameterGroupStatus of one instance."""

    def __init__(self, name: str, status: str) -> None:
        self.DBParameterGroupName = name
        self.ParameterApplyStatus = status


def _group_status_list(self: Any) -> list[_GroupStatus]:
    status = getattr(self, "_tapstack_apply_status", "in-sync")
    return [_GroupStatus(g.name, status) for g in self.db_parameter_groups()]


DBInstance.db_parameter_group_status_list = property(_group_status_list)  # type: ignore[assignment]


def _advance(db: Any) -> None:
    with _lock:
        until = getattr(db, "_tapstack_reboot_until", None)
        if until is not None and utcnow() >= until:
            db._tapstack_reboot_until = None
            db.status = "available"
            db._tapstack_apply_status = "in-sync"


_original_describe_db_instances = RDSBackend.describe_db_instances


def _describe_db_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
    instances = _original_describe_db_instances(self, *args, **kwargs)
    for db in instances:
        _advance(db)
    return instances


def _reboot_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
    db = self.describe_db_instances(db_instance_identifier)[0]
    with _lock:
        if db.status != "available":
            raise InvalidDBInstanceStateError(db_instance_identifier, "stop")  # "is not in available state"
        db.status = "rebooting"
        db._tapstack_reboot_until = utcnow() + timedelta(seconds=SETTINGS["rebootSeconds"])
    return db


RDSBackend.describe_db_instances = _describe_db_instances  # type: ignore[method-assign]
RDSBackend.reboot_db_instance = _reboot_db_instance  # type: ignore[method-assign]


@control.route("POST", "rds/parameter-apply-status")
def _control_apply_status(body: dict[str, Any]) -> Any:
    """{dbInstanceIdentifier, status: in-sync|pending-reboot|applying, region?, accountId?}"""
    from moto.core import DEFAULT_ACCOUNT_ID

    status = body.get("status", "in-sync")
    if status not in ("in-sync", "pending-reboot", "applying"):
        raise ValueError(f"status {status!r}: want in-sync, pending-reboot or applying")
    backend = rds_backends[body.get("accountId") or DEFAULT_ACCOUNT_ID][body.get("region") or "us-east-1"]
    db = backend.describe_db_instances(body["dbInstanceIdentifier"])[0]
    with _lock:
        db._tapstack_apply_status = status
    return {"dbInstanceIdentifier": db.db_instance_identifier, "status": status}
