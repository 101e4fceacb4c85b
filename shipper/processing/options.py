"""The processing flags, checked and compiled once at start (sans-I/O).

``ProcessingOptions`` holds the flags as given, the filters in the order given on the command
line; ``compile_processing`` turns them into a ``Processing``, or raises ``ConfigError`` naming
the flag and what is wrong, so a bad flag stops logwrap before the child starts (exit 64).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from .backtracking import nested_repeat
from .fastpass import Entry, access_preset, fast_filters
from .filters import Condition, Filters, Grep, Remove, Rename, Step
from .parsers import LineParser, parse_types, parser_for
from .redaction import BUILT_IN, Pattern, RedactKeys, RedactPatterns
from .throttle import Rate

FILTER_FLAGS = ("--drop", "--keep", "--rename", "--remove", "--redact-keys", "--redact-pattern")
_RATE = re.compile(r"(\d+)/(s|m)(?::(\d+))?")
# A bucket larger than this is no limit; and what a batch may ship must fit the C pass's 64 bits.
MAX_RATE = 1_000_000_000


@dataclass(frozen=True)
class ProcessingOptions:
    parse: tuple[str, ...] = ()
    types: str | None = None
    time_format: str | None = None
    filters: tuple[tuple[str, str], ...] = ()  # (flag, value), in the order given
    throttle: str | None = None


@dataclass(frozen=True)
class Processing:
    parser: LineParser | None = None
    filters: Filters | None = None
    fast: tuple[Entry, ...] | None = None  # what the C pass does of the filters; None: Python
    rate: Rate | None = None
    warnings: tuple[str, ...] = ()  # to print at start
    access: int = 0  # the access-log preset the C pass parses lines with (fastpass.ACCESS_PRESETS)

    @property
    def filtering(self) -> bool:
        """Whether records may be left out (the summaries then count them)."""
        return self.filters is not None or self.rate is not None


def compile_processing(options: ProcessingOptions, time_keys: Sequence[str],
                       reserved: Collection[str]) -> Processing | None:
    """What the flags ask for, or None when they ask for nothing."""
    parser = None
    if options.parse:
        types = parse_types(options.types) if options.types else {}
        parser = LineParser([parser_for(spec) for spec in options.parse], types, options.time_format,
                            tuple(time_keys))
    elif options.types or options.time_format:
        flag = "--types" if options.types else "--time-format"
        raise ConfigError(f"{flag} applies to parsed lines: add --parse (logfmt, regex:PATTERN or a preset)")
    for flag, value in options.filters:
        utf8(flag, value)
    steps = [step_of(flag, value, reserved) for flag, value in options.filters]
    rate = parse_rate(options.throttle) if options.throttle else None
    if parser is None and not steps and rate is None:
        return None
    filters = Filters(steps) if steps else None
    access = access_preset(options.parse, bool(options.types or options.time_format))
    fast = fast_filters(steps) if steps else ()
    return Processing(parser, filters, fast, rate, backtracking(options, steps), access)


def backtracking(options: ProcessingOptions, steps: Sequence[Step]) -> tuple[str, ...]:
    """A warning for each regex given that may backtrack for exponential time."""
    given = [("--parse", spec, spec[6:]) for spec in options.parse if spec.startswith("regex:")]
    for (flag, value), step in zip(options.filters, steps, strict=True):
        given += [(flag, value, regex.pattern) for regex in _regexes(step)]
    return tuple(f"{flag} {value!r}: a repeat inside a repeat can take exponential time on a line that "
                 "does not match, and logwrap reads nothing while it runs; make the inner repeat "
                 "possessive (x++) or atomic ((?>...)), or bound it" for flag, value, regex in given
                 if nested_repeat(regex))


def _regexes(step: Step) -> list[re.Pattern[str]]:
    if isinstance(step, Grep):
        return [] if step.condition.pattern is None else [step.condition.pattern]
    if isinstance(step, RedactPatterns):
        return [pattern.regex for pattern in step.patterns]
    return []


def utf8(flag: str, value: str) -> None:
    """A value from argv that is not UTF-8 (surrogate escapes) can never name a field or match."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ConfigError(f"{flag} {value!r}: not valid UTF-8") from None


def step_of(flag: str, value: str, reserved: Collection[str]) -> Step:
    if flag in ("--drop", "--keep"):
        return Grep(condition(flag, value), keep=flag == "--keep")
    if flag == "--rename":
        old, sep, new = value.partition("=")
        if not sep or not old or not new:
            raise ConfigError(f"{flag} {value!r}: write OLD=NEW")
        if new in reserved:
            raise ConfigError(f"{flag} {value!r}: logwrap sets {new!r} itself; choose another name")
        return Rename(old, new)
    if flag == "--remove":
        if not value:
            raise ConfigError(f"{flag}: name the field to remove")
        return Remove(value)
    if flag == "--redact-keys":
        words = [word for word in value.split(",") if word.strip()]
        if not words:
            raise ConfigError(f"{flag} {value!r}: write words separated by commas, like password,token")
        return RedactKeys(words)
    if flag == "--redact-pattern":
        return RedactPatterns([redact_pattern(flag, value)])
    raise ConfigError(f"{flag} is not a filter")


def condition(flag: str, text: str) -> Condition:
    """``FIELD=VALUE`` or ``FIELD~REGEX``, whichever sign comes first."""
    at = min((i for i in (text.find("="), text.find("~")) if i >= 0), default=-1)
    if at <= 0:
        raise ConfigError(f"{flag} {text!r}: write FIELD=VALUE or FIELD~REGEX")
    field, sign, rest = text[:at], text[at], text[at + 1:]
    if sign == "=":
        return Condition(field, value=rest)
    return Condition(field, pattern=compile_regex(flag, text, rest))


def redact_pattern(flag: str, text: str) -> Pattern:
    name, sep, regex = text.partition("=")
    if not sep:
        if text not in BUILT_IN:
            raise ConfigError(f"{flag} {text!r}: write NAME=REGEX, or one of the built-in patterns: "
                              + ", ".join(BUILT_IN))
        return Pattern(text, BUILT_IN[text])
    if not name:
        raise ConfigError(f"{flag} {text!r}: write NAME=REGEX")
    return Pattern(name, compile_regex(flag, text, regex))


def compile_regex(flag: str, given: str, regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise ConfigError(f"{flag} {given!r}: the regex is not valid: {exc}") from exc


def parse_rate(text: str) -> Rate:
    match = _RATE.fullmatch(text.strip())
    if not match or int(match.group(1)) < 1 or (match.group(3) is not None and int(match.group(3)) < 1):
        raise ConfigError(f"--throttle {text!r}: write N/s or N/m, with an optional burst: "
                          "100/s, 6000/m:1000")
    count = int(match.group(1))
    burst = int(match.group(3)) if match.group(3) else count
    if count > MAX_RATE or burst > MAX_RATE:
        raise ConfigError(f"--throttle {text!r}: N and BURST may be at most {MAX_RATE}")
    return Rate(count, 1.0 if match.group(2) == "s" else 60.0, burst)
