"""AWS::SNS::Subscription for moto's CloudFormation.

Gap: moto's CloudFormation only knows subscriptions inlined in AWS::SNS::Topic;
the stand-alone Subscription type (the alarm e-mail) is skipped. This model
subscribes through moto's SNS backend; Ref returns the subscription ARN.
"""

from __future__ import annotations

import json

from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends

from ._base import Resource

# Subscription properties that SetSubscriptionAttributes accepts.
_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
)


def _text(value):
    """Attribute values are strings in the SNS API, JSON or booleans in templates."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _backend(account_id, region_name):
    return sns_backends[account_id][region_name]


class Subscription(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = {"Arn": lambda r: r.physical_resource_id}

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        backend = _backend(account_id, region_name)
        sub = backend.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        for key in _ATTRIBUTES:
            if key in props:
                backend.set_subscription_attributes(sub.arn, key, _text(props[key]))
        return cls(account_id, region_name, sub.arn, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        _backend(account_id, region_name).unsubscribe(physical_id)
