"""ARNs: the one parser, for role ARNs and the assumed-role ARNs STS answers with.

Standard library only: the command's warm path imports it.
"""

from __future__ import annotations

__all__ = ["Arn", "parse_arn", "role_account", "role_identity", "same_role"]


class Arn:
    """The six fields of ``arn:partition:service:region:account:resource``."""

    __slots__ = ("account", "partition", "region", "resource", "service")

    def __init__(self, partition: str, service: str, region: str, account: str, resource: str):
        self.partition = partition
        self.service = service
        self.region = region
        self.account = account
        self.resource = resource

    def __repr__(self) -> str:
        return (
            f"Arn({self.partition!r}, {self.service!r}, {self.region!r}, "
            f"{self.account!r}, {self.resource!r})"
        )


def parse_arn(value: object) -> Arn | None:
    """The fields of ``value`` if it has the shape of an ARN, else None. Never raises."""
    if not isinstance(value, str):
        return None
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return Arn(*parts[1:])


def role_identity(value: object) -> tuple[str, str, str] | None:
    """(partition, account, role name) of a role ARN or an assumed-role ARN; else None.

    ``arn:P:iam::A:role/PATH/NAME`` and ``arn:P:sts::A:assumed-role/NAME/SESSION``
    name the same role when these three agree (an assumed-role ARN has no path).
    """
    arn = parse_arn(value)
    if arn is None:
        return None
    kind, _, rest = arn.resource.partition("/")
    if kind == "role" and arn.service == "iam":
        name = rest.rsplit("/", 1)[-1]
    elif kind == "assumed-role" and arn.service == "sts" and "/" in rest:
        name = rest.split("/", 1)[0]
    else:
        return None
    return (arn.partition, arn.account, name) if name else None


def same_role(assumed_role_arn: object, role_arn: str) -> bool:
    """Whether ``arn:P:sts::A:assumed-role/NAME/SESSION`` is a session of the role.

    The role is ``arn:P:iam::A:role/PATH/NAME``: same partition, account and name.
    """
    arn = parse_arn(assumed_role_arn)
    if arn is None or not arn.resource.startswith("assumed-role/"):
        return False
    theirs = role_identity(assumed_role_arn)
    return theirs is not None and theirs == role_identity(role_arn)


def role_account(value: object) -> str | None:
    """The account id in a role ARN or an assumed-role ARN, if it is one."""
    identity = role_identity(value)
    return identity[1] if identity is not None and identity[1] else None
