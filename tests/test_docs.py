"""The documentation site: every public name documented, and the refresh picture drawn from the code."""

from __future__ import annotations

import importlib
import importlib.util
import random
import re
import sys
from itertools import pairwise
from pathlib import Path
from types import ModuleType

import pytest

from aiostscreds import RefreshPolicy, _policy

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_AUTODOC = re.compile(r"^\.\. auto(?:class|function|exception|data)::\s+(\w+)", re.MULTILINE)


def load_extension(name: str) -> ModuleType:
    """docs/_ext/<name>.py, one of the Sphinx extensions that draw the pictures."""
    path = DOCS / "_ext" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def load_timeline() -> ModuleType:
    """docs/_ext/refresh_timeline.py, the Sphinx extension that draws the refresh picture."""
    return load_extension("refresh_timeline")


_CURRENT_MODULE = re.compile(r"^\.\. currentmodule::\s+([\w.]+)", re.MULTILINE)


@pytest.mark.parametrize("module_name", ["aiostscreds", "aiostscreds.instrumentation"])
def test_every_public_name_is_in_the_api_reference(module_name: str) -> None:
    # docs/api.md documents each public module after its `.. currentmodule::`.
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    parts = _CURRENT_MODULE.split(text)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    documented = _AUTODOC.findall(sections[module_name])
    public = importlib.import_module(module_name).__all__
    missing = sorted(set(public) - set(documented))
    assert not missing, f"add these to docs/api.md: {missing}"
    assert len(documented) == len(set(documented)), "a name is documented twice"
    unknown = sorted(set(documented) - set(public))
    assert not unknown, f"docs/api.md documents names that are not public: {unknown}"


def test_readme_links_point_at_files_of_the_checkout() -> None:
    # The package is installed from a checkout, and no docs site is live: the README links to
    # the pages in the repository, relative to it, and every one of them must exist.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    relative = re.findall(r"\]\((?!https?://|#)([^)#]+)(?:#[^)]*)?\)", readme)
    assert relative, "the README links to no page of the docs"
    missing = [link for link in relative if not (ROOT / link).exists()]
    assert missing == [], f"README.md links to files that do not exist: {missing}"


def test_no_links_to_sites_that_are_not_live() -> None:
    # Neither a docs site nor a public repository exists yet.
    not_live = re.compile(r"aiostscreds\.readthedocs\.io|github\.com/aiostscreds")
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml"]
    pages += sorted(DOCS.rglob("*.md"))
    found = [
        str(page.relative_to(ROOT))
        for page in pages
        if "_build" not in page.parts and not_live.search(page.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize("lifetime", [900.0, 3600.0, 43200.0])
def test_timeline_windows_are_the_policys(lifetime: float) -> None:
    timeline = load_timeline().timeline(RefreshPolicy(), lifetime)
    assert timeline.advisory_starts == lifetime - _policy.advisory_seconds(RefreshPolicy(), lifetime)
    assert timeline.expiry_starts == lifetime - 60
    assert timeline.attempts[0] == timeline.advisory_starts


def test_timeline_reads_the_library_not_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Change the library's arithmetic, and the picture's figures change with it.
    monkeypatch.setattr(_policy, "advisory_seconds", lambda policy, lifetime: 123.0)
    monkeypatch.setattr(_policy, "backoff_seconds", lambda *args, **kwargs: 50.0)
    timeline = load_timeline().timeline(RefreshPolicy(), 3600.0)
    assert timeline.advisory_starts == 3600.0 - 123.0
    assert [round(b - a, 6) for a, b in pairwise(timeline.attempts)] == [50.0, 50.0]


@pytest.mark.parametrize("backoff", [None, (300, 600)])
def test_timeline_retries_follow_the_longest_backoffs(backoff: tuple[int, int] | None) -> None:
    policy = RefreshPolicy(backoff=backoff)
    timeline = load_timeline().timeline(policy, 900.0)

    class Longest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    for failures, (now, then) in enumerate(pairwise(timeline.attempts), 1):
        expected = _policy.backoff_seconds(
            policy, Longest(), now=now, expires_at=900.0, failures=failures
        )
        assert then - now == pytest.approx(expected)
    assert timeline.attempts[-1] < 900.0


def test_generate_writes_the_picture_and_its_table(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture, table = load_timeline().generate(tmp_path)
    assert picture.read_bytes().startswith(b"\x89PNG")
    rows = table.read_text(encoding="utf-8").splitlines()
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["15-minute", "1-hour", "12-hour"]
    # The page shows what the extension writes.
    page = (DOCS / "refresh.md").read_text(encoding="utf-8")
    assert f"_generated/{picture.name}" in page and f"_generated/{table.name}" in page


def test_observability_picture_is_drawn_from_a_real_run_of_the_demo(tmp_path: Path) -> None:
    picture = load_extension("observability_picture")
    result = picture.run()
    report = result.report
    expected = 1 + picture.FORCED_REFRESHES + picture.REJECTIONS
    assert report["failed"] == 0
    assert report["sts_calls"] == report["prompts"] == expected
    # Every refresh the picture draws is one the Prometheus hook counted in that run.
    seen = picture.refreshes(result)
    assert len(seen) == expected
    assert all(callers >= 1 for _, callers in seen)
    picture.draw(result, tmp_path / "observability.png")
    assert (tmp_path / "observability.png").stat().st_size > 10_000


def _module_table() -> list[str]:
    """The modules the "Layers" table of docs/design.md names, as written there."""
    text = (DOCS / "design.md").read_text()
    table = text.split("## Layers", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([\w/.]+)` \|", table, re.MULTILINE)


def test_design_module_table_names_every_module_of_the_package_and_no_other() -> None:
    package = ROOT / "src" / "aiostscreds"
    named = set(_module_table())
    missing, gone = [], []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.name in {"__init__.py", "__main__.py"}:
            continue
        # A sub-package may be one row (``cli/``) or a row per module.
        if str(relative) not in named and f"{relative.parts[0]}/" not in named:
            missing.append(str(relative))
    for name in named:
        if not (package / name).exists():
            gone.append(name)
    assert not missing, f"docs/design.md's module table leaves out {missing}"
    assert not gone, f"docs/design.md's module table names what does not exist: {gone}"


def test_a_module_over_400_lines_says_why_it_is_one_idea() -> None:
    import ast

    unexplained = []
    for path in sorted((ROOT / "src" / "aiostscreds").rglob("*.py")):
        text = path.read_text()
        if text.count("\n") <= 400:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if "One idea, though over 400 lines" not in docstring:
            unexplained.append(path.name)
    assert not unexplained, f"over 400 lines without saying why they are one idea: {unexplained}"
