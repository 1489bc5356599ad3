"""``aiostscreds export``: credentials as shell ``export`` lines or JSON."""

from __future__ import annotations

import argparse
import json
import shlex

from ._credential_process import obtain, process_document

__all__ = ["run_export"]


def run_export(args: argparse.Namespace) -> int:
    """Print the credentials in ``args.format`` on stdout."""
    document = process_document(obtain(args))
    if args.format == "process":
        print(json.dumps(document))
    elif args.format == "json":
        del document["Version"]
        print(json.dumps(document))
    else:
        for name, value in (
            ("AWS_ACCESS_KEY_ID", document["AccessKeyId"]),
            ("AWS_SECRET_ACCESS_KEY", document["SecretAccessKey"]),
            ("AWS_SESSION_TOKEN", document["SessionToken"]),
            ("AWS_CREDENTIAL_EXPIRATION", document["Expiration"]),
        ):
            print(f"export {name}={shlex.quote(value)}")
    return 0
