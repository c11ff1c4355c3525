"""Stack deletion for moto's ECS models.

Gap: moto's ECS Cluster, Service and TaskDefinition models cannot be deleted by
CloudFormation, so DELETE_COMPLETE left an ACTIVE cluster and service behind.
Deleting goes through moto's own API calls: the service and the cluster become
INACTIVE and the task definition revision is deregistered, as in AWS.
"""

from __future__ import annotations

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
