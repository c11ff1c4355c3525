"""AWS::DMS::* for moto's CloudFormation.

Gap: moto's CloudFormation has no DMS models, so CreateStack skips the DMS
subnet group, replication instance, endpoints and task, and every GetAtt/Ref on
them breaks the stack. These models create the objects in moto's DMS backend.

Fidelity fixes on top of the backend (all visible through the DMS API):
- task and instance ARNs end in a random resource id (``task:ABC...``), not in the
  friendly identifier, like AWS; Ref returns the ARN;
- a task created by CloudFormation is ``ready`` (moto leaves it ``creating``
  forever), an instance ``available``, an endpoint ``active``;
- deleting an instance, endpoint or subnet group that is still in use fails, as in
  AWS, so moto's delete loop removes the task first.

Gap: DMS speaks awsJson1_1, where timestamps are epoch seconds (JSON numbers);
moto's task and instance ``to_dict`` emit ISO strings (InstanceCreateTime,
ReplicationTaskCreationDate, the ReplicationTaskStats dates), which the AWS SDKs
refuse ("unexpected string value for float"), so DescribeReplicationInstances /
DescribeReplicationTasks failed outright. Both now emit epoch seconds.

Gap: moto's replication tasks skip "starting" and "stopping", accept any start
type in any state and report fixed statistics; DescribeTableStatistics does not
exist; TestConnection crashes on a retest and every test succeeds; no task
publishes CloudWatch metrics. See "Replication" below for what AWS does and this
module now does, and the /_tapstack/dms/* controls for what tests decide.

Gap: moto's task moves no data. A started task is now PostgreSQL logical
replication between the endpoints' databases (dmsrepl.py, reached through the
endpoints' SecretsManagerSecretId), and its statistics, validation and CDC
latency are measured on those databases (background sampling).

Gap: moto's DMS lists tags but cannot add or remove them (AddTagsToResource,
RemoveTagsFromResource); both now work on tasks, endpoints and instances, and
refuse an ARN DMS does not know.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow
from moto.dms.exceptions import (
    InvalidResourceStateFault,
    ResourceNotFoundFault,
    ValidationError,
)
from moto.dms.models import (
    DatabaseMigrationServiceBackend,
    FakeReplicationInstance,
    FakeReplicationTask,
    dms_backends,
)
from moto.dms.responses import DatabaseMigrationServiceResponse
from moto.secretsmanager.models import secretsmanager_backends

from . import control, dmsrepl, pg, pgserver
from ._base import Resource, resource_id, tags_as_list


# Timestamp members of the ReplicationInstance, ReplicationTask and
# ReplicationTaskStats shapes (type "timestamp" in the DMS service model).
_TIMESTAMPS = {
    "InstanceCreateTime",
    "FreeUntil",
    "ReplicationTaskCreationDate",
    "ReplicationTaskStartDate",
    "FreshStartDate",
    "StartDate",
    "StopDate",
    "FullLoadStartDate",
    "FullLoadFinishDate",
}


def _epoch_seconds(value: Any) -> Any:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:  # moto's utcnow() is naive UTC
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return value


def _with_epoch_timestamps(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: _epoch_seconds(v) if k in _TIMESTAMPS else _with_epoch_timestamps(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_with_epoch_timestamps(v) for v in data]
    return data


def _epoch_to_dict(original: Any) -> Any:
    def to_dict(self: Any) -> dict[str, Any]:
        return _with_epoch_timestamps(original(self))

    return to_dict


FakeReplicationInstance.to_dict = _epoch_to_dict(FakeReplicationInstance.to_dict)  # type: ignore[method-assign]
# The task's to_dict is wrapped below, once the lifecycle has replaced moto's.
_moto_task_to_dict = FakeReplicationTask.to_dict


def _backend(account_id: str, region_name: str) -> Any:
    return dms_backends[account_id][region_name]


def _identifier(name: str) -> str:
    # DMS identifiers are lower case; moto's generated names carry upper case.
    return name.lower().replace("_", "-")


def _rekey(store: dict[str, Any], obj: Any, new_arn: str) -> None:
    """Give a backend object a resource-id ARN, re-keying the backend dict."""
    store.pop(obj.arn, None)
    obj.arn = new_arn
    store[new_arn] = obj


class ReplicationSubnetGroup(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::DMS::ReplicationSubnetGroup"
    NAME_PROPERTY = "ReplicationSubnetGroupIdentifier"
    ATTRIBUTES = {"Id": lambda r: r.physical_resource_id}

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        ident = _identifier(name)
        _backend(account_id, region_name).create_replication_subnet_group(
            replication_subnet_group_identifier=ident,
            replication_subnet_group_description=props.get(
                "ReplicationSubnetGroupDescription", ""
            ),
            subnet_ids=props.get("SubnetIds", []),
            tags=tags_as_list(props.get("Tags")),
        )
        return cls(account_id, region_name, ident, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id, region_name)
        if any(
            i.replication_subnet_group_identifier == physical_id
            for i in backend.replication_instances.values()
        ):
            raise InvalidResourceStateFault(f"{physical_id} is in use")
        if physical_id in backend.replication_subnet_groups:
            backend.delete_replication_subnet_group(physical_id)

    def _update_in_place(self, props):
        if not self._only_changed(
            props, {"ReplicationSubnetGroupDescription", "SubnetIds", "Tags"}
        ):
            return False
        group = _backend(self.account_id, self.region_name).replication_subnet_groups[
            self.physical_resource_id
        ]
        group.description = props.get("ReplicationSubnetGroupDescription", "")
        group.subnetIds = props.get("SubnetIds", [])
        return True


def _instance_private_ips(r: "ReplicationInstance") -> str:
    inst = _backend(r.account_id, r.region_name).replication_instances[
        r.physical_resource_id
    ]
    return ",".join(inst.private_ip_addresses)


def _instance_public_ips(r: "ReplicationInstance") -> str:
    inst = _backend(r.account_id, r.region_name).replication_instances[
        r.physical_resource_id
    ]
    return ",".join(inst.public_ip_addresses)


class ReplicationInstance(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::DMS::ReplicationInstance"
    NAME_PROPERTY = "ReplicationInstanceIdentifier"
    ATTRIBUTES = {
        "Id": lambda r: r.physical_resource_id,
        "ReplicationInstancePrivateIpAddresses": _instance_private_ips,
        "ReplicationInstancePublicIpAddresses": _instance_public_ips,
    }

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        backend = _backend(account_id, region_name)
        inst = backend.create_replication_instance(
            replication_instance_identifier=_identifier(name),
            replication_instance_class=props["ReplicationInstanceClass"],
            allocated_storage=props.get("AllocatedStorage"),
            vpc_security_group_ids=props.get("VpcSecurityGroupIds"),
            availability_zone=props.get("AvailabilityZone"),
            replication_subnet_group_identifier=props.get(
                "ReplicationSubnetGroupIdentifier"
            ),
            preferred_maintenance_window=props.get("PreferredMaintenanceWindow"),
            multi_az=props.get("MultiAZ", False),
            engine_version=props.get("EngineVersion"),
            auto_minor_version_upgrade=props.get("AutoMinorVersionUpgrade", True),
            kms_key_id=props.get("KmsKeyId"),
            publicly_accessible=props.get("PubliclyAccessible", True),
            resource_identifier=props.get("ResourceIdentifier"),
            network_type=props.get("NetworkType"),
        )
        rid = props.get("ResourceIdentifier") or resource_id()
        _rekey(
            backend.replication_instances,
            inst,
            f"arn:aws:dms:{region_name}:{account_id}:rep:{rid}",
        )
        if props.get("Tags"):
            backend.tagger.tag_resource(inst.arn, tags_as_list(props["Tags"]))
        # CloudFormation reports CREATE_COMPLETE once the instance is available.
        inst.status = "available"
        return cls(account_id, region_name, inst.arn, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id, region_name)
        if any(
            t.replication_instance_arn == physical_id
            for t in backend.replication_tasks.values()
        ):
            raise InvalidResourceStateFault(f"{physical_id} has replication tasks")
        if physical_id in backend.replication_instances:
            backend.delete_replication_instance(physical_id)

    def _update_in_place(self, props):
        mutable = {
            "ReplicationInstanceClass": "replication_instance_class",
            "AllocatedStorage": "allocated_storage",
            "EngineVersion": "engine_version",
            "MultiAZ": "multi_az",
            "AutoMinorVersionUpgrade": "auto_minor_version_upgrade",
            "PreferredMaintenanceWindow": "preferred_maintenance_window",
        }
        if not self._only_changed(props, set(mutable) | {"Tags"}):
            return False
        inst = _backend(self.account_id, self.region_name).replication_instances[
            self.physical_resource_id
        ]
        for prop, attr in mutable.items():
            if prop in props:
                setattr(inst, attr, props[prop])
        return True


class Endpoint(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::DMS::Endpoint"
    NAME_PROPERTY = "EndpointIdentifier"
    ATTRIBUTES = {
        "Id": lambda r: r.physical_resource_id,
        "ExternalId": lambda r: r.physical_resource_id.rsplit(":", 1)[-1],
    }
    # CloudFormation property -> moto's create_endpoint keyword
    SETTINGS = {
        "PostgreSqlSettings": "postgre_sql_settings",
        "MySqlSettings": "my_sql_settings",
        "OracleSettings": "oracle_settings",
        "S3Settings": "s3_settings",
        "DynamoDbSettings": "dynamo_db_settings",
        "KinesisSettings": "kinesis_settings",
        "KafkaSettings": "kafka_settings",
        "MongoDbSettings": "mongo_db_settings",
        "RedshiftSettings": "redshift_settings",
        "MicrosoftSqlServerSettings": "microsoft_sql_server_settings",
        "IbmDb2Settings": "ibm_db2_settings",
        "DocDbSettings": "doc_db_settings",
        "RedisSettings": "redis_settings",
        "NeptuneSettings": "neptune_settings",
        "SybaseSettings": "sybase_settings",
        "ElasticsearchSettings": "elasticsearch_settings",
        "GcpMySQLSettings": "gcp_my_sql_settings",
    }

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        settings = {kw: props.get(prop) for prop, kw in cls.SETTINGS.items()}
        endpoint = _backend(account_id, region_name).create_endpoint(
            endpoint_identifier=_identifier(name),
            endpoint_type=props["EndpointType"],
            engine_name=props["EngineName"],
            username=props.get("Username"),
            password=props.get("Password"),
            server_name=props.get("ServerName"),
            port=props.get("Port"),
            database_name=props.get("DatabaseName"),
            extra_connection_attributes=props.get("ExtraConnectionAttributes"),
            kms_key_id=props.get("KmsKeyId"),
            tags=tags_as_list(props.get("Tags")),
            certificate_arn=props.get("CertificateArn"),
            ssl_mode=props.get("SslMode", "none"),
            service_access_role_arn=props.get("ServiceAccessRoleArn"),
            external_table_definition=None,
            dms_transfer_settings=None,
            resource_identifier=props.get("ResourceIdentifier"),
            timestream_settings=None,
            **settings,
        )
        endpoint.status = "active"
        return cls(account_id, region_name, endpoint.endpoint_arn, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id, region_name)
        if any(
            physical_id in (t.source_endpoint_arn, t.target_endpoint_arn)
            for t in backend.replication_tasks.values()
        ):
            raise InvalidResourceStateFault(f"{physical_id} is used by a task")
        if any(e.endpoint_arn == physical_id for e in backend.endpoints.values()):
            backend.delete_endpoint(physical_id)

    def _update_in_place(self, props):
        if props.get("EndpointIdentifier") != self.properties.get(
            "EndpointIdentifier"
        ) or props.get("EndpointType") != self.properties.get("EndpointType"):
            return False
        backend = _backend(self.account_id, self.region_name)
        endpoint = next(
            e
            for e in backend.endpoints.values()
            if e.endpoint_arn == self.physical_resource_id
        )
        simple = {
            "EngineName": "engine_name",
            "ServerName": "server_name",
            "Port": "port",
            "DatabaseName": "database_name",
            "Username": "username",
            "SslMode": "ssl_mode",
            "CertificateArn": "certificate_arn",
            "ExtraConnectionAttributes": "extra_connection_attributes",
        }
        for prop, attr in {**simple, **self.SETTINGS}.items():
            setattr(endpoint, attr, props.get(prop))
        return True


class ReplicationTask(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::DMS::ReplicationTask"
    NAME_PROPERTY = "ReplicationTaskIdentifier"
    ATTRIBUTES = {"Id": lambda r: r.physical_resource_id}

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        backend = _backend(account_id, region_name)
        task = backend.create_replication_task(
            replication_task_identifier=_identifier(name),
            source_endpoint_arn=props["SourceEndpointArn"],
            target_endpoint_arn=props["TargetEndpointArn"],
            replication_instance_arn=props["ReplicationInstanceArn"],
            migration_type=props["MigrationType"],
            table_mappings=props["TableMappings"],
            replication_task_settings=props.get("ReplicationTaskSettings"),
        )
        rid = props.get("ResourceIdentifier") or resource_id()
        _rekey(
            backend.replication_tasks,
            task,
            f"arn:aws:dms:{region_name}:{account_id}:task:{rid}",
        )
        if props.get("Tags"):
            backend.tagger.tag_resource(task.arn, tags_as_list(props["Tags"]))
        # AWS moves a new task to "ready" once created; moto never does.
        task.ready()
        return cls(account_id, region_name, task.arn, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id, region_name)
        if physical_id in backend.replication_tasks:
            backend.delete_replication_task(physical_id)

    def _update_in_place(self, props):
        # ModifyReplicationTask changes these without replacing the task.
        mutable = {
            "TableMappings": "table_mappings",
            "ReplicationTaskSettings": "replication_task_settings",
            "MigrationType": "migration_type",
        }
        if not self._only_changed(
            props, set(mutable) | {"Tags", "CdcStartTime", "CdcStartPosition"}
        ):
            return False
        task = _backend(self.account_id, self.region_name).replication_tasks[
            self.physical_resource_id
        ]
        for prop, attr in mutable.items():
            if prop in props:
                setattr(task, attr, props[prop])
        return True


# --- Replication: task lifecycle, table statistics, connections, metrics ------
#
# Gap: moto's tasks jump from start straight to "running" and from stop to
# "stopped", accept any start type in any state, report fixed statistics
# (100 %, one table), have no DescribeTableStatistics at all, publish no
# CloudWatch metrics and move no data. Here, as in AWS:
# - StartReplicationTask (start-replication | resume-processing | reload-target)
#   on a ready, stopped or failed task -> "starting", then "running" once
#   SETTINGS["transitionSeconds"] passed and the replication is set up
#   (dmsrepl.py: tables resolved on the source, target tables prepared,
#   publication and subscription); a set-up that fails makes the task "failed"
#   with the reason as LastFailureMessage. StopReplicationTask on a running task
#   -> "stopping" (the subscription is disabled), then "stopped" with "Stop
#   Reason NORMAL"; resume-processing enables it again, reload-target copies
#   again; anything else is an InvalidResourceStateFault. ReplicationTaskStartDate
#   is the first start.
# - a CDC-only task whose source endpoint names PostgreSqlSettings.SlotName
#   reads from that slot from CdcStartPosition on (an LSN, else a
#   ValidationError), and fails naming the slot when it does not exist; see
#   dmsrepl.py for how, and what without a SlotName.
# - the statistics (percent, tables loaded/loading/queued/errored, dates,
#   elapsed time) and DescribeTableStatistics come from the last sample of the
#   real copy and apply state, taken every SETTINGS["sampleIntervalSeconds"] by
#   a background thread; validation runs every SETTINGS["validationIntervalSeconds"].
#   SETTINGS["fullLoadSeconds"] (or the task's control) is a minimum duration of
#   the full load (default 0). A full-load task stops with "Stop Reason
#   FULL_LOAD_ONLY_FINISHED" once every table is copied.
# - a running task publishes CDCLatencySource/CDCLatencyTarget (AWS/DMS, by
#   ReplicationInstanceIdentifier and ReplicationTaskIdentifier) through
#   CloudWatch's PutMetricData every SETTINGS["metricPeriodSeconds"]: the
#   write/replay lag of the subscription's walsender on the source.
#
# Gap: moto's TestConnection fails with a server error when the pair was tested
# before, its DescribeConnections applies only the last filter and never pages,
# and a test succeeds on the next describe whatever happens. Here a test is
# "testing" for at least SETTINGS["connectionTestSeconds"] while it really
# connects to the endpoint's database through its secret, then "successful",
# or "failed" with the real error - unless the control API set the outcome.
#
# Tests steer what AWS decides through /_tapstack/dms/* (see the routes below).


def _env_seconds(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


SETTINGS: dict[str, float] = {
    "transitionSeconds": _env_seconds("TAPSTACK_DMS_TRANSITION_SECONDS", 1.0),
    "fullLoadSeconds": _env_seconds("TAPSTACK_DMS_FULL_LOAD_SECONDS", 0.0),
    "connectionTestSeconds": _env_seconds("TAPSTACK_DMS_CONNECTION_TEST_SECONDS", 1.0),
    "metricPeriodSeconds": _env_seconds("TAPSTACK_DMS_METRIC_PERIOD_SECONDS", 1.0),
    "sampleIntervalSeconds": _env_seconds("TAPSTACK_DMS_SAMPLE_INTERVAL_SECONDS", 1.0),
    "validationIntervalSeconds": _env_seconds("TAPSTACK_DMS_VALIDATION_INTERVAL_SECONDS", 3.0),
}
_START_TYPES = ("start-replication", "resume-processing", "reload-target")
_STARTABLE = ("ready", "stopped", "failed")

# One lock for the emulation state: request threads and the background threads.
# SQL never runs under it.
_lock = threading.RLock()


class _Run:
    """What the emulation keeps about a task beyond moto's object."""

    def __init__(self) -> None:
        self.pending: tuple[str, datetime] | None = None  # (status, at)
        self.running_since: datetime | None = None
        self.loaded_seconds = 0.0  # full-load time run so far
        self.elapsed_ms = 0.0  # running time before running_since
        self.full_load_seconds: float | None = None
        self.fail_with: str | None = None
        self.latency: tuple[float, float] | None = None  # control override
        self.tables: list[tuple[str, str]] | None = None
        self.table_overrides: dict[tuple[str, str], dict[str, Any]] = {}
        self.stop_reason = ""
        self.failure = ""
        self.reloaded = False  # the last fresh start was reload-target
        self.fresh_start: datetime | None = None
        self.started: datetime | None = None
        self.stopped: datetime | None = None
        self.load_started: datetime | None = None
        self.load_finished: datetime | None = None
        self.repl: dmsrepl.Replication | None = None
        self.op: threading.Thread | None = None  # set-up, stop or resume in flight
        self.op_error: str | None = None
        self.validated_at = 0.0
        self.cdc_start_position: str | None = None  # of the last fresh start


def _run(task: Any) -> _Run:
    run = getattr(task, "_tapstack_run", None)
    if run is None:
        run = task._tapstack_run = _Run()
    return run


def _full_load_seconds(task: Any) -> float:
    if task.migration_type == "cdc":
        return 0.0
    run = _run(task)
    return SETTINGS["fullLoadSeconds"] if run.full_load_seconds is None else run.full_load_seconds


def _loaded_seconds(task: Any, now: datetime) -> float:
    run = _run(task)
    extra = (now - run.running_since).total_seconds() if run.running_since else 0.0
    return run.loaded_seconds + extra


def _leave_running(task: Any, now: datetime) -> None:
    run = _run(task)
    if run.running_since is not None:
        ran = (now - run.running_since).total_seconds()
        run.loaded_seconds += ran
        run.elapsed_ms += ran * 1000
        run.running_since = None


def _busy(run: _Run) -> bool:
    return run.op is not None and run.op.is_alive()


def _in_background(task: Any, what: str, fn: Callable[[], None]) -> None:
    """Run a replication step off the request thread; a failure fails the task."""
    run = _run(task)

    def body() -> None:
        try:
            fn()
        except Exception as err:  # becomes the task's LastFailureMessage
            with _lock:
                run.op_error = _failure_message(err)
            print(f"DMS task {task.arn}: {what}: {err!r}", file=sys.stderr, flush=True)

    run.op_error = None
    run.op = threading.Thread(target=body, name=f"dms-{what}", daemon=True)
    run.op.start()


def _failure_message(err: Exception) -> str:
    return f"Last Error {err} Stop Reason FATAL_ERROR Error Level FATAL"


def _fail(task: Any, message: str, now: datetime) -> None:
    run = _run(task)
    _leave_running(task, now)
    task.status = "failed"
    run.failure = message
    run.stop_reason = "Stop Reason FATAL_ERROR"
    run.stopped = task.stop_date = now
    run.pending = None
    if run.repl is not None:
        _in_background(task, "disable", _quietly(run.repl.disable))


def _quietly(fn: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        try:
            fn()
        except Exception as err:
            print(f"DMS: {err!r}", file=sys.stderr, flush=True)

    return call


def _advance(task: Any, now: datetime | None = None) -> None:
    """Move a task along its transitions up to now."""
    now = now or utcnow()
    run = _run(task)
    with _lock:
        if task.status == "creating" and now - task.creation_date >= timedelta(
            seconds=SETTINGS["transitionSeconds"]
        ):
            task.status = "ready"
        if run.pending and now >= run.pending[1] and not _busy(run):
            status, at = run.pending
            run.pending = None
            if run.op_error:
                _fail(task, run.op_error, now)
                run.op_error = None
                return
            at = max(at, now - timedelta(seconds=SETTINGS["transitionSeconds"]))
            task.status = status
            if status == "running":
                run.running_since = at
                if run.load_started is None:
                    run.load_started = at
            elif status == "stopped":
                run.stopped = at
                task.stop_date = at
        if task.status != "running":
            return
        if run.fail_with is not None:
            message, run.fail_with = run.fail_with, None
            _fail(task, message, now)
            return
        if run.op_error and not _busy(run):
            message, run.op_error = run.op_error, None
            _fail(task, message, now)
            return
        _, loaded, _, _, _ = _progress(task, now)
        if run.load_finished is None and loaded == len(_tables(task)):
            run.load_finished = now
            if task.migration_type == "full-load":
                _leave_running(task, now)
                task.status = "stopped"
                run.stop_reason = "Stop Reason FULL_LOAD_ONLY_FINISHED"
                run.stopped = task.stop_date = now
                if run.repl is not None:
                    _in_background(task, "disable", _quietly(run.repl.disable))


def _start(self: Any, kind: str = "start-replication", cdc_start_position: str | None = None) -> Any:
    with _lock:
        _advance(self)
        if kind not in _START_TYPES:
            raise ValidationError(f"Invalid StartReplicationTaskType: {kind}")
        if self.status not in _STARTABLE or _busy(_run(self)):
            raise InvalidResourceStateFault(
                f"Replication task {self.arn} cannot be started in its current state: {self.status}"
            )
        run = _run(self)
        if kind != "start-replication" and self.start_date is None:
            raise InvalidResourceStateFault(
                f"Replication task {self.arn} was never started: {kind} is only valid "
                "for a task that has run before; use start-replication"
            )
        now = utcnow()
        if kind != "resume-processing":
            run.loaded_seconds = 0.0
            run.load_started = run.load_finished = None
            run.fresh_start = now
            run.reloaded = kind == "reload-target"
            run.cdc_start_position = cdc_start_position
        if self.start_date is None:
            self.start_date = now
        run.started = now
        run.stop_reason = ""
        run.failure = ""
        self.status = "starting"
        run.pending = ("running", now + timedelta(seconds=SETTINGS["transitionSeconds"]))
        _in_background(self, kind, lambda: _replicate(self, kind))
        return self


def _replicate(task: Any, kind: str) -> None:
    """What a start does to the databases (in the background)."""
    run = _run(task)
    if kind == "resume-processing" and run.repl is not None:
        run.repl.enable()
        return
    backend = _backend(*task.arn.split(":")[4:2:-1])
    source = _endpoint_conn(backend, task.source_endpoint_arn)
    target = _endpoint_conn(backend, task.target_endpoint_arn)
    if run.repl is not None:
        run.repl.teardown()
    tables = run.tables if run.tables is not None else dmsrepl.resolve_tables(source, task.table_mappings)
    # A CDC-only task whose source endpoint names a slot reads from it (dmsrepl.py).
    repl = dmsrepl.Replication(task.arn.rsplit(":", 1)[-1], source, target, tables,
                               task.migration_type, dmsrepl.task_settings(task.replication_task_settings),
                               slot=_slot_name(backend, task.source_endpoint_arn),
                               start_position=run.cdc_start_position or "")
    run.repl = repl
    repl.setup(reload=kind == "reload-target")
    _first_sample(repl)


def _slot_name(backend: Any, endpoint_arn: str) -> str:
    """The source endpoint's PostgreSqlSettings.SlotName ("" without one)."""
    endpoint = next((e for e in backend.endpoints.values() if e.endpoint_arn == endpoint_arn), None)
    settings = getattr(endpoint, "postgre_sql_settings", None) or {}
    return str(settings.get("SlotName") or "")


def _first_sample(repl: dmsrepl.Replication) -> None:
    # The task runs from now on: its statistics should not wait a sample period.
    try:
        repl.sample()
    except Exception as err:
        print(f"DMS sample: {err!r}", file=sys.stderr, flush=True)


def _stop(self: Any) -> Any:
    with _lock:
        _advance(self)
        if self.status != "running":
            raise InvalidResourceStateFault(
                f"Replication task {self.arn} is not running (status: {self.status})"
            )
        now = utcnow()
        _leave_running(self, now)
        run = _run(self)
        run.stop_reason = "Stop Reason NORMAL"
        self.status = "stopping"
        run.pending = ("stopped", now + timedelta(seconds=SETTINGS["transitionSeconds"]))
        if run.repl is not None:
            # The slot keeps the position; resume goes on from there.
            _in_background(self, "stop", run.repl.disable)
        return self


def _tables(task: Any) -> list[tuple[str, str]]:
    """The task's tables: the replicated ones, then those only a control added."""
    run = _run(task)
    if run.repl is not None:
        tables = list(run.repl.tables)
    else:
        tables = list(run.tables or [])
    for key in run.table_overrides:
        if key not in tables:
            tables.append(key)
    return tables


def _validation_enabled(task: Any) -> bool:
    return dmsrepl.validation_enabled(dmsrepl.task_settings(task.replication_task_settings))


def _table_states(task: Any, now: datetime) -> dict[tuple[str, str], str]:
    """TableState per table: the sampled copy state, held back by the minimum
    full-load duration (a table counts as loaded only within that share)."""
    run = _run(task)
    sample = run.repl.sample_ if run.repl is not None else dmsrepl.Sample()
    tables = _tables(task)
    full = _full_load_seconds(task)
    frac = 1.0 if full <= 0 else min(1.0, _loaded_seconds(task, now) / full)
    allowed = len(tables) if frac >= 1.0 else int(frac * len(tables))
    states: dict[tuple[str, str], str] = {}
    for t in tables:
        if t in sample.tables:
            state = sample.tables[t].state
        elif run.repl is not None and t in run.repl.tables:
            state = "Before load"
        else:
            state = "Table completed"  # known only through the control API
        if state == "Table completed":
            if allowed > 0:
                allowed -= 1
            else:
                state = "Full load"
        if state != "Table completed" and task.status == "failed" and run.failure:
            state = "Table error"
        states[t] = state
    return states


def _progress(task: Any, now: datetime) -> tuple[float, int, int, int, int]:
    """(fraction loaded, tables loaded, loading, queued, errored)."""
    if _never_started(task):
        return 0.0, 0, 0, 0, 0
    states = list(_table_states(task, now).values())
    n = len(states)
    loaded = states.count("Table completed")
    loading = states.count("Full load")
    errored = states.count("Table error")
    frac = 1.0 if n == 0 else loaded / n
    return frac, loaded, loading, n - loaded - loading - errored, errored


def _never_started(task: Any) -> bool:
    return task.start_date is None


def _task_to_dict(self: Any) -> dict[str, Any]:
    with _lock:
        now = utcnow()
        _advance(self, now)
        run = _run(self)
        data = _moto_task_to_dict(self)
        frac, loaded, loading, queued, errored = _progress(self, now)
        elapsed = run.elapsed_ms
        if run.running_since is not None:
            elapsed += (now - run.running_since).total_seconds() * 1000
        data["ReplicationTaskStats"] = {
            "FullLoadProgressPercent": int(frac * 100),
            "ElapsedTimeMillis": int(elapsed),
            "TablesLoaded": loaded,
            "TablesLoading": loading,
            "TablesQueued": queued,
            "TablesErrored": errored,
            "FreshStartDate": run.fresh_start,
            "StartDate": run.started,
            "StopDate": run.stopped,
            "FullLoadStartDate": run.load_started,
            "FullLoadFinishDate": run.load_finished,
        }
        data["ReplicationTaskStats"] = {
            k: v for k, v in data["ReplicationTaskStats"].items() if v is not None
        }
        if not data.get("ReplicationTaskStartDate"):
            data.pop("ReplicationTaskStartDate", None)
        if run.stop_reason and self.status in ("stopped", "failed"):
            data["StopReason"] = run.stop_reason
        if run.failure:
            data["LastFailureMessage"] = run.failure
        if run.cdc_start_position:
            data["CdcStartPosition"] = run.cdc_start_position
        return data


FakeReplicationTask.start = _start  # type: ignore[method-assign]
FakeReplicationTask.stop = _stop  # type: ignore[method-assign]
FakeReplicationTask.to_dict = _epoch_to_dict(_task_to_dict)  # type: ignore[method-assign]


def _start_replication_task_response(self: Any) -> str:
    arn = self._get_param("ReplicationTaskArn")
    task = self.dms_backend.replication_tasks.get(arn)
    if task is None:
        raise ResourceNotFoundFault("Replication task could not be found.")
    position = self._get_param("CdcStartPosition")
    if position and not dmsrepl.is_lsn(position):
        # A PostgreSQL source's native CDC start point is an LSN.
        raise ValidationError(f"Invalid CdcStartPosition {position!r}: want a PostgreSQL LSN such as 0/16B3748")
    task.start(self._get_param("StartReplicationTaskType") or "start-replication", position or None)
    return json.dumps({"ReplicationTask": task.to_dict()})


DatabaseMigrationServiceResponse.start_replication_task = _start_replication_task_response  # type: ignore[method-assign]

_original_delete_task = DatabaseMigrationServiceBackend.delete_replication_task


def _delete_replication_task(self: Any, replication_task_arn: str) -> Any:
    task = _original_delete_task(self, replication_task_arn)
    run = _run(task)
    if run.repl is not None:
        # Subscription, slot and publication go with the task; bounded by
        # timeouts, and the slot is let go when the source is already gone.
        run.repl.teardown()
        run.repl = None
    return task


DatabaseMigrationServiceBackend.delete_replication_task = _delete_replication_task  # type: ignore[method-assign]


def _endpoint_conn(backend: Any, endpoint_arn: str, local: bool = True) -> pg.Conn:
    """How DMS reaches an endpoint's database: through its secret. local: the
    emulator's own calls go through the unix socket of a server it runs (the
    address stays what the secret says, for the subscription and the tests)."""
    endpoint = next((e for e in backend.endpoints.values() if e.endpoint_arn == endpoint_arn), None)
    if endpoint is None:
        raise dmsrepl.ReplicationError(f"Endpoint {endpoint_arn} not found")
    settings = getattr(endpoint, "postgre_sql_settings", None) or {}
    secret_id = settings.get("SecretsManagerSecretId")
    name = endpoint.endpoint_identifier
    if secret_id:
        try:
            secret = secretsmanager_backends[backend.account_id][backend.region_name].get_secret_value(
                secret_id, None, "AWSCURRENT")
            fields = json.loads(secret.get("SecretString") or "{}")
        except Exception as err:
            raise dmsrepl.ReplicationError(f"Endpoint '{name}': cannot read secret {secret_id}: {err}") from err
        # The secret RDS manages for an instance holds the user name and
        # password only: the endpoint's ServerName and Port say where.
        for key, value in (("host", endpoint.server_name), ("port", endpoint.port)):
            if not fields.get(key) and value:
                fields[key] = value
    else:
        fields = {"username": endpoint.username, "password": getattr(endpoint, "password", None),
                  "host": endpoint.server_name, "port": endpoint.port}
    missing = [k for k in ("username", "password", "host", "port") if not fields.get(k)]
    if missing:
        raise dmsrepl.ReplicationError(f"Endpoint '{name}': the credentials lack {', '.join(missing)}")
    sslmode = {"none": "disable", "require": "require"}.get(endpoint.ssl_mode or "none", "require")
    dbname = endpoint.database_name or fields.get("dbname") or "postgres"
    conn = pg.Conn(str(fields["host"]), int(fields["port"]), str(fields["username"]),
                   str(fields["password"]), dbname, sslmode)
    server = pgserver.by_address(conn.host, conn.port) if local else None
    return server.local(conn) if server is not None else conn


# --- Background sampling and validation ------------------------------------------

def _running_replications() -> list[tuple[Any, dmsrepl.Replication]]:
    out = []
    for _, task in _tasks():
        run = _run(task)
        if run.repl is not None and task.status in ("running", "stopping") and not _busy(run):
            out.append((task, run.repl))
    return out


def sample_all() -> None:
    for task, repl in _running_replications():
        try:
            repl.sample()
        except Exception as err:  # keep sampling; the next round may work
            print(f"DMS sample {task.arn}: {err!r}", file=sys.stderr, flush=True)
        with _lock:
            _advance(task)


def validate_all() -> None:
    now = time.monotonic()
    for task, repl in _running_replications():
        run = _run(task)
        pending = [t for t, s in repl.sample_.tables.items()
                   if s.state == "Table completed" and t not in repl.validations]
        due = now - run.validated_at >= SETTINGS["validationIntervalSeconds"]
        if not _validation_enabled(task) or not (due or pending):
            continue
        run.validated_at = now
        try:
            repl.validate()
        except Exception as err:
            print(f"DMS validation {task.arn}: {err!r}", file=sys.stderr, flush=True)


def _loop(name: str, period: Callable[[], float], fn: Callable[[], Any], stop: threading.Event) -> None:
    def body() -> None:
        while not stop.wait(period()):
            try:
                fn()
            except Exception as err:  # keep going; say why one round failed
                print(f"DMS {name}: {err!r}", file=sys.stderr, flush=True)

    threading.Thread(target=body, name=f"dms-{name}", daemon=True).start()


# --- DescribeTableStatistics ---------------------------------------------------

def _validation(task: Any, t: tuple[str, str], state: str, rows: int) -> tuple[str, int, int]:
    """(ValidationState, pending, failed) of one table."""
    run = _run(task)
    if not _validation_enabled(task):
        return "Not enabled", 0, 0
    if state == "Before load":
        return "Pending validation", 0, 0
    if state != "Table completed":
        return "Pending records", rows, 0
    v = run.repl.validations.get(t) if run.repl is not None else None
    if v is None:
        if run.repl is None or t not in run.repl.tables:
            return "Validated", 0, 0  # a table known only through the control API
        return "Pending validation", 0, 0
    return v.state, v.pending, v.failed


def _table_statistics(task: Any) -> list[dict[str, Any]]:
    with _lock:
        now = utcnow()
        _advance(task, now)
        if _never_started(task):
            return []
        run = _run(task)
        sample = run.repl.sample_ if run.repl is not None else dmsrepl.Sample()
        out = []
        for (schema, table), state in _table_states(task, now).items():
            o = run.table_overrides.get((schema, table), {})
            s = sample.tables.get((schema, table)) or dmsrepl.TableSample()
            rows = int(o.get("rows", s.full_load_rows))
            vstate, pending, failed = _validation(task, (schema, table), state, rows)
            stats = {
                "SchemaName": schema,
                "TableName": table,
                "Inserts": s.inserts,
                "Deletes": s.deletes,
                "Updates": s.updates,
                "Ddls": 0,
                "AppliedInserts": s.inserts,
                "AppliedDeletes": s.deletes,
                "AppliedUpdates": s.updates,
                "AppliedDdls": 0,
                "FullLoadRows": rows,
                "FullLoadCondtnlChkFailedRows": 0,
                "FullLoadErrorRows": 0,
                "FullLoadReloaded": run.reloaded,
                "LastUpdateTime": sample.at or _epoch_seconds(now),
                "TableState": o.get("tableState", state),
                "ValidationPendingRecords": int(o.get("pending", pending)),
                "ValidationFailedRecords": int(o.get("failed", failed)),
                "ValidationSuspendedRecords": int(o.get("suspended", 0)),
                "ValidationState": o.get("validationState", vstate),
                "ValidationStateDetails": "",
            }
            if state != "Before load" and (s.load_started or run.load_started):
                stats["FullLoadStartTime"] = s.load_started or _epoch_seconds(run.load_started)
            if state == "Table completed" and (s.load_finished or run.load_finished):
                stats["FullLoadEndTime"] = s.load_finished or _epoch_seconds(run.load_finished)
            out.append(stats)
        return out



_TABLE_FILTERS = {"schema-name": "SchemaName", "table-name": "TableName", "table-state": "TableState"}


def _page(items: list[Any], max_records: Any, marker: Any) -> tuple[list[Any], str | None]:
    size = int(max_records or 100)
    if not 20 <= size <= 500 and max_records is not None:
        raise ValidationError("MaxRecords must be between 20 and 500")
    start = int(marker or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _describe_table_statistics(self: Any) -> str:
    arn = self._get_param("ReplicationTaskArn")
    task = self.dms_backend.replication_tasks.get(arn)
    if task is None:
        raise ResourceNotFoundFault("Replication task could not be found.")
    stats = _table_statistics(task)
    for f in self._get_param("Filters") or []:
        key = _TABLE_FILTERS.get(f.get("Name"))
        if key is None:
            raise ValidationError(f"Invalid filter name: {f.get('Name')}")
        stats = [s for s in stats if s[key] in f.get("Values", [])]
    page, marker = _page(stats, self._get_param("MaxRecords"), self._get_param("Marker"))
    out: dict[str, Any] = {"ReplicationTaskArn": arn, "TableStatistics": page}
    if marker:
        out["Marker"] = marker
    return json.dumps(out)


DatabaseMigrationServiceResponse.describe_table_statistics = _describe_table_statistics  # type: ignore[attr-defined]


# --- Connections ----------------------------------------------------------------

# Outcome of the connection tests of an endpoint: (status, LastFailureMessage).
_connection_outcomes: dict[str, tuple[str, str]] = {}


class _Connection:
    def __init__(self, instance: Any, endpoint: Any, backend: Any) -> None:
        self.replication_instance_arn = instance.arn
        self.replication_instance_identifier = instance.id
        self.endpoint_arn = endpoint.endpoint_arn
        self.endpoint_identifier = endpoint.endpoint_identifier
        self.kms_key_id = getattr(endpoint, "kms_key_id", None)
        self.backend = backend
        self.restart()

    def restart(self) -> None:
        self._status, self.message = "testing", ""
        self.done_at = utcnow() + timedelta(seconds=SETTINGS["connectionTestSeconds"])
        self.result: tuple[str, str] | None = None
        threading.Thread(target=self._probe, name="dms-connection-test", daemon=True).start()

    def _probe(self) -> None:
        """Connect to the endpoint's database as DMS would: through its secret."""
        try:
            # Over TCP with the endpoint's SSL mode: the real path, as DMS.
            pg.query(_endpoint_conn(self.backend, self.endpoint_arn, local=False), "select 1", 10)
            result = ("successful", "")
        except Exception as err:
            result = ("failed", f"Test connection failed for endpoint '{self.endpoint_identifier}': {err}")
        with _lock:
            self.result = result

    @property
    def status(self) -> str:
        with _lock:
            if self._status == "testing" and utcnow() >= self.done_at:
                outcome = _connection_outcomes.get(self.endpoint_arn) or self.result
                if outcome is not None:
                    self._status, self.message = outcome
            return self._status

    def advance(self) -> None:  # moto's describe calls it
        _ = self.status

    def to_dict(self) -> dict[str, Any]:
        status = self.status
        out = {
            "ReplicationInstanceArn": self.replication_instance_arn,
            "EndpointArn": self.endpoint_arn,
            "Status": status,
            "LastFailureMessage": self.message,
            "EndpointIdentifier": self.endpoint_identifier,
            "ReplicationInstanceIdentifier": self.replication_instance_identifier,
        }
        if self.kms_key_id:
            out["KmsKeyId"] = self.kms_key_id
        return out


def _test_connection(self: Any, replication_instance_arn: str, endpoint_arn: str) -> Any:
    instance = self.replication_instances.get(replication_instance_arn)
    if instance is None:
        raise ResourceNotFoundFault("Replication instance could not be found.")
    endpoint = next((e for e in self.endpoints.values() if e.endpoint_arn == endpoint_arn), None)
    if endpoint is None:
        raise ResourceNotFoundFault("Endpoint could not be found.")
    if instance.status != "available":
        raise InvalidResourceStateFault(
            f"Replication instance {instance.id} is not available (status: {instance.status})"
        )
    with _lock:
        for conn in self.connections:
            if conn.replication_instance_arn == instance.arn and conn.endpoint_arn == endpoint_arn:
                if not isinstance(conn, _Connection):
                    self.connections.remove(conn)
                    break
                conn.restart()
                return conn
        conn = _Connection(instance, endpoint, self)
        self.connections.append(conn)
        return conn


def _describe_connections(self: Any, filters: list[dict[str, Any]], max_records: Any, marker: Any) -> list[Any]:
    attrs = {"endpoint-arn": "endpoint_arn", "replication-instance-arn": "replication_instance_arn"}
    connections = list(self.connections)
    for f in filters:
        attr = attrs.get(f.get("Name"))
        if attr is None:
            raise ValidationError(f"Invalid filter name: {f.get('Name')}")
        connections = [c for c in connections if getattr(c, attr) in f.get("Values", [])]
    return connections


def _describe_connections_response(self: Any) -> str:
    data = json.loads(self.body or "{}")
    connections = self.dms_backend.describe_connections(
        filters=data.get("Filters", []), max_records=None, marker=None
    )
    page, marker = _page(connections, data.get("MaxRecords"), data.get("Marker"))
    out: dict[str, Any] = {"Connections": [c.to_dict() for c in page]}
    if marker:
        out["Marker"] = marker
    return json.dumps(out)


DatabaseMigrationServiceBackend.test_connection = _test_connection  # type: ignore[method-assign]
DatabaseMigrationServiceBackend.describe_connections = _describe_connections  # type: ignore[method-assign]
DatabaseMigrationServiceResponse.describe_connections = _describe_connections_response  # type: ignore[method-assign]


# --- CDC latency metrics ---------------------------------------------------------

def _tasks() -> list[tuple[Any, Any]]:
    """(backend, task) for every task of every account and region."""
    out = []
    for account in list(dms_backends.keys()):
        for region, backend in list(dms_backends[account].items()):
            for task in list(backend.replication_tasks.values()):
                out.append((backend, task))
    return out


def publish_metrics() -> int:
    """Publish the CDC latency of every running task, as DMS does; returns how many."""
    count = 0
    for backend, task in _tasks():
        with _lock:
            _advance(task)
            if task.status != "running":
                continue
            instance = backend.replication_instances.get(task.replication_instance_arn)
            if instance is None:
                continue
            run = _run(task)
            if run.latency is not None:
                source, target = run.latency
            elif run.repl is not None:
                source, target = run.repl.sample_.lag_source, run.repl.sample_.lag_target
            else:
                source, target = 0.0, 0.0
        dimensions = [
            {"Name": "ReplicationInstanceIdentifier", "Value": instance.id},
            {"Name": "ReplicationTaskIdentifier", "Value": task.arn.rsplit(":", 1)[-1]},
        ]
        cloudwatch_backends[backend.account_id][backend.region_name].put_metric_data(
            "AWS/DMS",
            [
                {"MetricName": "CDCLatencySource", "Value": source, "Unit": "Seconds", "Dimensions": dimensions},
                {"MetricName": "CDCLatencyTarget", "Value": target, "Unit": "Seconds", "Dimensions": dimensions},
            ],
        )
        count += 1
    return count


def start_publisher() -> Callable[[], None]:
    """Publish metrics, sample and validate the running tasks in daemon threads
    until the returned function is called."""
    stop = threading.Event()
    _loop("metrics", lambda: SETTINGS["metricPeriodSeconds"], publish_metrics, stop)
    _loop("sample", lambda: SETTINGS["sampleIntervalSeconds"], sample_all, stop)
    # Validation wakes often but validates a task only when its interval passed
    # (or a table just finished its copy).
    _loop("validation", lambda: min(0.5, SETTINGS["validationIntervalSeconds"]), validate_all, stop)
    return stop.set


# --- Control API -------------------------------------------------------------------

def _task(arn: str) -> Any:
    parts = (arn or "").split(":")
    if len(parts) < 7:
        raise ValueError(f"not a task ARN: {arn!r}")
    task = dms_backends[parts[4]][parts[3]].replication_tasks.get(arn)
    if task is None:
        raise KeyError(f"no replication task {arn}")
    return task


@control.route("POST", "dms/task")
def _control_task(body: dict[str, Any]) -> Any:
    """{taskArn, failWith?, fullLoadSeconds?, latencySource?, latencyTarget?, tables?}"""
    task = _task(body.get("taskArn", ""))
    with _lock:
        run = _run(task)
        if "fullLoadSeconds" in body:
            run.full_load_seconds = float(body["fullLoadSeconds"])
        if "latencySource" in body or "latencyTarget" in body:
            # Overrides the measured lag while set; null for both measures again.
            if body.get("latencySource") is None and body.get("latencyTarget") is None:
                run.latency = None
            else:
                current = run.latency or (0.0, 0.0)
                run.latency = (
                    float(body.get("latencySource") if body.get("latencySource") is not None else current[0]),
                    float(body.get("latencyTarget") if body.get("latencyTarget") is not None else current[1]),
                )
        if "tables" in body:
            run.tables = [tuple(t.split(".", 1)) if "." in t else ("public", t) for t in body["tables"]]
        if body.get("failWith"):
            run.fail_with = body["failWith"]
        _advance(task)
        return task.to_dict()


@control.route("POST", "dms/table-statistics")
def _control_table_statistics(body: dict[str, Any]) -> Any:
    """{taskArn, tables: [{schema, table, validationState?, failed?, pending?, suspended?, tableState?, rows?}]}"""
    task = _task(body.get("taskArn", ""))
    keys = {"validationState", "failed", "pending", "suspended", "tableState", "rows"}
    with _lock:
        run = _run(task)
        for t in body.get("tables", []):
            key = (t.get("schema") or "public", t["table"])
            run.table_overrides.setdefault(key, {}).update({k: v for k, v in t.items() if k in keys})
    return {"TableStatistics": _table_statistics(task)}


@control.route("POST", "dms/connection")
def _control_connection(body: dict[str, Any]) -> Any:
    """{endpointArn, status: successful|failed, message?}: outcome of its next tests."""
    arn = body["endpointArn"]
    status = body.get("status", "successful")
    if status not in ("successful", "failed"):
        raise ValueError(f"status {status!r}: want successful or failed")
    with _lock:
        _connection_outcomes[arn] = (status, body.get("message", "") if status == "failed" else "")
    return {"endpointArn": arn, "status": status}


@control.route("POST", "dms/settings")
def _control_settings(body: dict[str, Any]) -> Any:
    """Timing of the emulation: any of SETTINGS' keys, in seconds."""
    with _lock:
        for k, v in body.items():
            if k not in SETTINGS:
                raise KeyError(f"unknown setting {k!r}; known: {sorted(SETTINGS)}")
            SETTINGS[k] = float(v)
        return dict(SETTINGS)


def _tagged_arn(backend: Any, arn: str) -> str:
    """The ARN of a task, endpoint or instance DMS knows; ResourceNotFoundFault otherwise."""
    known = {t.arn for t in backend.replication_tasks.values()}
    known |= {e.endpoint_arn for e in backend.endpoints.values()}
    known |= {i.arn for i in backend.replication_instances.values()}
    if arn not in known:
        raise ResourceNotFoundFault(f"Resource {arn} could not be found.")
    return arn


def _add_tags_to_resource_response(self: Any) -> str:
    data = json.loads(self.body or "{}")
    arn = _tagged_arn(self.dms_backend, data.get("ResourceArn") or "")
    self.dms_backend.tagger.tag_resource(arn, data.get("Tags") or [])
    return "{}"


def _remove_tags_from_resource_response(self: Any) -> str:
    data = json.loads(self.body or "{}")
    arn = _tagged_arn(self.dms_backend, data.get("ResourceArn") or "")
    self.dms_backend.tagger.untag_resource_using_names(arn, data.get("TagKeys") or [])
    return "{}"


DatabaseMigrationServiceResponse.add_tags_to_resource = _add_tags_to_resource_response  # type: ignore[attr-defined]
DatabaseMigrationServiceResponse.remove_tags_from_resource = _remove_tags_from_resource_response  # type: ignore[attr-defined]
