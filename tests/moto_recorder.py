"""Counting requests at the server: moto's own request recorder, over its HTTP API."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs


class ServerRecording:
    """The requests moto's server received while recording was on."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def _call(self, action: str, method: str = "POST") -> str:
        url = f"{self.endpoint}/moto-api/recorder/{action}"
        data = b"" if method == "POST" else None
        request = urllib.request.Request(url, method=method, data=data)
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())

    def requests(self) -> list[dict[str, str]]:
        """Each recorded request's form fields (STS's query protocol), plus ``_signing_key``."""
        fields = []
        for line in self._call("download-recording", "GET").splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode(errors="replace")
            request = {key: values[0] for key, values in parse_qs(body).items()}
            authorization = entry.get("headers", {}).get("Authorization", "")
            if "Credential=" in authorization:
                request["_signing_key"] = authorization.split("Credential=")[1].split("/")[0]
            fields.append(request)
        return fields

    def assume_role_calls(self, role_arn: str | None = None) -> int:
        return sum(
            1
            for request in self.requests()
            if request.get("Action") == "AssumeRole"
            and (role_arn is None or request.get("RoleArn") == role_arn)
        )


@contextmanager
def recording(endpoint: str) -> Iterator[ServerRecording]:
    """Record what the moto server at ``endpoint`` receives inside the block."""
    recorder = ServerRecording(endpoint)
    recorder._call("reset-recording")
    recorder._call("start-recording")
    try:
        yield recorder
    finally:
        recorder._call("stop-recording")
