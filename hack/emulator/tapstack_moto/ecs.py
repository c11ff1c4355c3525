"""Stack deletion for moto's ECS models.

Gap: moto's ECS Cluster, Service and TaskDefinition models cannot be deleted by
CloudFormation, so DELETE_COMPLETE left an ACTIVE cluster and service behind.
Deleting goes through moto's own API calls: the service and the cluster become
INACTIVE and the task definition revision is deregistered, as in AWS.

Gap: moto's TaskDefinition model registers only Family, ContainerDefinitions,
Volumes and Memory, and its Service model only Cluster, TaskDefinition and
DesiredCount ("TODO: LoadBalancers"). So DescribeTaskDefinition said network
mode bridge with no cpu, and DescribeServices launch type EC2 with no load
balancer, whatever the template said. Both now go through moto's own
RegisterTaskDefinition / CreateService with every property the API takes
(NetworkMode, Cpu, RequiresCompatibilities, roles, LaunchType, LoadBalancers,
NetworkConfiguration, PlatformVersion, PropagateTags, Tags, ...), translated
from CloudFormation's PascalCase to the API's camelCase. An update registers a
new task definition revision when the definition changed (AWS replaces it) and
applies the service's updatable properties.
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import Cluster, Service, TaskDefinition, ecs_backends


def _delete_service(self: Service, account_id: str, region_name: str) -> None:
    ecs_backends[account_id][region_name].delete_service(
        self.cluster_name, self.name, force=True
    )


def _delete_cluster(self: Cluster, account_id: str, region_name: str) -> None:
    backend = ecs_backends[account_id][region_name]
    # AWS refuses while services are active; moto's delete loop retries later.
    if any(
        s.cluster_name == self.name and s.status == "ACTIVE"
        for s in backend.services.values()
    ):
        raise InvalidParameterException("The cluster cannot be deleted while services are active.")
    backend.delete_cluster(self.arn)


def _delete_task_definition(self: TaskDefinition, account_id: str, region_name: str) -> None:
    ecs_backends[account_id][region_name].deregister_task_definition(self.arn)


Service.delete = _delete_service  # type: ignore[attr-defined]
Cluster.delete = _delete_cluster  # type: ignore[attr-defined]
TaskDefinition.delete = _delete_task_definition  # type: ignore[attr-defined]


def _camel(value: Any) -> Any:
    return remap_nested_keys(value, pascal_to_camelcase) if value is not None else None


def _ecs_tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags") or []]


def _task_definition_kwargs(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "family": props.get("Family"),
        "container_definitions": _camel(props.get("ContainerDefinitions", [])),
        "volumes": _camel(props.get("Volumes", [])),
        "network_mode": props.get("NetworkMode"),
        "tags": _ecs_tags(props),
        "placement_constraints": _camel(props.get("PlacementConstraints")),
        "requires_compatibilities": props.get("RequiresCompatibilities"),
        "cpu": None if props.get("Cpu") is None else str(props["Cpu"]),
        "memory": None if props.get("Memory") is None else str(props["Memory"]),
        "task_role_arn": props.get("TaskRoleArn"),
        "execution_role_arn": props.get("ExecutionRoleArn"),
        "proxy_configuration": _camel(props.get("ProxyConfiguration")),
        "inference_accelerators": _camel(props.get("InferenceAccelerators")),
        "runtime_platform": _camel(props.get("RuntimePlatform")),
        "ipc_mode": props.get("IpcMode"),
        "pid_mode": props.get("PidMode"),
        "ephemeral_storage": _camel(props.get("EphemeralStorage")),
    }


def _create_task_definition(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = dict(cloudformation_json.get("Properties") or {})
    kw = _task_definition_kwargs(props)
    if not kw["family"]:
        kw["family"] = resource_name  # AWS generates <stack>-<logical id>-<suffix> too
    definition = ecs_backends[account_id][region_name].register_task_definition(**kw)
    definition.cfn_properties = props
    return definition


def _update_task_definition(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = dict(cloudformation_json.get("Properties") or {})
    if getattr(original_resource, "cfn_properties", None) == props:
        return original_resource
    # Any change to a task definition replaces it: a new revision, the old deregistered.
    definition = _create_task_definition(cls, new_resource_name, cloudformation_json, account_id, region_name)
    ecs_backends[account_id][region_name].deregister_task_definition(original_resource.arn)
    return definition


def _ref_name(value: Any, attribute: str) -> Any:
    return getattr(value, attribute) if isinstance(value, (Cluster, TaskDefinition)) else value


def _service_kwargs(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "load_balancers": _camel(props.get("LoadBalancers")),
        "scheduling_strategy": props.get("SchedulingStrategy"),
        "tags": _ecs_tags(props),
        "deployment_controller": _camel(props.get("DeploymentController")),
        "launch_type": props.get("LaunchType"),
        "service_registries": _camel(props.get("ServiceRegistries")),
        "platform_version": props.get("PlatformVersion"),
        "propagate_tags": props.get("PropagateTags") or "NONE",
        "network_configuration": _camel(props.get("NetworkConfiguration")),
        "role_arn": props.get("Role"),
    }


def _set_service_extras(service: Service, props: dict[str, Any]) -> None:
    """Properties CreateService takes that moto's backend signature lacks."""
    service.health_check_grace_period_seconds = props.get("HealthCheckGracePeriodSeconds")
    service.deployment_configuration = _camel(props.get("DeploymentConfiguration"))
    service.enable_ecs_managed_tags = bool(props.get("EnableECSManagedTags", False))
    service.enable_execute_command = bool(props.get("EnableExecuteCommand", False))
    service.cfn_properties = props


def _create_service(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = dict(cloudformation_json.get("Properties") or {})
    service = ecs_backends[account_id][region_name].create_service(
        _ref_name(props.get("Cluster", "default"), "name"),
        resource_name,
        props.get("DesiredCount"),
        task_definition_str=_ref_name(props.get("TaskDefinition"), "arn"),
        **_service_kwargs(props),
    )
    _set_service_extras(service, props)
    return service


# Changing these replaces the service in AWS.
_SERVICE_REPLACEMENT = ("Cluster", "LaunchType", "ServiceName", "SchedulingStrategy", "Role", "DeploymentController")


def _update_service(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = dict(cloudformation_json.get("Properties") or {})
    previous = getattr(original_resource, "cfn_properties", {})
    backend = ecs_backends[account_id][region_name]
    if any(_ref_name(props.get(k), "name") != _ref_name(previous.get(k), "name") for k in _SERVICE_REPLACEMENT):
        backend.delete_service(original_resource.cluster_name, original_resource.name, force=True)
        return _create_service(cls, new_resource_name, cloudformation_json, account_id, region_name)
    service = backend.update_service(
        {
            "cluster": original_resource.cluster_name,
            "service": original_resource.name,
            "task_definition": _ref_name(props.get("TaskDefinition"), "arn"),
            "desired_count": props.get("DesiredCount"),
        }
    )
    kw = _service_kwargs(props)
    service.load_balancers = kw["load_balancers"] or []
    service.service_registries = kw["service_registries"] or []
    service.platform_version = kw["platform_version"]
    service.propagate_tags = kw["propagate_tags"]
    if kw["network_configuration"] is not None:
        service.network_configuration = service._validate_network(kw["network_configuration"])
    service.tags = kw["tags"]
    _set_service_extras(service, props)
    return service


TaskDefinition.create_from_cloudformation_json = classmethod(_create_task_definition)  # type: ignore[method-assign]
TaskDefinition.update_from_cloudformation_json = classmethod(_update_task_definition)  # type: ignore[method-assign]
Service.create_from_cloudformation_json = classmethod(_create_service)  # type: ignore[method-assign]
Service.update_from_cloudformation_json = classmethod(_update_service)  # type: ignore[method-assign]


# Gap: moto's RunTask records a task and never runs it. A task whose
# container has a command (the TapStack SQL runner's `sh -c <script>`) now
# runs it here: the container's Secrets are resolved from moto's Secrets
# Manager (the whole secret, or one JSON key of it as ECS's
# <arn>:<key>:<stage>:<version> valueFrom says) into the environment, with
# its Environment; the command runs locally in a background thread (psql is
# on this machine, and the emulated databases' secrets name 127.0.0.1), its
# output goes line by line into moto's CloudWatch Logs under the awslogs
# group and <prefix>/<container>/<task id>, and the task shows RUNNING until
# the process ends, then STOPPED with the container's exit code.

import json as _json
import logging as _logging
import os as _os
import subprocess as _subprocess
import threading as _threading
import time as _time

from moto.ecs.models import EC2ContainerServiceBackend, Task
from moto.logs.models import logs_backends
from moto.secretsmanager.models import secretsmanager_backends

_log = _logging.getLogger(__name__)
_run_task = EC2ContainerServiceBackend.run_task
_advance = Task.advance

# A runaway command is killed after this long.
_TASK_LIMIT_SECONDS = 900


def _secret_value(account_id: str, region: str, value_from: str) -> str:
    sm = secretsmanager_backends[account_id][region]
    parts = value_from.split(":")
    # arn:aws:secretsmanager:region:account:secret:name[:key:stage:version]
    arn, key, stage, version = ":".join(parts[:7]), "", "", ""
    if len(parts) > 7:
        key, stage, version = (parts[7:] + ["", "", ""])[:3]
    out = sm.get_secret_value(arn, version or None, stage or None)
    text = out["SecretString"]
    if not key:
        return text
    value = _json.loads(text)[key]
    return value if isinstance(value, str) else _json.dumps(value)


def _command(backend: EC2ContainerServiceBackend, task: Task) -> tuple[dict, list[str] | None]:
    definition = backend.describe_task_definition(task.task_definition_arn).container_definitions[0]
    command = definition.get("command")
    for o in (task.overrides or {}).get("containerOverrides", []) or []:
        if o.get("name") == definition.get("name") and o.get("command"):
            command = o["command"]
    return definition, command


def _run(backend: EC2ContainerServiceBackend, task: Task, definition: dict, command: list[str]) -> None:
    account_id, region = backend.account_id, backend.region_name
    container = task.containers[0]
    logs = logs_backends[account_id][region]
    options = (definition.get("logConfiguration") or {}).get("options") or {}
    group = options.get("awslogs-group")
    stream = f"{options.get('awslogs-stream-prefix', '')}/{definition.get('name')}/{task.id}"
    if group:
        try:
            if group not in logs.groups:
                logs.create_log_group(group, {})
            logs.create_log_stream(group, stream)
        except Exception:  # noqa: BLE001 (a stream made already)
            pass

    def emit(lines: list[str]) -> None:
        if not group or not lines:
            return
        now = int(_time.time() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])

    exit_code, reason = 1, ""
    try:
        env = dict(_os.environ)
        for kv in definition.get("environment") or []:
            env[kv["name"]] = kv["value"]
        for s in definition.get("secrets") or []:
            env[s["name"]] = _secret_value(account_id, region, s["valueFrom"])
        proc = _subprocess.Popen(command, env=env, stdout=_subprocess.PIPE, stderr=_subprocess.STDOUT, text=True, bufsize=1)
        killer = _threading.Timer(_TASK_LIMIT_SECONDS, proc.kill)
        killer.start()
        try:
            for line in proc.stdout:  # type: ignore[union-attr]
                emit([line.rstrip("\n")])
            exit_code = proc.wait()
        finally:
            killer.cancel()
        reason = "Essential container in task exited"
    except Exception as exc:  # noqa: BLE001 (reported as the task's stop reason)
        _log.exception("runner task %s", task.id)
        reason, exit_code = f"CannotStartContainerError: {exc}", None
        emit([f"emulator: {exc}"])
    container.exitCode = exit_code
    container.last_status = "STOPPED"
    task.stopped_reason = reason
    task.stop_code = "EssentialContainerExited"
    task.desired_status = "STOPPED"
    task.status = "STOPPED"
    task._tapstack_running = False


def _run_task_running(self: EC2ContainerServiceBackend, *args, **kwargs):
    tasks = _run_task(self, *args, **kwargs)
    for task in tasks:
        for c in task.containers:
            # The API's Container has cpu and memory as strings, the task's
            # ARN, and no exit code before it exits (moto: 0, 0 and the task
            # definition's ARN).
            c.cpu = None if c.cpu is None else str(c.cpu)
            c.memory = None if c.memory is None else str(c.memory)
            c.task_arn = task.task_arn
            c.exitCode = None
        definition, command = _command(self, task)
        if not command:
            continue
        task._tapstack_running = True
        task.status = "RUNNING"
        task.containers[0].last_status = "RUNNING"
        _threading.Thread(target=_run, args=(self, task, definition, command), daemon=True, name=f"ecs-task-{task.id}").start()
    return tasks


def _advance_unless_running(self: Task) -> None:
    # The thread that runs the command sets the state; moto's own
    # progression would show the task stopped while it runs.
    if getattr(self, "_tapstack_running", None) is not None:
        return
    _advance(self)


# Gap: moto's awsvpc task reads its ENI's private DNS name, which moto sets
# only in a VPC it knows to have DNS hostnames (its default VPC), so RunTask
# in a stack's own VPC failed with an AttributeError. Without one the name
# is empty, as DescribeTasks then shows it.
from moto.ec2.models.elastic_network_interfaces import NetworkInterface as _NetworkInterface

if not hasattr(_NetworkInterface, "private_dns_name"):
    _NetworkInterface.private_dns_name = ""  # type: ignore[attr-defined]

EC2ContainerServiceBackend.run_task = _run_task_running  # type: ignore[method-assign]
Task.advance = _advance_unless_running  # type: ignore[method-assign]


# Gap: moto sums the containers' cpu and memory for every RunTask and fails
# on a container without its own (Fargate task definitions set them on the
# task): missing ones count as 0.
_requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements


def _requirements_with_task_level_sizes(task_definition: Any) -> Any:
    saved = task_definition.container_definitions
    task_definition.container_definitions = [
        {**c, "cpu": c.get("cpu") or 0, "memory": c.get("memory") or 0} for c in saved
    ]
    try:
        return _requirements(task_definition)
    finally:
        task_definition.container_definitions = saved


EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(_requirements_with_task_level_sizes)  # type: ignore[method-assign,assignment]
