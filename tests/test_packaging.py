"""What the package declares it needs at run time."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent


def runtime_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = (Requirement(text) for text in project["dependencies"])
    return {requirement.name.lower(): requirement for requirement in requirements}


def test_aiohttp_which_serve_imports_is_a_declared_dependency_aiobotocore_accepts() -> None:
    server = ast.parse((ROOT / "src" / "aiostscreds" / "cli" / "_server.py").read_text())
    imported = {
        node.module.split(".")[0]
        for node in ast.walk(server)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert "aiohttp" in imported and "aiohttp" not in sys.stdlib_module_names
    declared = runtime_requirements()
    assert "aiohttp" in declared, "serve imports aiohttp: declare it, not only through aiobotocore"
    ours = declared["aiohttp"].specifier
    theirs = next(
        Requirement(text).specifier
        for text in metadata.requires("aiobotocore") or []
        if Requirement(text).name.lower() == "aiohttp" and Requirement(text).marker is None
    )
    installed = metadata.version("aiohttp")
    # A range that the aiohttp aiobotocore accepts falls in: pip resolves both at once.
    assert ours.contains(installed) and theirs.contains(installed)
