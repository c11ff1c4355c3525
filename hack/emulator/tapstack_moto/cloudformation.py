"""Template-processing fixes in moto's CloudFormation engine itself.

Gap: dynamic references such as
``{{resolve:secretsmanager:<arn>:SecretString:password}}`` (how the stack passes
generated database passwords to RDS) are handed to the resource verbatim. AWS
resolves them before creating the resource; here every string produced while
resolving a template value is checked and resolved against moto's Secrets
Manager (and SSM) backends. An unknown secret fails the resource like in AWS.

Gap: on stack UPDATE moto replaces the handle of every modified resource whose
model has no update support (RDS instances, ECS, VPC pieces, ...) with None, so
later Refs and GetAtts on it - and stack outputs - silently vanish, and DELETE
forgets the object. Such a resource now keeps its handle (the update is a
no-op for the emulated object, which is what AWS does for tag-only changes).

Gap: moto's YAML loader turns ``!GetAtt Db.Endpoint.Address`` into three parts
(AWS splits at the first dot only) and ``!GetAtt [A, B]`` into YAML nodes, so
the most common RDS GetAtt fails template validation.

Gap: moto's Fn::Sub splits ``${Db.Endpoint.Address}`` at every dot (GetAtt
Db / Endpoint) and fails validation; AWS splits at the first dot only, like in
Fn::GetAtt. Such a reference is now passed to moto as a Sub variable holding
the GetAtt with the attribute split at the first dot.

Gap: moto does not know Fn::Cidr (the stack carves its subnets out of the VPC
block with it) and passes the raw {"Fn::Cidr": ...} on; it is evaluated here
as AWS documents it.

Gap: CreateChangeSet without ChangeSetType means UPDATE in AWS; moto takes
CREATE and re-creates every resource of the existing stack (failing on the
first name that exists).

Gap: moto answers DescribeChangeSet / ExecuteChangeSet for an unknown change
set with ValidationError "Stack with id <change set name> does not exist" (and
DeleteChangeSet with HTTP 500); AWS answers ChangeSetNotFoundException (HTTP
404, code ChangeSetNotFound). A change set name is now looked up within the
stack named by StackName (name or id), like AWS, and a second CreateChangeSet of
the same name for the same stack fails with AlreadyExistsException. An UPDATE
change set may name its stack by id (moto only took the name).

Gap: moto's ExecuteChangeSet ignored the change set's status, never applied its
Tags to the stack, kept the outputs of the old template and logged
UPDATE_IN_PROGRESS without "User Initiated". Now: only a CREATE_COMPLETE /
AVAILABLE change set executes (InvalidChangeSetStatusException otherwise), the
stack gets the change set's tags and new outputs, the update runs through the
same failure handling as UpdateStack (stacks.py: UPDATE_FAILED event,
UPDATE_ROLLBACK_COMPLETE), and, as AWS documents, executing a change set deletes
the stack's other change sets (they no longer describe a way from the stack's
template). DescribeChangeSet now shows the change set's Tags (moto: []).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from typing import Any

import yaml

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends

_DYNAMIC = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]+)\}\}")


def _resolve_secret(ref: str, account_id: str, region: str) -> str:
    parts = ref.split(":")
    # The secret id may itself be an ARN (arn:aws:secretsmanager:r:a:secret:name).
    n = 7 if ref.startswith("arn:") else 1
    secret_id, rest = ":".join(parts[:n]), parts[n:]
    rest += [""] * (4 - len(rest))
    _, json_key, stage, version = rest[:4]
    value = secretsmanager_backends[account_id][region].get_secret_value(
        secret_id, version or None, stage or (None if version else "AWSCURRENT")
    )
    text = value.get("SecretString")
    if json_key:
        return str(json.loads(text)[json_key])
    return text


def _resolve_ssm(ref: str, account_id: str, region: str) -> str:
    name = ref.split(":")[0]
    parameter = ssm_backends[account_id][region].get_parameter(name)
    return parameter.value


def resolve_dynamic_references(value: str, account_id: str, region: str) -> str:
    def replace(match: re.Match) -> str:
        service, ref = match.group(1), match.group(2)
        if service == "secretsmanager":
            return _resolve_secret(ref, account_id, region)
        return _resolve_ssm(ref, account_id, region)

    return _DYNAMIC.sub(replace, value)


_original_clean_json = parsing.clean_json


def _cidr(args: list[Any]) -> list[str]:
    block, count, bits = args
    network = ipaddress.ip_network(block, strict=False)
    prefix = network.max_prefixlen - int(bits)
    return [str(n) for n in itertools.islice(network.subnets(new_prefix=prefix), int(count))]


# ${Logical.Attr.With.Dots}; ${!...} is a literal and starts with "!".
_DOTTED_GETATT = re.compile(r"\$\{([A-Za-z0-9]+)\.([^}.]+\.[^}]*)\}")


def _sub_dotted_getatts(sub: Any) -> Any:
    template, variables = (sub, {}) if isinstance(sub, str) else (sub[0], dict(sub[1]))
    if not isinstance(template, str) or not _DOTTED_GETATT.search(template):
        return sub

    def variable(match: re.Match) -> str:
        name = next(f"tapstackGetAtt{i}" for i in itertools.count() if f"tapstackGetAtt{i}" not in variables)
        variables[name] = {"Fn::GetAtt": [match.group(1), match.group(2)]}
        return "${" + name + "}"

    return [_DOTTED_GETATT.sub(variable, template), variables]


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    if isinstance(resource_json, dict) and "Fn::Cidr" in resource_json:
        return _cidr(_clean_json(resource_json["Fn::Cidr"], resources_map))
    if isinstance(resource_json, dict) and "Fn::Sub" in resource_json:
        resource_json = {**resource_json, "Fn::Sub": _sub_dotted_getatts(resource_json["Fn::Sub"])}
    result = _original_clean_json(resource_json, resources_map)
    if isinstance(result, str) and "{{resolve:" in result:
        result = resolve_dynamic_references(
            result, resources_map._account_id, resources_map._region_name
        )
    return result


_original_parse_and_update = parsing.parse_and_update_resource


def _parse_and_update_resource(
    logical_id: str, resource_json: Any, resources_map: Any, account_id: str, region_name: str
) -> Any:
    updated = _original_parse_and_update(
        logical_id, resource_json, resources_map, account_id, region_name
    )
    if updated is None:
        return resources_map._parsed_resources.get(logical_id)
    return updated


def _yaml_tag_constructor(loader: Any, tag: str, node: Any) -> Any:
    if tag == "!GetAtt":
        if isinstance(node, yaml.SequenceNode):
            return {"Fn::GetAtt": loader.construct_sequence(node)}
        return {"Fn::GetAtt": node.value.split(".", 1)}
    return _original_yaml_tag_constructor(loader, tag, node)


_original_yaml_tag_constructor = cfn_models.yaml_tag_constructor

_original_create_change_set = CloudFormationResponse.create_change_set


def _create_change_set(self: CloudFormationResponse) -> Any:
    if self._get_param("ChangeSetType") is None:
        if self.automated_parameter_parsing:
            self.params["ChangeSetType"] = "UPDATE"
        else:
            self.querystring["ChangeSetType"] = ["UPDATE"]
    return _original_create_change_set(self)


CloudFormationResponse.create_change_set = _create_change_set  # type: ignore[method-assign]


class ChangeSetNotFound(CloudFormationError):
    # The shape id; moto's serializer takes the wire code (ChangeSetNotFound)
    # and HTTP status (404) from the service model, as AWS sends them.
    code = "ChangeSetNotFoundException"

    def __init__(self, name: str):
        super().__init__(f"ChangeSet [{name}] does not exist")


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatusException"


def find_change_set(
    backend: CloudFormationBackend, name: str, stack_name: str | None
) -> tuple[str, ChangeSet]:
    """The change set named by ARN, or by name within the stack (name or id)."""
    if name in backend.change_sets:
        return name, backend.change_sets[name]
    for change_set_id, change_set in backend.change_sets.items():
        if change_set.change_set_name != name:
            continue
        if stack_name in (None, "", change_set.stack_name, change_set.stack_id):
            return change_set_id, change_set
    raise ChangeSetNotFound(name)


def _describe_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> ChangeSet:
    return find_change_set(self, change_set_name, stack_name)[1]


def _delete_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
    change_set_id, _ = find_change_set(self, change_set_name, stack_name)
    del self.change_sets[change_set_id]


_original_backend_create_change_set = CloudFormationBackend.create_change_set


def _backend_create_change_set(self: CloudFormationBackend, stack_name: str, change_set_name: str, *args: Any, **kwargs: Any) -> Any:
    stack = next((s for s in self.stacks.values() if stack_name in (s.name, s.stack_id)), None)
    if stack is not None:
        if any(cs.change_set_name == change_set_name and cs.stack_id == stack.stack_id for cs in self.change_sets.values()):
            raise AlreadyExistsException(f"ChangeSet [{change_set_name}] already exists")
        # moto finds the stack of an UPDATE change set by name only; AWS takes the id too.
        stack_name = stack.name
    return _original_backend_create_change_set(self, stack_name, change_set_name, *args, **kwargs)


def _execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
    from .stacks import run_update  # the UpdateStack failure handling

    change_set_id, change_set = find_change_set(self, change_set_name, stack_name)
    if change_set.status != "CREATE_COMPLETE" or change_set.execution_status != "AVAILABLE":
        raise InvalidChangeSetStatus(
            f"ChangeSet [{change_set_id}] cannot be executed in its current status of [{change_set.status}]"
        )
    stack = self.stacks[change_set.stack_id]
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    if change_set.change_set_type == "CREATE":
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.template = change_set.template
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        change_set.apply()
        stack.output_map = stack._create_output_map()
        stack.status = "CREATE_COMPLETE"
        stack._add_stack_event("CREATE_COMPLETE")
        succeeded = True
    else:
        succeeded = run_update(stack, change_set.template, change_set.parameters, change_set.tags or None)
    change_set.execution_status = "EXECUTE_COMPLETE" if succeeded else "EXECUTE_FAILED"
    for other_id, other in list(self.change_sets.items()):
        if other.stack_id == stack.stack_id and other_id != change_set_id:
            del self.change_sets[other_id]


# The properties that CloudFormation documents as "Update requires:
# Replacement" for the types whose replacement loses data, and for the network
# they live in. moto's changes carried no Replacement and no Details, so a
# guard that reads them saw every modification as in place.
REPLACING_PROPERTIES: dict[str, set[str]] = {
    "AWS::RDS::DBInstance": {
        "DBName", "DBInstanceIdentifier", "MasterUsername", "KmsKeyId", "StorageEncrypted",
        "DBSubnetGroupName", "Engine", "CharacterSetName", "Timezone",
    },
    "AWS::S3::Bucket": {"BucketName"},
    "AWS::SecretsManager::Secret": {"Name"},
    "AWS::DMS::ReplicationTask": {"ReplicationInstanceArn", "SourceEndpointArn", "TargetEndpointArn", "ResourceIdentifier"},
    "AWS::DMS::Endpoint": {"KmsKeyId", "ResourceIdentifier"},
    "AWS::DMS::ReplicationInstance": {"KmsKeyId", "PubliclyAccessible", "ResourceIdentifier"},
    "AWS::EC2::VPC": {"CidrBlock"},
    "AWS::EC2::Subnet": {"CidrBlock", "AvailabilityZone", "VpcId"},
}


class _Target:
    def __init__(self, name: str, requires_recreation: str):
        self.attribute = "Properties"
        self.name = name
        self.requires_recreation = requires_recreation


class _Detail:
    def __init__(self, name: str, requires_recreation: str):
        self.target = _Target(name, requires_recreation)
        self.evaluation = "Static"
        self.change_source = "DirectModification"


class _ChangeView:
    """A resource change with Replacement and Details, as AWS reports it."""

    def __init__(self, change: Any, old: dict[str, Any] | None, new: dict[str, Any] | None):
        self.action = change.action
        self.logical_resource_id = change.logical_resource_id
        self.resource_type = change.resource_type
        self.replacement: str | None = None
        self.details: list[_Detail] = []
        if change.action != "Modify":
            return
        old_props = (old or {}).get("Properties") or {}
        new_props = (new or {}).get("Properties") or {}
        replacing = REPLACING_PROPERTIES.get(change.resource_type, set())
        self.details = [
            _Detail(name, "Always" if name in replacing else "Never")
            for name in sorted(set(old_props) | set(new_props))
            if old_props.get(name) != new_props.get(name)
        ]
        always = any(d.target.requires_recreation == "Always" for d in self.details)
        self.replacement = "True" if always else "False"


class _ChangeSetView:
    """A change set as DescribeChangeSet shows it: moto keeps its Tags as a
    dict, which the response serializer dropped (Tags: []); its changes gain
    Replacement and Details (see REPLACING_PROPERTIES)."""

    def __init__(self, change_set: ChangeSet):
        self._change_set = change_set
        self.tags = [{"Key": k, "Value": v} for k, v in (change_set.tags or {}).items()]
        old = getattr(change_set.stack.resource_map, "_resource_json_map", {}) or {}
        new = (change_set.template_dict or {}).get("Resources") or {}
        self.changes = [
            _ChangeView(c, old.get(c.logical_resource_id), new.get(c.logical_resource_id)) for c in change_set.changes
        ]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._change_set, name)


def _response_describe_change_set(self: CloudFormationResponse) -> Any:
    change_set = self.cloudformation_backend.describe_change_set(
        self._get_param("ChangeSetName"), self._get_param("StackName")
    )
    return ActionResult(_ChangeSetView(change_set))


def _response_delete_change_set(self: CloudFormationResponse) -> Any:
    self.cloudformation_backend.delete_change_set(
        self._get_param("ChangeSetName"), self._get_param("StackName")
    )
    return EmptyResult()


CloudFormationBackend.describe_change_set = _describe_change_set  # type: ignore[method-assign]
CloudFormationBackend.delete_change_set = _delete_change_set  # type: ignore[method-assign]
CloudFormationBackend.create_change_set = _backend_create_change_set  # type: ignore[method-assign]
CloudFormationBackend.execute_change_set = _execute_change_set  # type: ignore[method-assign]
CloudFormationResponse.describe_change_set = _response_describe_change_set  # type: ignore[method-assign]
CloudFormationResponse.delete_change_set = _response_delete_change_set  # type: ignore[method-assign]
# Stack.parse_template registers moto's constructor through this module global.
cfn_models.yaml_tag_constructor = _yaml_tag_constructor
# clean_json recurses through the module global, so every nested value passes here.
parsing.clean_json = _clean_json
parsing.parse_and_update_resource = _parse_and_update_resource
