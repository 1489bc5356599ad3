"""Recording what aiobotocore clients put on the wire, through botocore's event hooks."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")


class WireLog:
    """A ``before-send`` hook that records each request's form fields and signing key."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.access_keys: list[str] = []

    def attach(self, client: Any, event: str = "before-send") -> WireLog:
        client.meta.events.register(event, self)
        return self

    def __call__(self, request: Any, **kwargs: Any) -> None:
        body = request.body or b""
        if isinstance(body, bytes):
            body = body.decode()
        fields = {key: values[0] for key, values in parse_qs(str(body)).items()}
        self.requests.append(fields)
        authorization = request.headers.get("Authorization", b"")
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        match = _CREDENTIAL.search(authorization)
        if match:
            self.access_keys.append(match.group(1))

    def actions(self, action: str) -> list[dict[str, str]]:
        return [fields for fields in self.requests if fields.get("Action") == action]
