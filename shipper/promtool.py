"""promtool for ``shipper check``: which of its commands fits a Prometheus file, and its report
read back as (line, message) pairs.

promtool prints a failure as free text: ``FILE: LINE:COL: message`` for a rule, YAML errors as
``line N: ...``, and a failed unit test as a block of expected and actual alerts, which is
summed up here in one line a test.
"""

from __future__ import annotations

import re
from typing import Any

Problem = tuple[int, str]  # (1-based line, 0 for the file as a whole; message)


def command(data: Any) -> list[str]:
    """Unit tests have ``tests``, rule files ``groups``; anything else is a server config.

    A config is checked for its syntax only: the rule files it names are checked on their own,
    so that a broken rule is reported once, in its own file.
    """
    keys = data if isinstance(data, dict) else {}
    if "tests" in keys:
        return ["test", "rules"]
    if "groups" in keys:
        return ["check", "rules"]
    return ["check", "config", "--syntax-only"]


def problems(output: str, name: str, text: str) -> list[Problem]:
    """What promtool found wrong in the file ``name`` (whose ``text`` gives test cases a line)."""
    lines = output.splitlines()
    found = [(0, line.split("WARNING:", 1)[1].strip()) for line in lines if "WARNING:" in line]
    start = next((n for n, line in enumerate(lines) if "FAILED:" in line), None)
    if start is None:
        return found
    failure = [lines[start].split("FAILED:", 1)[1], *lines[start + 1:]]
    if any(line.strip().startswith("name: ") for line in failure):
        found += [_test_problem(block, text) for block in _test_blocks(failure)]
    else:
        found += [problem for line in failure if (problem := _line_problem(line.strip(), name))]
    return list(dict.fromkeys(found))


def _line_problem(line: str, name: str) -> Problem | None:
    """``FILE: LINE:COL: message`` and YAML's ``line N: ...`` name a line of the file; any other
    position (``1:70: parse error`` in a series) is inside an expression, so part of the message."""
    line = line.removeprefix("parsing YAML file ")
    in_file = line.startswith(f"{name}: ")
    line = line.removeprefix(f"{name}: ")
    if not line or line == "yaml: unmarshal errors:":
        return None
    located = re.match(r"(\d+):\d+: (.*)", line) if in_file else None
    located = located or re.match(r"(?:yaml: )?line (\d+): (.*)", line)
    return (int(located.group(1)), located.group(2)) if located else (0, line)


def _test_blocks(lines: list[str]) -> list[list[str]]:
    """The failure's lines cut at each ``name:`` (one failed evaluation a block)."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.strip().startswith("name: "):
            blocks.append([])
        if blocks:
            blocks[-1].append(line.strip())
    return blocks


def _test_problem(block: list[str], text: str) -> Problem:
    test = block[0].removeprefix("name: ").removesuffix(",")
    where = re.match(r"alertname: (\S+), time: (\S+),", block[1]) if len(block) > 1 else None
    if where is None:
        return _line_of(text, f"name: {test}"), f"test {test!r}: " + " ".join(block[1:])
    alert, time = where.groups()
    got = block.index("got:[]") if "got:[]" in block else next(
        (n for n, line in enumerate(block) if line.startswith("got:[")), len(block))
    expected, actual = _labels(block[:got], alert), _labels(block[got:], alert)
    return _eval_line(text, test, time), f"{alert} at {time}: " + _difference(expected, actual)


def _labels(lines: list[str], alert: str) -> list[str]:
    return [line.removeprefix("Labels:").replace(f'alertname="{alert}", ', "")
            for line in lines if line.startswith("Labels:")]


def _difference(expected: list[str], actual: list[str]) -> str:
    missing = [labels for labels in expected if labels not in actual]
    unexpected = [labels for labels in actual if labels not in expected]
    parts = [f"did not fire for {labels}" for labels in missing]
    parts += [f"fired for {labels}, which the test does not expect" for labels in unexpected]
    return "; ".join(parts) or "the annotations differ from exp_annotations"


def _eval_line(text: str, test: str, time: str) -> int:
    """The line of the test's ``eval_time: TIME``, else of the test's name."""
    start = _line_of(text, f"name: {test}")
    evaluation = re.compile(rf"eval_time: {re.escape(time)}\b")
    lines = text.splitlines()[start:]
    return next((n for n, line in enumerate(lines, start + 1) if evaluation.search(line)), start)


def _line_of(text: str, fragment: str) -> int:
    return next((n for n, line in enumerate(text.splitlines(), 1) if fragment in line), 0)
