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
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.dms.exceptions import InvalidResourceStateFault
from moto.dms.models import FakeReplicationInstance, FakeReplicationTask, dms_backends

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
FakeReplicationTask.to_dict = _epoch_to_dict(FakeReplicationTask.to_dict)  # type: ignore[method-assign]


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
