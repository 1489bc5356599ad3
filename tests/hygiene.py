"""Secret hygiene over the whole test run.

Every secret the tests use is collected as it comes into being, every text the
library produces is recorded, and a session-scoped check, when the session
ends, fails the run if a secret appears in any of them.

Collected secrets:

- the secret key and session token of every :class:`Credentials` made (its
  ``__init__`` is wrapped), the source keys in the environment, the TOTP
  secrets given to :class:`TOTPTokenProvider`, and whatever the fault proxy
  relayed in credential responses (``note_secret``);
- every MFA code: static ``token_code`` arguments, every answer a token
  provider gave (six digits once stripped), every code handed to an STS call,
  and every TokenCode the fault proxy saw on the wire (``note_code``).

Recorded texts:

- every log record of the library's own loggers (``aiostscreds`` and below, and
  the tests' own), at DEBUG whatever level a test sets on them, with its
  formatted exception if any;
- the ``str`` and ``repr`` of every exception of the library when it is made;
- the ``repr`` of every Credentials, cache, provider and signer object when it
  is made and after each refresh;
- every warning pytest records.

Third-party loggers (botocore, moto, werkzeug, aiohttp...) are left at their
own levels: making every botocore and moto DEBUG record cost a fifth of the
suite's time. Whatever records of theirs are made anyway (a test that turns
them on, a WARNING) are counted, not asserted: botocore logs request
parameters (TokenCode included) and response bodies (secret keys included) at
DEBUG by design, which the library cannot prevent. See ``docs/reliability.md``.

The check never passes vacuously: a run in which the library refreshed
credentials but not one of its log records was recorded fails, as does a run
in which a hook it relies on is gone. Under pytest-xdist each worker records and
checks its own share and hands its figures to the controller, which sums them.

Secrets shorter than 8 characters (toy values such as ``"s"`` in unit tests)
are not checked. MFA codes are matched as whole numbers not preceded by ``.``,
so a code is not found inside a longer number or a timestamp.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_SIX_DIGITS = re.compile(r"[0-9]{6}", re.ASCII)
_MIN_SECRET = 8
_OWN_LOGGERS = ("aiostscreds", "tests", "root")
_MARKERS = ("SecretAccessKey", "SessionToken", "TokenCode", "secret", "Secret")
_THIRD_PARTY = (
    "botocore",
    "aiobotocore",
    "boto3",
    "urllib3",
    "moto",
    "werkzeug",
    "flask",
    "aiohttp",
    "asyncio",
    "httpx",
    "httpx2",
    "httpcore",
    "hpack",
    "hypothesis",
    "filelock",
    "s3transfer",
    "trio",
    "anyio",
    "multipart",
    "charset_normalizer",
    "py.warnings",
    "concurrent",
    "openapi_spec_validator",
    "jsonschema",
    "jsonschema_specifications",
    "docker",
    "faker",
)


class Hygiene:
    """The collected secrets and recorded texts of one test run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.secrets: set[str] = set()
        self.codes: set[str] = set()
        self.texts: dict[str, str] = {}  # text -> where it was seen first
        self.records = 0
        self.own_records = 0
        self.refreshes = 0
        self.missing_hooks: list[str] = []
        self.third_party_records = 0
        self.third_party_hits: Counter[str] = Counter()
        self._pattern: tuple[frozenset[str], re.Pattern[str]] | None = None

    # Collection --------------------------------------------------------------------

    def note_secret(self, value: object) -> None:
        if isinstance(value, str) and len(value) >= _MIN_SECRET:
            with self._lock:
                self.secrets.add(value)

    def note_code(self, value: object) -> None:
        if isinstance(value, str):
            value = value.strip()
            if _SIX_DIGITS.fullmatch(value):
                with self._lock:
                    self.codes.add(value)

    def note_text(self, text: str, where: str) -> None:
        if text:
            with self._lock:
                self.texts.setdefault(text, where)

    def sizes(self) -> dict[str, int]:
        """How many texts, secrets and MFA codes were collected."""
        with self._lock:
            return {"texts": len(self.texts), "secrets": len(self.secrets), "codes": len(self.codes)}

    # Checking ----------------------------------------------------------------------

    def code_pattern(self) -> re.Pattern[str] | None:
        """A pattern matching any MFA code collected so far, as a whole number."""
        with self._lock:
            codes = frozenset(self.codes)
        if not codes:
            return None
        if self._pattern is None or self._pattern[0] != codes:
            alternatives = "|".join(sorted(codes))
            self._pattern = (codes, re.compile(rf"(?<![0-9.])(?:{alternatives})(?![0-9])"))
        return self._pattern[1]

    def leaks_in(self, text: str, codes: re.Pattern[str] | None = None) -> list[str]:
        """What kinds of secret ``text`` holds: never the secrets themselves."""
        found = [f"secret of {len(secret)} chars" for secret in self.secrets if secret in text]
        if codes is not None and codes.search(text):
            found.append("an MFA code")
        return found

    def violations(self) -> list[str]:
        with self._lock:
            texts = dict(self.texts)
        codes = self.code_pattern()
        problems = []
        for text, where in texts.items():
            leaks = self.leaks_in(text, codes)
            if leaks:
                problems.append(f"{where}: {', '.join(leaks)} in {_redact(text, self)!r}")
        return problems


def _redact(text: str, hygiene: Hygiene) -> str:
    for secret in hygiene.secrets:
        text = text.replace(secret, "<secret>")
    for code in hygiene.codes:
        text = re.sub(rf"(?<![0-9]){code}(?![0-9])", "<code>", text)
    return text[:300]


HYGIENE = Hygiene()


def _own(name: str) -> bool:
    return not name.startswith(_THIRD_PARTY) or name.startswith(_OWN_LOGGERS)


class RecordingHandler(logging.Handler):
    """Sees every record at DEBUG; keeps the text of those not from third parties."""

    def __init__(self, hygiene: Hygiene) -> None:
        super().__init__(logging.DEBUG)
        self.hygiene = hygiene

    def emit(self, record: logging.LogRecord) -> None:
        hygiene = self.hygiene
        hygiene.records += 1
        if _own(record.name):
            hygiene.own_records += 1
            try:
                text = record.getMessage()
            except Exception:  # a broken record is not ours to judge
                return
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            hygiene.note_text(text, f"log record {record.name}:{record.levelname}")
        else:
            hygiene.third_party_records += 1
            # Counted, not failed: only texts that look like they carry credentials.
            try:
                text = record.getMessage()
            except Exception:
                return
            if any(marker in text for marker in _MARKERS) and hygiene.leaks_in(
                text, hygiene.code_pattern()
            ):
                hygiene.third_party_hits[record.name] += 1


def _wrap(
    owner: Any,
    name: str,
    make: Callable[[Any], Any],
    undo: list[Callable[[], None]],
    missing: list[str] | None = None,
) -> None:
    original = owner.__dict__.get(name)
    if original is None and not hasattr(owner, name):
        # The library changed shape: nothing to wrap. Where the check relies on the
        # hook (``missing`` given), that fails the run, loudly.
        if missing is not None:
            missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
        return
    current = getattr(owner, name)
    setattr(owner, name, make(current))

    def restore() -> None:
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)

    undo.append(restore)


_RECORDED = ("aiostscreds", "tests")


def _recorded(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in _RECORDED)


def _record_own_logging(handler: logging.Handler) -> Callable[[], None]:
    """Show ``handler`` every record of the library's loggers, and other handlers what they saw.

    The library's loggers make every record, whatever level a test sets on them
    (``caplog.at_level(WARNING, logger="aiostscreds")`` included); third-party
    loggers keep their levels. Records pass through ``Logger.callHandlers``,
    which hands each to ``handler`` and then to the usual handlers only if it
    clears the logger's level: tests that count records (``caplog``) see no
    change.
    """
    original_enabled = logging.Logger.isEnabledFor
    original_call = logging.Logger.callHandlers

    def isEnabledFor(self: logging.Logger, level: int) -> bool:
        if _recorded(self.name) and not self.disabled:
            return True
        return original_enabled(self, level)

    def callHandlers(self: logging.Logger, record: logging.LogRecord) -> None:
        handler.handle(record)
        if original_enabled(self, record.levelno):
            original_call(self, record)

    logging.Logger.isEnabledFor = isEnabledFor  # type: ignore[method-assign]
    logging.Logger.callHandlers = callHandlers  # type: ignore[method-assign]

    def stop() -> None:
        logging.Logger.isEnabledFor = original_enabled  # type: ignore[method-assign]
        logging.Logger.callHandlers = original_call  # type: ignore[method-assign]

    return stop


def install(hygiene: Hygiene) -> Callable[[], None]:
    """Wrap the library's constructors and start recording; returns the undo."""
    import aiostscreds
    from aiostscreds import _cache, _errors, _tokens

    undo: list[Callable[[], None]] = []
    hygiene.note_secret(os.environ.get("AWS_SECRET_ACCESS_KEY"))

    def credentials_init(init: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            hygiene.note_secret(self.secret_access_key)
            hygiene.note_secret(self.session_token)
            hygiene.note_text(repr(self), "repr(Credentials)")
            hygiene.note_text(str(self), "str(Credentials)")

        return __init__

    _wrap(aiostscreds.Credentials, "__init__", credentials_init, undo)

    def error_init(init: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            kind = type(self).__name__
            hygiene.note_text(str(self), f"str({kind})")
            hygiene.note_text(repr(self), f"repr({kind})")

        return __init__

    _wrap(_errors.CredentialsError, "__init__", error_init, undo)

    def codes_init(init: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            hygiene.note_code(kwargs.get("token_code"))
            init(self, *args, **kwargs)

        return __init__

    _wrap(_tokens.MFACodes, "__init__", codes_init, undo)

    def next_code(method: Any) -> Any:
        async def wrapped(self: Any) -> str:
            code: str = await method(self)
            hygiene.note_code(code)
            return code

        return wrapped

    _wrap(_tokens.MFACodes, "next_code", next_code, undo)

    def ask(function: Any) -> Any:
        async def wrapped(provider: Any, serial_number: str) -> object:
            answer = await function(provider, serial_number)
            hygiene.note_code(answer)
            return answer

        return wrapped

    _wrap(_tokens, "_ask", ask, undo)

    def note_reprs(method: Any, *attributes: str) -> Any:
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = method(self, *args, **kwargs)
            hygiene.note_text(repr(self), f"repr({type(self).__name__})")
            for attribute in attributes:
                value = getattr(self, attribute, None)
                if value is not None:
                    hygiene.note_text(repr(value), f"repr({type(value).__name__})")
            return result

        return wrapped

    _wrap(_cache.CredentialsCache, "__init__", lambda m: note_reprs(m, "_source"), undo)
    def refreshed(method: Any) -> Any:
        noted = note_reprs(method, "_source", "_credentials")

        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            hygiene.refreshes += 1
            return noted(self, *args, **kwargs)

        return wrapped

    _wrap(_cache.CredentialsCache, "_record_success", refreshed, undo, hygiene.missing_hooks)
    _wrap(aiostscreds.AiobotocoreCredentials, "__init__", lambda m: note_reprs(m), undo)

    totp = getattr(aiostscreds, "TOTPTokenProvider", None)
    if totp is not None:

        def totp_init(init: Any) -> Any:
            def __init__(self: Any, secret: Any, *args: Any, **kwargs: Any) -> None:
                hygiene.note_secret(secret)
                init(self, secret, *args, **kwargs)
                hygiene.note_text(repr(self), "repr(TOTPTokenProvider)")

            return __init__

        _wrap(totp, "__init__", totp_init, undo)

    undo.append(_record_own_logging(RecordingHandler(hygiene)))

    def undo_all() -> None:
        for step in reversed(undo):
            step()

    return undo_all


def vacuity(hygiene: Hygiene | WorkerTotals) -> list[str]:
    """Why the check saw too little to be trusted: empty if it saw what it must."""
    reasons = [
        f"the hook {hook} is gone: update tests/hygiene.py" for hook in hygiene.missing_hooks
    ]
    if hygiene.refreshes and not hygiene.own_records:
        reasons.append(
            f"the library refreshed credentials {hygiene.refreshes} times but not one of its "
            "log records was recorded: the recorder is not working"
        )
    return reasons


def summary(
    hygiene: Hygiene | WorkerTotals, problems: int, vacuous: Sequence[str] = ()
) -> Iterator[str]:
    """The terminal summary: the library's verdict first, then the third-party counts."""
    sizes = hygiene.sizes()
    checked = (
        f"{hygiene.own_records} log records of the library; "
        f"{sizes['texts']} log records, exception messages, reprs and warnings; "
        f"{sizes['secrets']} secrets and {sizes['codes']} MFA codes checked"
    )
    if isinstance(hygiene, WorkerTotals):
        checked += f", summed over {hygiene.workers} pytest-xdist workers"
    if problems:
        yield f"secret hygiene FAILED: {problems} of the library's own texts hold a secret ({checked})"
    elif vacuous:
        yield f"secret hygiene FAILED: it saw too little to judge ({checked}): " + "; ".join(
            vacuous
        )
    else:
        yield f"secret hygiene: the library's own output is clean ({checked})"
    if hygiene.third_party_hits:
        counts = ", ".join(
            f"{name} {count}" for name, count in sorted(hygiene.third_party_hits.items())
        )
        yield (
            "secret hygiene, for information only: third-party log records that held a "
            f"secret (botocore logs request parameters and response bodies at DEBUG by design): "
            f"{counts}, of {hygiene.third_party_records} third-party records"
        )


# pytest-xdist: each worker checks its own share; the controller adds up their figures.

_COUNTS = ("records", "own_records", "refreshes", "third_party_records")


def to_worker_output(hygiene: Hygiene, problems: list[str]) -> dict[str, Any]:
    """What a worker hands the controller (plain data; no secret, only counts and verdicts)."""
    return {
        **{name: getattr(hygiene, name) for name in _COUNTS},
        "sizes": hygiene.sizes(),
        "missing_hooks": list(hygiene.missing_hooks),
        "third_party_hits": dict(hygiene.third_party_hits),
        "problems": problems,
    }


class WorkerTotals:
    """The controller's sum of its workers' figures, shaped for :func:`summary`."""

    def __init__(self) -> None:
        self.missing_hooks: list[str] = []
        self.third_party_hits: Counter[str] = Counter()
        self.records = self.own_records = self.refreshes = self.third_party_records = 0
        self.workers = 0
        self._sizes: Counter[str] = Counter(texts=0, secrets=0, codes=0)

    def sizes(self) -> dict[str, int]:
        """The workers' texts, secrets and codes, added up (a secret two saw counts twice)."""
        return dict(self._sizes)

    def add(self, output: dict[str, Any]) -> list[str]:
        """Add one worker's figures; its problems."""
        self.workers += 1
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + output[name])
        self._sizes.update(output["sizes"])
        for hook in output["missing_hooks"]:
            if hook not in self.missing_hooks:
                self.missing_hooks.append(hook)
        self.third_party_hits.update(output["third_party_hits"])
        return list(output["problems"])


# The plugin (registered from conftest.py) ------------------------------------------------

import pytest  # noqa: E402

_undo: list[Callable[[], None]] = []
_problems: list[str] = []
_vacuous: list[str] = []
_workers = WorkerTotals()  # the controller's, under pytest-xdist
_OUTPUT = "aiostscreds_secret_hygiene"


def pytest_configure(config: pytest.Config) -> None:
    _undo.append(install(HYGIENE))


def pytest_unconfigure(config: pytest.Config) -> None:
    while _undo:
        _undo.pop()()


def pytest_warning_recorded(warning_message: Any, when: str, nodeid: str, location: Any) -> None:
    HYGIENE.note_text(str(warning_message.message), f"warning in {nodeid or when}")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist, in the controller: a worker is done; add up what it saw."""
    output = getattr(node, "workeroutput", {}).get(_OUTPUT)
    if output is None:
        _problems.append(f"worker {getattr(node, 'gateway', node)} sent no hygiene figures")
        return
    _problems.extend(_workers.add(output))


def _judged() -> Hygiene | WorkerTotals:
    return _workers if _workers.workers else HYGIENE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The check runs here, not in a fixture's teardown, where an xfail mark on the
    # last test would swallow its failure.
    if not _workers.workers:  # a plain run, or a worker: judge what this process saw
        _problems[:] = HYGIENE.violations()
    _vacuous[:] = vacuity(_judged())
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_OUTPUT] = to_worker_output(HYGIENE, _problems)
    elif _problems or _vacuous:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in summary(_judged(), len(_problems), _vacuous):
        terminalreporter.write_line(line, red=bool(_problems or _vacuous), bold=bool(_vacuous))
    if _problems:
        terminalreporter.write_line(
            f"SECRET HYGIENE FAILED: {len(_problems)} texts hold a secret or an MFA code:",
            red=True,
            bold=True,
        )
        for problem in _problems[:20]:
            terminalreporter.write_line(f"  {problem}", red=True)


@pytest.fixture(scope="session", autouse=True)
def secret_hygiene() -> Iterator[Hygiene]:
    """The session's secret-hygiene record; it is checked when the session ends."""
    yield HYGIENE
