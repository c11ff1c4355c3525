"""AWS::SecretsManager::Secret and ::SecretTargetAttachment for moto's CloudFormation.

Gap: moto's CloudFormation skips both types, so the generated database
credentials never exist and Ref/GetAtt on them break the stack. The Secret model
generates the password the way GenerateSecretString asks (moto's own
GetRandomPassword), the attachment writes the instance's connection fields into
the secret like AWS does. Deleting the stack deletes the secret without a
recovery window.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.rds.models import rds_backends
from moto.secretsmanager.models import secretsmanager_backends

from ._base import Resource, tags_as_list


def _backend(account_id: str, region_name: str) -> Any:
    return secretsmanager_backends[account_id][region_name]


def _generate(backend: Any, spec: dict[str, Any]) -> str:
    password = json.loads(
        backend.get_random_password(
            password_length=int(spec.get("PasswordLength", 32)),
            exclude_characters=spec.get("ExcludeCharacters", ""),
            exclude_numbers=bool(spec.get("ExcludeNumbers", False)),
            exclude_punctuation=bool(spec.get("ExcludePunctuation", False)),
            exclude_uppercase=bool(spec.get("ExcludeUppercase", False)),
            exclude_lowercase=bool(spec.get("ExcludeLowercase", False)),
            include_space=bool(spec.get("IncludeSpace", False)),
            require_each_included_type=bool(spec.get("RequireEachIncludedType", True)),
        )
    )["RandomPassword"]
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template is None or key is None:
        return password
    value = json.loads(template)
    value[key] = password
    return json.dumps(value)


def _secret_value(backend: Any, props: dict[str, Any]) -> str | None:
    if "GenerateSecretString" in props:
        return _generate(backend, props["GenerateSecretString"])
    return props.get("SecretString")


class Secret(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {"Id": lambda r: r.physical_resource_id}

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        backend = _backend(account_id, region_name)
        backend.create_secret(
            name=name,
            secret_string=_secret_value(backend, props),
            secret_binary=None,
            description=props.get("Description"),
            tags=tags_as_list(props.get("Tags")),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = backend.secrets[name].arn
        return cls(account_id, region_name, arn, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        backend = _backend(account_id, region_name)
        if physical_id in backend.secrets:
            backend.delete_secret(
                physical_id,
                recovery_window_in_days=None,
                force_delete_without_recovery=True,
            )

    def _update_in_place(self, props):
        if props.get("Name") != self.properties.get("Name"):
            return False
        backend = _backend(self.account_id, self.region_name)
        secret = backend.secrets[self.physical_resource_id]
        secret.description = props.get("Description")
        # A new value only when the template's value (or recipe) changed;
        # otherwise an attached secret keeps host/port.
        for key in ("SecretString", "GenerateSecretString"):
            if props.get(key) != self.properties.get(key):
                backend.put_secret_value(
                    self.physical_resource_id,
                    secret_string=_secret_value(backend, props),
                    secret_binary=None,
                    client_request_token=None,
                    version_stages=["AWSCURRENT"],
                )
                break
        return True


class SecretTargetAttachment(Resource, CloudFormationModel):
    CFN_TYPE = "AWS::SecretsManager::SecretTargetAttachment"
    # Ref returns the secret's ARN, like AWS.

    @classmethod
    def _create(cls, name, props, account_id, region_name):
        backend = _backend(account_id, region_name)
        secret = backend.secrets[props["SecretId"]]
        target_type = props.get("TargetType", "AWS::RDS::DBInstance")
        if target_type != "AWS::RDS::DBInstance":
            raise NotImplementedError(f"SecretTargetAttachment to {target_type}")
        db = rds_backends[account_id][region_name].describe_db_instances(
            props["TargetId"]
        )[0]
        current = backend.get_secret_value(secret.arn, None, "AWSCURRENT")
        value = json.loads(current.get("SecretString") or "{}")
        value.update(
            {
                "engine": db.engine,
                "host": db.address,
                "port": db.port,
                "dbInstanceIdentifier": db.db_instance_identifier,
            }
        )
        if db.db_name:
            value["dbname"] = db.db_name
        backend.put_secret_value(
            secret.arn,
            secret_string=json.dumps(value),
            secret_binary=None,
            client_request_token=None,
            version_stages=["AWSCURRENT"],
        )
        return cls(account_id, region_name, secret.arn, name, props)

    @classmethod
    def _delete(cls, physical_id, account_id, region_name):
        # Detaching leaves the secret's value as it is (as in AWS).
        return None

    def _update_in_place(self, props):
        return False
