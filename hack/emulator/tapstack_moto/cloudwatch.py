"""AWS::CloudWatch::Alarm for moto's CloudFormation.

Gap: moto's CloudFormation skips Alarm, so the DMS-lag, DB-CPU, ECS and ALB
alarms never exist (DescribeAlarms is empty) and GetAtt Arn breaks the stack.
This model calls moto's PutMetricAlarm; Ref returns the alarm name, GetAtt Arn
the ARN.

Gap: moto's GetMetricData cuts the periods from StartTime as given, so the
timestamps of its datapoints move with every read (a read at 12:07:31 returns a
12:06:31 datapoint, one at 12:07:45 a 12:06:45 one) and a reader that counts
distinct datapoints counts one per read. CloudWatch rounds StartTime down (to
the minute for a period that is a multiple of 60, the case for every metric read
here): the same datapoint keeps its timestamp.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from moto.cloudwatch.models import (
    CloudWatchBackend,
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.core.common_models import CloudFormationModel

from ._base import Resource, tags_as_list


def _backend(account_id: str, region_name: str) -> Any:
    return cloudwatch_backends[account_id][region_name]


def _queries(metrics: list[dict[str, Any]] | None) -> list[MetricDataQuery] | None:
    """CloudFormation's Metrics list -> moto's objects (as its PutMetricAlarm does)."""
    if not metrics:
        return None
    queries = []
    for m in metrics:
        stat = m.get("MetricStat")
        metric_stat = None
        if stat:
            metric = stat["Metric"]
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=metric["MetricName"],
                    namespace=metric.get("Namespace"),
                    dimensions=[
                        Dimension(d["Name"], d["Value"])
                        for d in metric.get("Dimensions", [])
                    ],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=m.get("Id"),
                label=m.get("Label"),
                period=m.get("Period"),
                return_data=m.get("ReturnData"),
                expression=m.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class Alarm(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = {"Arn": lambda r: r.arn}

    @property
    def arn(self) -> str:
        return _backend(self.account_id, self.region_name).alarms[self.name].alarm_arn

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        threshold = props.get("Threshold")
        _backend(account_id, region_name).put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            metric_data_queries=_queries(props.get("Metrics")),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            period=props.get("Period"),
            threshold=float(threshold) if threshold is not None else None,
            statistic=props.get("Statistic"),
            extended_statistic=props.get("ExtendedStatistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            actions_enabled=props.get("ActionsEnabled", True),
            treat_missing_data=props.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=props.get(
                "EvaluateLowSampleCountPercentile"
            ),
            threshold_metric_id=props.get("ThresholdMetricId"),
            rule=None,
            tags=tags_as_list(props.get("Tags")),
        )
        return cls(account_id, region_name, name, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        _backend(account_id, region_name).delete_alarms([physical_id])

    def _update_in_place(self, props):
        if props.get("AlarmName") != self.properties.get("AlarmName"):
            return False
        # PutMetricAlarm on an existing name overwrites it, as in AWS.
        self._create(self.name, props, self.account_id, self.region_name)
        return True


_original_get_metric_data = CloudWatchBackend.get_metric_data


def _get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime, *args: Any, **kwargs: Any) -> Any:
    periods = [int(q["MetricStat"].get("Period") or 0) for q in queries if "MetricStat" in q]
    if periods and all(p and p % 60 == 0 for p in periods):
        start_time = start_time.replace(second=0, microsecond=0)
    return _original_get_metric_data(self, queries, start_time, end_time, *args, **kwargs)


CloudWatchBackend.get_metric_data = _get_metric_data  # type: ignore[method-assign]
