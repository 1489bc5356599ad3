"""The secret-hygiene summary line says plainly what it counts and what the verdict is."""

from __future__ import annotations

from .hygiene import Hygiene, summary


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
    assert "third-party DEBUG log records" in third_party
    assert "botocore.endpoint 4, of 10 third-party records" in third_party


def test_summary_says_failed_when_the_library_leaked() -> None:
    hygiene = Hygiene()
    lines = list(summary(hygiene, problems=2))
    assert lines == [
        "secret hygiene FAILED: 2 of the library's own texts hold a secret "
        "(0 log records, exception messages, reprs and warnings; 0 secrets and 0 MFA codes checked)"
    ]
