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

Gap: moto does not know Fn::Cidr (the stack carves its subnets out of the VPC
block with it) and passes the raw {"Fn::Cidr": ...} on; it is evaluated here
as AWS documents it.

Gap: CreateChangeSet without ChangeSetType means UPDATE in AWS; moto takes
CREATE and re-creates every resource of the existing stack (failing on the
first name that exists).
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
from moto.cloudformation.responses import CloudFormationResponse
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


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    if isinstance(resource_json, dict) and "Fn::Cidr" in resource_json:
        return _cidr(_clean_json(resource_json["Fn::Cidr"], resources_map))
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
# Stack.parse_template registers moto's constructor through this module global.
cfn_models.yaml_tag_constructor = _yaml_tag_constructor
# clean_json recurses through the module global, so every nested value passes here.
parsing.clean_json = _clean_json
parsing.parse_and_update_resource = _parse_and_update_resource
