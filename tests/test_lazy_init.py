"""The package imports its public names on first use, so the command's warm path stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import aiostscreds


def test_every_public_name_resolves_and_is_listed_by_dir() -> None:
    for name in aiostscreds.__all__:
        assert getattr(aiostscreds, name) is not None
        assert name in dir(aiostscreds)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aiostscreds.nope  # noqa: B018


def test_importing_the_package_imports_neither_aiobotocore_nor_typing() -> None:
    code = (
        "import sys, aiostscreds\n"
        "print(sorted(m for m in ('aiobotocore', 'aiohttp', 'anyio', 'attrs', 'typing') "
        "if m in sys.modules))\n"
        "from aiostscreds import AssumeRoleProvider\n"
        "print('aiobotocore' in sys.modules or 'botocore' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["[]", "True"]
