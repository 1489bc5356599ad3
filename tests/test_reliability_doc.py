"""docs/reliability.md is checked by the test run, never written by it."""

from __future__ import annotations

import re

import pytest

from . import reliability_doc
from .test_fault_matrix import VOLATILE
from .test_soak import VOLATILE as SOAK_VOLATILE

pytestmark = pytest.mark.filterwarnings("error")


def test_a_section_the_run_measured_alike_passes_whatever_the_random_draws() -> None:
    stated = reliability_doc.section("fault-matrix")
    assert stated is not None and "then a backoff of 0." in stated
    redrawn = stated.replace("then a backoff of 0.", "then a backoff of 1.")
    assert redrawn != stated
    assert reliability_doc.mismatch("fault-matrix", redrawn, VOLATILE) is None


def test_a_section_that_no_longer_holds_fails_and_names_the_command() -> None:
    stated = reliability_doc.section("fault-matrix")
    assert stated is not None and "| 400 Throttling | 3 |" in stated
    changed = stated.replace("| 400 Throttling | 3 |", "| 400 Throttling | 4 |")
    problem = reliability_doc.mismatch("fault-matrix", changed, VOLATILE)
    assert problem is not None
    assert "python -m tests.reliability_doc" in problem
    assert "+| 400 Throttling | 4 |" in problem


def test_checking_never_writes_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(reliability_doc.WRITE, raising=False)
    before = reliability_doc.DOC.read_bytes()
    stated = reliability_doc.section("soak")
    assert stated is not None
    other_real_time = re.sub(r"^\| real time \| [0-9.]+ s \|$", "| real time | 9999.9 s |", stated, flags=re.MULTILINE)
    assert other_real_time != stated
    reliability_doc.check_or_write("soak", other_real_time, SOAK_VOLATILE)
    with pytest.raises(pytest.fail.Exception, match="no longer states"):
        reliability_doc.check_or_write("soak", stated.replace("1,000 tasks", "999 tasks"), "x^")
    assert reliability_doc.DOC.read_bytes() == before
