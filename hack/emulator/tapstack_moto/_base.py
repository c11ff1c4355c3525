"""Shared plumbing for the CloudFormation models this package registers.

moto's CloudFormation looks a resource type up in a map built from the *direct*
subclasses of ``CloudFormationModel`` (``moto.cloudformation.parsing.get_model_map``).
Each model here is therefore declared as ``class X(Resource, CloudFormationModel)``
in a module whose second dotted segment names the moto service (``tapstack_moto.dms``
-> ``dms``), because moto files model classes under that service name.

A model instance is only the stack's handle on an object that lives in moto's own
service backend: CreateStack puts the object where the service API sees it, and the
handle's ``delete`` removes it from there again.
"""

from __future__ import annotations

import random
import string
from typing import Any, Callable

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException


def resource_id(length: int = 26) -> str:
    """A random upper-case resource id like the ones AWS puts into DMS ARNs."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(random.choice(alphabet) for _ in range(length))


def tags_as_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": t["Value"]} for t in (tags or [])]


class Resource:
    """Mixin that implements moto's CloudFormationModel contract once.

    Subclasses set CFN_TYPE, NAME_PROPERTY and ATTRIBUTES and implement
    ``_create``, ``_delete`` and optionally ``_update_in_place``.
    """

    CFN_TYPE = ""
    NAME_PROPERTY = ""
    # GetAtt name -> function(handle) -> value
    ATTRIBUTES: dict[str, Callable[[Any], Any]] = {}

    def __init__(
        self,
        account_id: str,
        region_name: str,
        physical_id: str,
        name: str,
        properties: dict[str, Any],
    ) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.physical_resource_id = physical_id
        self.name = name
        self.properties = properties

    # -- moto's CloudFormationModel contract ---------------------------------

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return self.ATTRIBUTES[attribute_name](self)

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "Resource":
        props = cloudformation_json.get("Properties") or {}
        return cls._create(resource_name, props, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "Resource",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "Resource":
        props = cloudformation_json.get("Properties") or {}
        if original_resource._update_in_place(props):
            original_resource.properties = props
            return original_resource
        # Replacement: the name only changes when the template names it.
        name = new_resource_name
        if not (cls.NAME_PROPERTY and props.get(cls.NAME_PROPERTY)):
            name = original_resource.name
        original_resource.delete(account_id, region_name)
        return cls._create(name, props, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls._delete(resource_name, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete(self.physical_resource_id, account_id, region_name)

    # -- per-type hooks --------------------------------------------------------

    @classmethod
    def _create(
        cls, name: str, props: dict[str, Any], account_id: str, region_name: str
    ) -> "Resource":
        raise NotImplementedError

    @classmethod
    def _delete(cls, physical_id: str, account_id: str, region_name: str) -> None:
        raise NotImplementedError

    def _update_in_place(self, props: dict[str, Any]) -> bool:
        """Apply an update without replacement; False asks for replacement."""
        return False

    def _only_changed(self, props: dict[str, Any], allowed: set[str]) -> bool:
        keys = set(props) | set(self.properties)
        changed = {k for k in keys if props.get(k) != self.properties.get(k)}
        return changed <= allowed
