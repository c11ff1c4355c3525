"""Stack lifecycle fixes in moto's CloudFormation (failure and after-delete).

Gap: DescribeStacks / DescribeStackResources on a DELETE_COMPLETE stack
evaluate its outputs through moto's lazy resource map, which *re-creates*
every resource the outputs reference (a VPC, subnets, buckets ... reappear after
every status poll). A deleted stack now keeps no resources and no outputs.

Gap: a resource that fails during CreateStack makes moto answer HTTP 500 and
leave a half-created stack in CREATE_IN_PROGRESS. As in AWS, CreateStack now
succeeds, the stack records CREATE_FAILED for the failing resource (with the
reason) in its events, deletes what was created, and ends in ROLLBACK_COMPLETE.

Gap: after a rolled-back CreateStack, the stack's exports stayed registered
(moto's DeleteStack finds them through outputs the rollback had cleared), so
re-creating the stack failed with "Export names must be unique". They now go
with the rollback; an update re-registers the exports of the new outputs.

Gap: a failing DeleteStack made moto drop the stack altogether. It now stays
in DELETE_FAILED with the reason in its events, and can be deleted again.

Gap: moto records EnableTerminationProtection on CreateStack but has no
UpdateTerminationProtection and deletes a protected stack anyway. As in AWS,
DeleteStack of a protected stack now fails with a ValidationError ("cannot be
deleted while TerminationProtection is enabled") and leaves it as it is,
UpdateTerminationProtection sets or lifts the protection, and DescribeStacks
reports it.

Gap: a resource that fails during an update (UpdateStack or ExecuteChangeSet)
made moto answer HTTP 500 and leave the stack half-updated. As in AWS, the
call succeeds, the stack records UPDATE_FAILED (CREATE_FAILED for a resource
the update adds) for the failing resource with the reason, rolls the resources back to the previous template and parameters
and ends in UPDATE_ROLLBACK_COMPLETE (UPDATE_ROLLBACK_FAILED if the rollback
fails too); its template, parameters and tags stay the previous ones. A
successful update logs UPDATE_IN_PROGRESS ("User Initiated"),
UPDATE_COMPLETE_CLEANUP_IN_PROGRESS and UPDATE_COMPLETE, and re-evaluates the
outputs.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.models import CloudFormationBackend, Event, Stack, cloudformation_backends
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.parsing import OutputMap
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult


class ResourceFailed(Exception):
    def __init__(self, logical_id: str, resource_type: str, cause: Exception, action: str = "CREATE"):
        super().__init__(f"{logical_id}: {cause}")
        self.logical_id, self.resource_type, self.cause = logical_id, resource_type, cause
        self.action = action  # CREATE or UPDATE: the event is <action>_FAILED


_original_parse_and_create = parsing.parse_and_create_resource


def _parse_and_create_resource(logical_id: str, resource_json: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return _original_parse_and_create(logical_id, resource_json, *args, **kwargs)
    except ResourceFailed:
        raise  # a dependency failed first; report that one
    except Exception as err:
        raise ResourceFailed(logical_id, resource_json.get("Type", ""), err) from err


_original_parse_and_update = parsing.parse_and_update_resource


def _parse_and_update_resource(logical_id: str, resource_json: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return _original_parse_and_update(logical_id, resource_json, *args, **kwargs)
    except ResourceFailed:
        raise
    except Exception as err:
        raise ResourceFailed(logical_id, resource_json.get("Type", ""), err, "UPDATE") from err


def _resource_event(stack: Stack, failed: ResourceFailed, status: str) -> None:
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failed.logical_id,
            physical_resource_id="",
            resource_type=failed.resource_type,
            resource_status=status,
            resource_status_reason=_reason(failed.cause),
            resource_properties=None,
        )
    )


def _reason(err: Exception) -> str:
    return getattr(err, "message", None) or str(err) or type(err).__name__


def _backend(stack: Stack) -> CloudFormationBackend:
    return cloudformation_backends[stack.account_id][stack.region_name]


def _drop_exports(stack: Stack) -> None:
    exports = _backend(stack).exports
    for name in [n for n, e in exports.items() if e.exporting_stack_id == stack.stack_id]:
        del exports[name]


def _forget_resources(stack: Stack) -> None:
    """Nothing may be resolved (and so lazily re-created) any more."""
    resource_map = stack.resource_map
    for logical_id in list(resource_map._resource_json_map):
        resource_map._parsed_resources.pop(logical_id, None)
    resource_map._resource_json_map = {}
    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)


_original_create_resources = Stack.create_resources


def _create_resources(self: Stack) -> None:
    try:
        _original_create_resources(self)
    except ResourceFailed as failed:
        self.status = "CREATE_FAILED"
        _resource_event(self, failed, "CREATE_FAILED")
        self._add_stack_event("CREATE_FAILED", resource_status_reason=f"The following resource(s) failed to create: [{failed.logical_id}].")
        self.status = "ROLLBACK_IN_PROGRESS"
        self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=f"The following resource(s) failed to create: [{failed.logical_id}]. Rollback requested by user.")
        try:
            self.resource_map.delete()
            self.status = "ROLLBACK_COMPLETE"
        except Exception as err:
            self.status = "ROLLBACK_FAILED"
            self._add_stack_event("ROLLBACK_FAILED", resource_status_reason=_reason(err))
            return
        self._add_stack_event("ROLLBACK_COMPLETE")
        # moto's DeleteStack finds the exports through the outputs, which are
        # cleared here, so they go now (else they block re-creating the stack).
        _drop_exports(self)
        _forget_resources(self)


_original_stack_delete = Stack.delete


def _stack_delete(self: Stack) -> None:
    _original_stack_delete(self)
    _forget_resources(self)


_original_delete_stack = CloudFormationBackend.delete_stack


def _delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
    stack = next(
        (s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)),
        None,
    )
    if stack is not None and getattr(stack, "enable_termination_protection", False):
        raise ValidationError(
            name_or_stack_id,
            message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled",
        )
    try:
        _original_delete_stack(self, name_or_stack_id)
    except Exception as err:
        if stack is None:
            raise
        self.stacks[stack.stack_id] = stack
        stack.status = "DELETE_FAILED"
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=_reason(err))


def run_update(
    stack: Stack,
    template: str,
    parameters: dict[str, Any] | None,
    tags: dict[str, str] | None,
    role_arn: str | None = None,
) -> bool:
    """Update the stack's resources to template; False when it rolled back."""
    previous_template, previous_parameters = stack.template, dict(stack.resource_map.input_parameters or {})
    stack.status = "UPDATE_IN_PROGRESS"
    stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    try:
        stack.resource_map.update(Stack.parse_template(template), parameters)
    except Exception as err:
        failed = err if isinstance(err, ResourceFailed) else ResourceFailed(stack.name, "AWS::CloudFormation::Stack", err, "UPDATE")
        # A resource added by the update fails with CREATE_FAILED, a changed one UPDATE_FAILED.
        _resource_event(stack, failed, f"{failed.action}_FAILED")
        stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        stack._add_stack_event(
            "UPDATE_ROLLBACK_IN_PROGRESS",
            resource_status_reason=f"The following resource(s) failed to update: [{failed.logical_id}]. ",
        )
        try:
            stack.resource_map.update(Stack.parse_template(previous_template), previous_parameters)
        except Exception as rollback_err:
            stack.status = "UPDATE_ROLLBACK_FAILED"
            stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=_reason(rollback_err))
            return False
        stack.template = previous_template
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        return False
    stack.template = template
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    _drop_exports(stack)
    _backend(stack).exports.update({e.name: e for e in stack.exports})
    if parameters:
        stack.parameters = parameters
    if tags is not None:
        stack.tags = tags
    if role_arn is not None:
        stack.role_arn = role_arn
    stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stack.status = "UPDATE_COMPLETE"
    stack._add_stack_event("UPDATE_COMPLETE")
    return True


def _stack_update(
    self: Stack,
    template: str,
    role_arn: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    run_update(self, template, parameters, tags, role_arn)


parsing.parse_and_create_resource = _parse_and_create_resource
parsing.parse_and_update_resource = _parse_and_update_resource
Stack.update = _stack_update  # type: ignore[method-assign]
Stack.create_resources = _create_resources  # type: ignore[method-assign]
Stack.delete = _stack_delete  # type: ignore[method-assign]
CloudFormationBackend.delete_stack = _delete_stack  # type: ignore[method-assign]


# --- Termination protection ---------------------------------------------------

def _update_termination_protection(self: CloudFormationResponse) -> Any:
    name = self._get_param("StackName")
    enable = str(self._get_param("EnableTerminationProtection")).lower() == "true"
    stack = next(
        (s for s in self.cloudformation_backend.stacks.values() if name in (s.name, s.stack_id)),
        None,
    )
    if stack is None:
        raise ValidationError(name)
    stack.enable_termination_protection = enable
    return ActionResult({"StackId": stack.stack_id})


CloudFormationResponse.update_termination_protection = _update_termination_protection  # type: ignore[attr-defined]
