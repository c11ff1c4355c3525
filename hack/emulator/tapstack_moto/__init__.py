"""moto extensions that let the complete TapStack deploy through moto's CloudFormation.

``install()`` must run before moto's CloudFormation first builds its model map
(the first CreateStack); serve.py calls it before serving.
"""

from __future__ import annotations

from typing import Callable

_installed = False


def install() -> list[str]:
    """Register the models and fixes; returns the CloudFormation types added."""
    global _installed
    # moto's parser must be imported first: our models of the types moto already
    # has (HostedZone, RecordSet) override its ones because they are declared later.
    from moto.cloudformation import parsing

    from . import (  # noqa: F401  (imported for their registrations)
        applicationautoscaling,
        cloudformation,
        cloudwatch,
        dms,
        ec2,
        ecs,
        elbv2,
        iam,
        rds,
        route53,
        s3,
        secretsmanager,
        sns,
        stacks,
    )
    from ._base import Resource

    if not _installed:
        parsing.get_model_list.cache_clear()
        parsing.get_model_map.cache_clear()
        parsing.get_name_type_map.cache_clear()
        _installed = True
    return sorted(cls.CFN_TYPE for cls in _subclasses(Resource))


def _subclasses(cls: type) -> list[type]:
    return [c for c in cls.__subclasses__() if getattr(c, "CFN_TYPE", "")]


def start_background() -> Callable[[], None]:
    """Start what AWS does on its own between requests (DMS publishing its
    CloudWatch metrics, sampling and validating running tasks) in daemon
    threads; the returned function stops them and the database servers."""
    from . import dms, pgserver

    stop_dms = dms.start_publisher()

    def stop() -> None:
        stop_dms()
        pgserver.stop_all()

    return stop
