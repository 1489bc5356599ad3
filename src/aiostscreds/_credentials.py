"""The credentials value."""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = ["Credentials"]


def _aware_utc(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError("expiration must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("expiration must be timezone-aware")
    return value.astimezone(dt.timezone.utc)


@attrs.frozen(repr=False)
class Credentials:
    """Temporary AWS credentials: a key pair, a session token and an expiry.

    ``repr()`` and ``str()`` show only the access key id and the expiration;
    the secret key and the session token never appear in them.

    Attributes:
        access_key_id: The access key id (``ASIA...``). Not a secret.
        secret_access_key: The secret key.
        session_token: The session token.
        expiration: When STS stops accepting these credentials, an aware UTC
            datetime. Naive datetimes are rejected.
        account_id: The AWS account the credentials belong to, when known.
        expires_at: ``expiration`` as epoch seconds (derived, not passed in).
    """

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: dt.datetime = attrs.field(converter=_aware_utc)
    account_id: str | None = None
    # Epoch seconds of ``expiration``, computed once so time checks are float compares.
    expires_at: float = attrs.field(init=False, eq=False)

    @expires_at.default
    def _expires_at(self) -> float:
        return self.expiration.timestamp()

    def __repr__(self) -> str:
        account = f", account_id={self.account_id!r}" if self.account_id else ""
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, "
            f"expiration={self.expiration.isoformat()!r}{account})"
        )

    __str__ = __repr__
