"""AWS::SNS::Subscription for moto's CloudFormation.

Gap: moto's CloudFormation only knows subscriptions inlined in AWS::SNS::Topic;
the stand-alone Subscription type (the alarm e-mail) is skipped. This model
subscribes through moto's SNS backend; Ref returns the subscription ARN.

Gap: moto's AWS::SNS::Topic model hands every template property to
CreateTopic as an attribute, so Tags became a stray attribute and
ListTagsForResource said [] for the stack's alarm topic. Tags now go to the
topic's tags and only real topic attributes are set. moto also updated a topic
by deleting and re-creating it, which dropped its subscriptions (the alarm
e-mail) on every tag change; as in AWS, a topic is now updated in place unless
TopicName or FifoTopic changes.
"""

from __future__ import annotations

import json

from moto.core.common_models import CloudFormationModel
from moto.core.utils import camelcase_to_underscores
from moto.sns.models import Topic, sns_backends

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


# Topic properties that are CreateTopic/SetTopicAttributes attributes.
_TOPIC_ATTRIBUTES = (
    "DisplayName",
    "KmsMasterKeyId",
    "FifoTopic",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
    "DeliveryStatusLogging",
)


def _topic_attributes(props):
    attributes = {k: _text(props[k]) for k in _TOPIC_ATTRIBUTES if k in props}
    if attributes.get("FifoTopic") != "true":  # moto takes any value as FIFO
        attributes.pop("FifoTopic", None)
    return attributes


def _topic_tags(props):
    return {t["Key"]: t["Value"] for t in props.get("Tags") or []}


def _create_topic(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json.get("Properties") or {}
    backend = _backend(account_id, region_name)
    topic = backend.create_topic(resource_name, _topic_attributes(props), _topic_tags(props))
    for subscription in props.get("Subscription", []):
        backend.subscribe(topic.arn, subscription["Endpoint"], subscription["Protocol"])
    topic.cfn_properties = dict(props)
    return topic


def _update_topic(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json.get("Properties") or {}
    previous = getattr(original_resource, "cfn_properties", {})
    if new_resource_name != original_resource.name or props.get("FifoTopic") != previous.get("FifoTopic"):
        original_resource.delete(account_id, region_name)
        return _create_topic(cls, new_resource_name, cloudformation_json, account_id, region_name)
    for key, value in _topic_attributes(props).items():
        setattr(original_resource, camelcase_to_underscores(key), value)
    original_resource._tags = _topic_tags(props)
    original_resource.cfn_properties = dict(props)
    return original_resource


Topic.create_from_cloudformation_json = classmethod(_create_topic)  # type: ignore[method-assign]
Topic.update_from_cloudformation_json = classmethod(_update_topic)  # type: ignore[method-assign]
