"""RDS fixes for moto's CloudFormation.

Gap: ``Ref`` on an AWS::RDS::DBParameterGroup returns moto's Python object (the
class has no physical_resource_id), so a DBInstance with
``DBParameterGroupName: {Ref: ...}`` crashes CreateStack. AWS returns the group
name; so does this property (and the same for DBSubnetGroup).

Gap: moto's DBInstance model defaults Port to 3306 whatever the engine, so a
PostgreSQL instance (and the secret attached to it) would say 3306. The default
here is the engine's port, as in AWS.
"""

from __future__ import annotations

from moto.rds.models import DBInstance, DBParameterGroup, DBSubnetGroup, rds_backends

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
