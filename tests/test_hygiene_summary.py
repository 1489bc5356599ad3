"""The secret-hygiene summary line says plainly what it counts and what the verdict is."""

from __future__ import annotations

from .hygiene import Hygiene, WorkerTotals, summary, to_worker_output, vacuity


def test_summary_says_the_library_is_clean_and_third_party_counts_are_information() -> None:
    hygiene = Hygiene()
    hygiene.note_secret("a-secret-key-of-length")
    hygiene.note_text("refreshed credentials for a role", "log record aiostscreds:INFO")
    hygiene.third_party_records = 10
    hygiene.third_party_hits["botocore.endpoint"] = 4

    verdict, third_party = summary(hygiene, problems=0)

    assert verdict.startswith("secret hygiene: the library's own output is clean")
    assert "1 secrets" in verdict
    assert "for information only" in third_party
    assert "third-party log records" in third_party
    assert "botocore.endpoint 4, of 10 third-party records" in third_party


def test_summary_says_failed_when_the_library_leaked() -> None:
    hygiene = Hygiene()
    lines = list(summary(hygiene, problems=2))
    assert lines == [
        "secret hygiene FAILED: 2 of the library's own texts hold a secret "
        "(0 log records of the library; 0 log records, exception messages, reprs and warnings; "
        "0 secrets and 0 MFA codes checked)"
    ]


def test_refreshes_without_a_single_library_record_fail_the_check_as_vacuous() -> None:
    hygiene = Hygiene()
    hygiene.refreshes = 5
    reasons = vacuity(hygiene)
    assert reasons and "not one of its log records was recorded" in reasons[0]
    (verdict,) = summary(hygiene, problems=0, vacuous=reasons)
    assert verdict.startswith("secret hygiene FAILED: it saw too little to judge")
    hygiene.own_records = 1
    assert vacuity(hygiene) == []


def test_a_missing_hook_fails_the_check_as_vacuous() -> None:
    hygiene = Hygiene()
    hygiene.missing_hooks.append("CredentialsCache._record_success")
    assert vacuity(hygiene) == [
        "the hook CredentialsCache._record_success is gone: update tests/hygiene.py"
    ]


def test_the_controller_adds_up_its_workers_figures() -> None:
    totals = WorkerTotals()
    for n in (1, 2):
        worker = Hygiene()
        worker.own_records = worker.refreshes = n
        worker.note_secret(f"a-secret-key-of-worker-{n}")
        assert totals.add(to_worker_output(worker, [f"problem {n}"])) == [f"problem {n}"]
    assert (totals.workers, totals.own_records, totals.refreshes) == (2, 3, 3)
    assert totals.sizes()["secrets"] == 2
    assert vacuity(totals) == []
    verdict = next(summary(totals, problems=0))
    assert "3 log records of the library" in verdict
    assert "summed over 2 pytest-xdist workers" in verdict
