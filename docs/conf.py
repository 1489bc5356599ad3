"""Sphinx configuration of the aiostscreds documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))  # the local extensions that draw pictures
sys.path.insert(0, str(DOCS.parent / "src"))  # document this checkout, installed or not

import aiostscreds  # noqa: E402

project = "aiostscreds"
author = "aiostscreds developers"
copyright = "aiostscreds developers"
release = aiostscreds.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "refresh_timeline",
    "observability_picture",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "_ext", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Google-style docstrings only.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True}

html_theme = "furo"
html_title = f"aiostscreds {release}"
html_static_path: list[str] = []


def _alias_without_docstring(app, what, name, obj, options, lines):  # type: ignore[no-untyped-def]
    # `.. autodata::` of a function is an alias (stdin_token_provider): the directive's own
    # text says what it is an alias of, instead of repeating the function's docstring.
    if what == "data" and callable(obj):
        lines.clear()


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("autodoc-process-docstring", _alias_without_docstring)
