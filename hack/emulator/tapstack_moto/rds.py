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

Gap: nothing listens at a moto instance's endpoint. A PostgreSQL instance
(CloudFormation or CreateDBInstance) is now backed by a real PostgreSQL server
(pgserver.py) started with its parameter group's values: Endpoint, GetAtt
Endpoint.Address/Port and the attached secret say the server's own loopback
address (127.0.0.2, 127.0.0.3, ...: one per instance, as RDS gives each its own
host name) and its real port;
deleting the instance stops the server and removes its directory. A server that
does not start fails the create with a reason naming the instance. The apply
status is backed by the server too: "pending-reboot" (set through the control
route, or by a stack update / ModifyDBParameterGroup that changes a static
parameter) means the server runs with the settings it booted with - after the
control route it is restarted without the group's values, e.g. wal_level=replica
- and RebootDBInstance restarts it with the group's current values. Dynamic
parameter changes (rds.force_ssl among them) apply at once (reload).
GET /_tapstack/rds/servers lists the servers.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import timedelta
from typing import Any

from moto.core.utils import utcnow
from moto.rds.exceptions import InvalidDBInstanceStateError, RDSClientError
from moto.rds.models import DBInstance, DBParameterGroup, DBSubnetGroup, RDSBackend, rds_backends

from . import control, pgserver

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
    # A group the template does not name keeps its generated name (moto hands
    # the update a new random one), as in AWS.
    named = props.get("DBParameterGroupName")
    same_name = not named or str(named).lower() == original_resource.name
    if same_name and props.get("Family") == original_resource.family:
        original_resource.description = props.get("Description", original_resource.description)
        original_resource.tags = props.get("Tags") or []
        before = _values_of(original_resource)
        original_resource.parameters.clear()
        original_resource.update_parameters(_user_parameters(props))
        _group_changed(rds_backends[account_id][region_name], original_resource.name, before)
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
        restarting = getattr(db, "_tapstack_restarting", None)
        if until is None or utcnow() < until or (restarting and restarting.is_alive()):
            return
        db._tapstack_reboot_until = None
        failure = getattr(db, "_tapstack_restart_error", None)
        if failure:
            # AWS's state for an instance whose parameters keep it from starting.
            db.status = "incompatible-parameters"
        else:
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
        db._tapstack_restart_error = None
        server = _server(db)
        if server is not None:
            # The reboot applies the group's current values, like RDS.
            db._tapstack_restarting = _in_background(
                lambda: _restart(db, server, pgserver.settings_for(_group_values(db))))
    return db


RDSBackend.describe_db_instances = _describe_db_instances  # type: ignore[method-assign]
RDSBackend.reboot_db_instance = _reboot_db_instance  # type: ignore[method-assign]


def _in_background(fn: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, name="rds-restart", daemon=True)
    thread.start()
    return thread


def _restart(db: Any, server: pgserver.Server, settings: pgserver.Settings) -> None:
    try:
        server.restart(settings)
        db.port = server.port
    except Exception as err:  # the instance reports it; the log says why
        db._tapstack_restart_error = str(err)
        print(f"RDS {db.db_instance_identifier}: {err}", file=sys.stderr, flush=True)


@control.route("POST", "rds/parameter-apply-status")
def _control_apply_status(body: dict[str, Any]) -> Any:
    """{dbInstanceIdentifier, status: in-sync|pending-reboot|applying, region?, accountId?}"""
    status = body.get("status", "in-sync")
    if status not in ("in-sync", "pending-reboot", "applying"):
        raise ValueError(f"status {status!r}: want in-sync, pending-reboot or applying")
    db = _backend_of(body).describe_db_instances(body["dbInstanceIdentifier"])[0]
    with _lock:
        db._tapstack_apply_status = status
    server = _server(db)
    if server is not None and status != "applying":
        # "Changed but not applied": the server runs without the group's values;
        # in-sync again: with them.
        values = _group_values(db) if status == "in-sync" else None
        wanted = pgserver.settings_for(values)
        if server.booted != wanted:
            _restart(db, server, wanted)
    return {"dbInstanceIdentifier": db.db_instance_identifier, "status": status}


def _backend_of(body: dict[str, Any]) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID

    return rds_backends[body.get("accountId") or DEFAULT_ACCOUNT_ID][body.get("region") or "us-east-1"]


# --- Real PostgreSQL servers behind the instances ------------------------------

_POSTGRES_ENGINES = ("postgres",)


class ServerFailed(RDSClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterCombination", message)


def _key(db: Any) -> tuple[str, str, str]:
    return (db.backend.account_id, db.backend.region_name, db.db_instance_identifier)


def _server(db: Any) -> pgserver.Server | None:
    return pgserver.get(_key(db))


def _group_values(db: Any) -> dict[str, str]:
    """The user-set parameters of the instance's parameter group."""
    values: dict[str, str] = {}
    for group in db.db_parameter_groups():
        for name, param in group.parameters.items():
            if param.get("ParameterValue") is not None:
                values[name] = str(param["ParameterValue"])
    return values


_original_address = DBInstance.address


def _address(self: Any) -> str:
    server = pgserver.get(_key(self))
    if server is not None:
        return server.address
    return _original_address.fget(self)  # type: ignore[attr-defined]


DBInstance.address = property(_address)  # type: ignore[assignment]

_original_create_db_instance = RDSBackend.create_db_instance


def _create_db_instance_backed(self: Any, db_kwargs: dict[str, Any]) -> Any:
    db = _original_create_db_instance(self, db_kwargs)
    if (db.engine or "").lower() not in _POSTGRES_ENGINES or db.is_replica:
        return db
    try:
        server = pgserver.create(_key(db), db.master_username, db._master_user_password,
                                 db.db_name, pgserver.settings_for(_group_values(db)))
    except Exception as err:
        # As if the instance had never been created: the stack rolls back cleanly.
        self.databases.pop(db.db_instance_identifier, None)
        raise ServerFailed(str(err)) from err
    db.port = server.port
    return db


_original_delete_db_instance = RDSBackend.delete_db_instance


def _delete_db_instance_backed(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
    db = _original_delete_db_instance(self, db_instance_identifier, *args, **kwargs)
    pgserver.remove(_key(db))
    return db


RDSBackend.create_db_instance = _create_db_instance_backed  # type: ignore[method-assign]
RDSBackend.delete_db_instance = _delete_db_instance_backed  # type: ignore[method-assign]


def _instances_of_group(backend: Any, group_name: str) -> list[Any]:
    return [db for db in backend.databases.values()
            if any(g.name == group_name for g in db.db_parameter_groups())]


def _group_changed(backend: Any, group_name: str, before: dict[str, str]) -> None:
    """After a group's values changed: static ones pend a reboot, dynamic ones apply."""
    for db in _instances_of_group(backend, group_name):
        after = _group_values(db)
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        if not changed:
            continue
        if any(pgserver.is_static(k) for k in changed):
            with _lock:
                db._tapstack_apply_status = "pending-reboot"
        server = _server(db)
        if server is not None and server.booted is not None:
            server.reload(pgserver.settings_for(after))


def _values_of(group: Any) -> dict[str, str]:
    return {k: str(v["ParameterValue"]) for k, v in group.parameters.items()
            if v.get("ParameterValue") is not None}


_original_modify_parameter_group = RDSBackend.modify_db_parameter_group


def _modify_db_parameter_group(self: Any, name: str, parameters: Any) -> Any:
    before = _values_of(self.db_parameter_groups[name]) if name in self.db_parameter_groups else {}
    group = _original_modify_parameter_group(self, name, parameters)
    _group_changed(self, name, before)
    return group


RDSBackend.modify_db_parameter_group = _modify_db_parameter_group  # type: ignore[method-assign]


@control.route("GET", "rds/servers")
def _control_servers(_: dict[str, Any]) -> Any:
    """Every PostgreSQL server behind an instance: where it is and how it runs."""
    return {"servers": [s.info() for s in pgserver.servers()]}
