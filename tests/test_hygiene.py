"""The secret-hygiene check itself: it finds leaks, ignores look-alikes, and sees everything."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from aiostscreds import Credentials, RefreshError

from .hygiene import HYGIENE, Hygiene


def test_a_leaked_secret_or_code_is_found_and_never_repeated() -> None:
    hygiene = Hygiene()
    hygiene.note_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
    hygiene.note_code("424242")
    hygiene.note_text("signed with wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "log")
    hygiene.note_text("TokenCode=424242 sent", "exception")
    hygiene.note_text("code:424242", "repr")
    problems = hygiene.violations()
    assert len(problems) == 3
    assert all("wJalr" not in problem and "424242" not in problem for problem in problems)


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws:iam::424242424242:role/r",  # inside a longer number
        "expires 2027-01-15T08:00:00.424242+00:00",  # a timestamp's fraction
        "took 1424242 ms",
    ],
)
def test_numbers_that_merely_contain_a_code_are_not_leaks(text: str) -> None:
    hygiene = Hygiene()
    hygiene.note_code("424242")
    hygiene.note_text(text, "log")
    assert hygiene.violations() == []


def test_toy_secrets_and_non_codes_are_not_collected() -> None:
    hygiene = Hygiene()
    hygiene.note_secret("s")
    hygiene.note_code("12345")
    hygiene.note_code("abcdef")
    hygiene.note_code(" 123456\n")
    assert hygiene.secrets == set()
    assert hygiene.codes == {"123456"}


def test_the_library_is_recorded_at_debug_while_caplog_sees_what_it_always_saw(
    caplog: pytest.LogCaptureFixture,
) -> None:
    marker = "hygiene-debug-probe-7f3a"
    logging.getLogger("aiostscreds.probe").debug(marker)
    assert marker in HYGIENE.texts  # recorded, at DEBUG
    assert marker not in caplog.text  # the tree's own levels are untouched
    with caplog.at_level(logging.DEBUG, logger="aiostscreds"):
        logging.getLogger("aiostscreds.probe").debug(marker + "-2")
    assert marker + "-2" in caplog.text


def test_credentials_and_library_errors_are_collected_as_they_are_made() -> None:
    credentials = Credentials(
        access_key_id="ASIAHYGIENEPROBE0001",
        secret_access_key="hygiene-probe-secret-key",
        session_token="hygiene-probe-session-token",
        expiration=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
    )
    assert credentials.secret_access_key in HYGIENE.secrets
    assert credentials.session_token in HYGIENE.secrets
    assert repr(credentials) in HYGIENE.texts
    error = RefreshError("hygiene probe failure", recoverable=True)
    assert str(error) in HYGIENE.texts


def test_the_library_is_recorded_at_debug_and_third_parties_keep_their_levels() -> None:
    # Every record of the library is made; botocore's and moto's DEBUG records are not
    # (making them cost a fifth of the suite's time).
    assert logging.getLogger("aiostscreds.probe").isEnabledFor(logging.DEBUG)
    for name in ("botocore", "aiobotocore", "moto", "werkzeug"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG)


def test_the_library_is_recorded_even_where_a_test_raises_its_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    marker = "hygiene-debug-probe-under-warning-5c1e"
    with caplog.at_level(logging.WARNING, logger="aiostscreds"):
        logging.getLogger("aiostscreds.probe").debug(marker)
    assert marker in HYGIENE.texts
    assert marker not in caplog.text
