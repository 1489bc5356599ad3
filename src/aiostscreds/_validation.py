"""Checks of STS request parameters, before any call is made.

The length limits and character classes come from the STS service model that
botocore ships, read at run time. botocore itself only checks minimums, so the
library applies the whole rule: lengths, patterns (with ASCII ``\\w`` and
``\\d``, as STS means them), and the few limits the model leaves out.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import botocore.loaders

from ._arn import parse_arn
from ._errors import ConfigurationError
from ._policy import to_seconds

__all__ = [
    "check_duration",
    "check_policy_arns",
    "check_role_arn",
    "check_string",
    "check_tags",
    "check_token_code",
    "check_transitive_tag_keys",
]

ASSUME_ROLE_MAX_DURATION = 43200
CHAINED_ROLE_MAX_DURATION = 3600
SESSION_TOKEN_MAX_DURATION = 129600
MIN_DURATION = 900
MAX_POLICY_ARNS = 10
MAX_POLICY_DEPTH = 64

_PARTITION = re.compile(r"aws[a-z-]*", re.ASCII)
_ACCOUNT = re.compile(r"[0-9]{12}", re.ASCII)
_ROLE_PATH_AND_NAME = re.compile(r"role/[\w+=,.@/-]+", re.ASCII)
_POLICY_ACCOUNT = re.compile(r"[0-9]{12}|aws", re.ASCII)
_POLICY_PATH_AND_NAME = re.compile(r"policy/[\w+=,.@/-]+", re.ASCII)
_TOKEN_CODE = re.compile(r"[0-9]{6}", re.ASCII)


@functools.lru_cache(maxsize=1)
def _shapes() -> Mapping[str, Any]:
    model = botocore.loaders.create_loader().load_service_model("sts", "service-2")
    shapes: Mapping[str, Any] = model["shapes"]
    return shapes


def _unicode_class_check(pattern: str) -> Callable[[str], bool]:
    # Java-style \p{L}\p{Z}\p{N} classes (tag keys and values), which Python's
    # re lacks: check each character's Unicode category instead.
    body = pattern.strip("[]+*")
    categories = set(re.findall(r"\\p\{(\w)\}", body))
    literal = re.sub(r"\\p\{\w\}", "", body).replace("\\", "")

    def check(value: str) -> bool:
        return all(unicodedata.category(ch)[0] in categories or ch in literal for ch in value)

    return check


@functools.cache
def _pattern_check(shape_name: str) -> Callable[[str], bool]:
    pattern = _shapes()[shape_name].get("pattern")
    if pattern is None:
        return lambda value: True
    if "\\p{" in pattern:
        return _unicode_class_check(pattern)
    # The model writes astral ranges as \\u10000-\\u10FFFF, which Python would read
    # as \\u1000 followed by a literal 0.
    pattern = pattern.replace("\\u10000-\\u10FFFF", "\\U00010000-\\U0010FFFF")
    compiled = re.compile(pattern, re.ASCII)
    return lambda value: compiled.fullmatch(value) is not None


def _allowed_chars(shape_name: str) -> str:
    pattern: str = _shapes()[shape_name].get("pattern", "")
    return pattern.replace("\\w", "A-Za-z0-9_").replace("\\d", "0-9").replace("\\/", "/")


def check_string(value: object, *, parameter: str, shape: str) -> str:
    """Check ``value`` against the model's rules for ``shape``; return it."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{parameter} must be a str, not {type(value).__name__}")
    rules = _shapes()[shape]
    low, high = rules.get("min", 0), rules.get("max")
    if len(value) < low or (high is not None and len(value) > high):
        span = f"{low}-{high}" if high is not None else f"at least {low}"
        raise ConfigurationError(f"{parameter} must be {span} characters long (got {len(value)})")
    if not _pattern_check(shape)(value):
        raise ConfigurationError(
            f"{parameter} may only contain characters in {_allowed_chars(shape)}"
        )
    return value


def _is_iam_arn(value: str, account: re.Pattern[str], resource: re.Pattern[str]) -> bool:
    """Whether ``value`` is an IAM ARN (any partition, no region) with this account and resource."""
    fields = parse_arn(value)
    return (
        fields is not None
        and _PARTITION.fullmatch(fields.partition) is not None
        and fields.service == "iam"
        and fields.region == ""
        and account.fullmatch(fields.account) is not None
        and resource.fullmatch(fields.resource) is not None
    )


def check_role_arn(value: object, *, parameter: str = "role_arn") -> str:
    """Check an IAM role ARN: length and characters from the model, then its shape."""
    arn = check_string(value, parameter=parameter, shape="arnType")
    if not _is_iam_arn(arn, _ACCOUNT, _ROLE_PATH_AND_NAME):
        raise ConfigurationError(
            f"{parameter} must be an IAM role ARN of the form "
            f"arn:<partition>:iam::<12-digit account id>:role/<path/name> (got {arn!r})"
        )
    return arn


def check_token_code(value: object, *, parameter: str = "token_code") -> str:
    """Check a static MFA code: exactly six ASCII digits. The code never enters the message."""
    if not isinstance(value, str) or _TOKEN_CODE.fullmatch(value) is None:
        raise ConfigurationError(f"{parameter} must be exactly 6 ASCII digits")
    return value


def check_duration(
    value: object, *, parameter: str = "duration", maximum: int, reason: str = ""
) -> int:
    """Check a session duration; return it as whole seconds."""
    seconds = to_seconds(value, parameter)
    if seconds != int(seconds):
        raise ConfigurationError(f"{parameter} must be a whole number of seconds (got {seconds:g})")
    if not MIN_DURATION <= seconds <= maximum:
        why = f" {reason}" if reason else ""
        raise ConfigurationError(
            f"{parameter} must be between {MIN_DURATION} and {maximum} seconds{why} "
            f"(got {seconds:g})"
        )
    return int(seconds)


def check_policy(value: object, *, parameter: str = "policy") -> str:
    """Check an inline session policy: at least one character of tab, newline or
    U+0020-U+00FF, nested at most 64 deep. STS enforces the packed size itself,
    which cannot be known before the call, so no maximum length is imposed here."""
    policy = check_string(
        value, parameter=parameter, shape="unrestrictedSessionPolicyDocumentType"
    )
    if _nesting_depth(policy) > MAX_POLICY_DEPTH:
        # A real policy nests about 5 deep; thousands would only blow the stack
        # of every JSON parser on the way (the cache key's included).
        raise ConfigurationError(
            f"{parameter} nests JSON arrays or objects more than {MAX_POLICY_DEPTH} deep"
        )
    return policy


def _nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside JSON strings, counted without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def check_policy_arns(values: Iterable[object], *, parameter: str = "policy_arns") -> list[str]:
    """Check managed session policy ARNs: at most 10, each an IAM policy ARN."""
    if isinstance(values, (str, bytes)):
        raise ConfigurationError(f"{parameter} must be a sequence of ARNs, not a single string")
    if not isinstance(values, Iterable):
        raise ConfigurationError(
            f"{parameter} must be a sequence of ARNs, not {type(values).__name__}"
        )
    arns = list(values)
    if len(arns) > MAX_POLICY_ARNS:
        raise ConfigurationError(
            f"{parameter} may hold at most {MAX_POLICY_ARNS} ARNs (got {len(arns)})"
        )
    for index, arn in enumerate(arns):
        name = f"{parameter}[{index}]"
        checked = check_string(arn, parameter=name, shape="arnType")
        if not _is_iam_arn(checked, _POLICY_ACCOUNT, _POLICY_PATH_AND_NAME):
            raise ConfigurationError(
                f"{name} must be an IAM policy ARN of the form "
                f"arn:<partition>:iam::<account id or aws>:policy/<path/name>"
            )
    return [str(arn) for arn in arns]


def _tag_pairs(tags: object, parameter: str) -> list[tuple[object, object]]:
    if isinstance(tags, Mapping):
        return list(tags.items())
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Iterable):
        raise ConfigurationError(
            f"{parameter} must be a mapping or a sequence of (key, value) pairs"
        )
    pairs = []
    for index, item in enumerate(tags):
        if isinstance(item, Mapping) and set(item) == {"Key", "Value"}:
            pairs.append((item["Key"], item["Value"]))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            pairs.append((item[0], item[1]))
        else:
            raise ConfigurationError(
                f"{parameter}[{index}] must be a (key, value) pair or a {{'Key', 'Value'}} mapping"
            )
    return pairs


def check_tags(tags: object, *, parameter: str = "tags") -> list[dict[str, str]]:
    """Check session tags; return them in STS's ``[{"Key": ..., "Value": ...}]`` shape."""
    pairs = _tag_pairs(tags, parameter)
    limit = _shapes()["tagListType"]["max"]
    if len(pairs) > limit:
        raise ConfigurationError(f"{parameter} may hold at most {limit} tags (got {len(pairs)})")
    seen: set[str] = set()
    result = []
    for key, value in pairs:
        key = check_string(key, parameter=f"{parameter} key", shape="tagKeyType")
        value = check_string(value, parameter=f"{parameter}[{key!r}] value", shape="tagValueType")
        if key.lower() in seen:
            raise ConfigurationError(f"{parameter} has the key {key!r} twice (keys ignore case)")
        seen.add(key.lower())
        result.append({"Key": key, "Value": value})
    return result


def check_transitive_tag_keys(
    keys: Iterable[object], *, parameter: str = "transitive_tag_keys"
) -> list[str]:
    """Check transitive tag keys: at most 50, each a valid tag key."""
    if isinstance(keys, (str, bytes)):
        raise ConfigurationError(f"{parameter} must be a sequence of tag keys, not a single string")
    if not isinstance(keys, Iterable):
        raise ConfigurationError(
            f"{parameter} must be a sequence of tag keys, not {type(keys).__name__}"
        )
    values = list(keys)
    limit = _shapes()["tagKeyListType"]["max"]
    if len(values) > limit:
        raise ConfigurationError(f"{parameter} may hold at most {limit} keys (got {len(values)})")
    return [
        check_string(key, parameter=f"{parameter}[{index}]", shape="tagKeyType")
        for index, key in enumerate(values)
    ]
