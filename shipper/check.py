"""``shipper check``: every file under configs/ and docker-compose.yml, checked by the real tool
when it is installed, else by a parser of our own, each reported ok or with the line at fault.

The per-format checks are pure functions from text to problems; running the tools (``fluentd
--dry-run``, ``logrotate -d``, ``docker-compose config``, ``promtool``, ``node --check``) is
the thin layer at the end.
"""

from __future__ import annotations

import configparser
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from . import promtool
from .errors import ConfigError
from .stack import compose_command


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based; 0 when the problem is the file as a whole
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class Finding:
    path: str
    problems: tuple[Problem, ...]
    how: str  # which tool or parser checked it

    @property
    def ok(self) -> bool:
        return not self.problems


# --- pure checks: text -> problems ------------------------------------------------------------

def json_problems(text: str) -> list[Problem]:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return [Problem(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")]
    return []


def yaml_problems(text: str) -> list[Problem]:
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or exc
        return [Problem(mark.line + 1 if mark else 0, f"invalid YAML: {problem}")]
    return []


def ilm_policy_problems(text: str) -> list[Problem]:
    policy = json.loads(text)
    phases = policy.get("policy", {}).get("phases", {})
    problems = []
    if "rollover" not in phases.get("hot", {}).get("actions", {}):
        problems.append(Problem(0, "the ILM policy has no hot-phase rollover"))
    if "delete" not in phases.get("delete", {}).get("actions", {}):
        problems.append(Problem(0, "the ILM policy has no delete phase"))
    return problems


def index_template_problems(text: str) -> list[Problem]:
    template = json.loads(text)
    patterns = template.get("index_patterns") or []
    if not patterns:
        return [Problem(0, "the index template has no index_patterns")]
    builtin = any(re.fullmatch(r"logs-[^*]*-.*", p) or p.startswith("logs-") for p in patterns)
    if builtin and template.get("priority", 0) <= 100:
        return [Problem(0, f"index_patterns {patterns} overlap the built-in logs-*-* template: "
                           "give it a priority above 100")]
    return []


def component_template_problems(text: str) -> list[Problem]:
    if "mappings" not in json.loads(text).get("template", {}):
        return [Problem(0, "the component template has no template.mappings")]
    return []


def saved_objects_problems(text: str) -> list[Problem]:
    """Kibana's export format: one object per line, nested JSON strings valid, references known."""
    problems, objects, references = [], set(), []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            continue
        missing = [key for key in ("type", "id", "attributes") if key not in item]
        if missing:
            problems.append(Problem(number, f"saved object without {', '.join(missing)}"))
            continue
        objects.add((item["type"], item["id"]))
        problems += _embedded_json(number, item["attributes"])
        references += [(number, ref) for ref in item.get("references", [])]
    for number, ref in references:
        if (ref.get("type"), ref.get("id")) not in objects:
            problems.append(Problem(number, f"reference to {ref.get('type')} {ref.get('id')!r}, "
                                            "which is not in the file"))
    return problems


def _embedded_json(number: int, attributes: dict[str, Any]) -> list[Problem]:
    fields = {**attributes, **attributes.get("kibanaSavedObjectMeta", {})}
    problems = []
    for key, value in fields.items():
        if key.endswith("JSON") or key == "visState":
            try:
                json.loads(value)
            except (TypeError, json.JSONDecodeError) as exc:
                problems.append(Problem(number, f"{key} is not valid JSON: {exc}"))
    return problems


_SECTION = re.compile(r"^\s*<(/?)([A-Za-z@][\w@.]*)([^>]*)>\s*(#.*)?$")


def fluentd_problems(text: str) -> list[Problem]:
    """Fluentd's section structure: every <section> closed by its own </section>."""
    stack: list[tuple[str, int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped.startswith("<"):
            continue
        match = _SECTION.match(line)
        if not match:
            return [Problem(number, f"cannot read {stripped!r} as a <section> tag")]
        closing, name = match.group(1), match.group(2)
        if not closing:
            stack.append((name, number))
        elif not stack:
            return [Problem(number, f"</{name}> closes nothing")]
        elif stack[-1][0] != name:
            return [Problem(number, f"</{name}> closes <{stack[-1][0]}> opened on line {stack[-1][1]}")]
        else:
            stack.pop()
    return [Problem(line, f"<{name}> is never closed") for name, line in stack[-1:]]


def braces_problems(text: str) -> list[Problem]:
    """Logstash pipelines and logrotate files: braces balanced outside strings, regular
    expressions (``=~ /.../``) and comments."""
    opened: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        for char in _code_of(line):
            if char == "{":
                opened.append(number)
            elif char == "}":
                if not opened:
                    return [Problem(number, "'}' closes nothing")]
                opened.pop()
    return [Problem(opened[-1], "'{' is never closed")] if opened else []


def _code_of(line: str) -> str:
    """The line without its strings, regular expressions and comment."""
    code, quote, escaped = [], "", False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'" or (char == "/" and line[:index].rstrip().endswith(("=~", "!~"))):
            quote = char
        elif char == "#":
            break
        else:
            code.append(char)
    return "".join(code)


def ini_problems(text: str) -> list[Problem]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError as exc:
        return [Problem(exc.lineno, f"cannot parse {exc.line.strip()!r}: expected a [section] first")]
    except configparser.ParsingError as exc:
        number, bad = exc.errors[0]
        return [Problem(number, f"cannot parse {bad.strip()!r}")]
    except configparser.Error as exc:
        found = re.search(r"line (\d+)", str(exc))
        return [Problem(int(found.group(1)) if found else 0, str(exc).splitlines()[0])]
    programs = [s for s in parser.sections() if s.startswith(("watcher:", "program:"))]
    missing = [s for s in programs if not parser.has_option(s, "cmd") and not parser.has_option(s, "command")]
    return [Problem(0, f"[{s}] has no command") for s in missing]


_AGGREGATIONS = ("average", "sum", "last", "max", "min", "avg_zero", "absmax", "absmin")
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400, "years": 365 * 86400}


def storage_schemas_problems(text: str) -> list[Problem]:
    """carbon's storage-schemas.conf: a pattern and retentions whisper accepts in every section.

    Carbon skips a section it cannot use and carries on with its default, so a mistake here
    shows only as wrongly kept data, weeks later.
    """
    return _carbon_problems(text, lambda section: _retentions_problems(section.get("retentions")))


def storage_aggregation_problems(text: str) -> list[Problem]:
    """carbon's storage-aggregation.conf: a pattern, a known method, an xFilesFactor in 0..1."""
    return _carbon_problems(text, _aggregation_problems)


def _carbon_problems(text: str, check: Callable[[configparser.SectionProxy], list[str]]) -> list[Problem]:
    problems = ini_problems(text)
    if problems:
        return problems
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    for name in parser.sections():
        messages = _pattern_problems(parser[name].get("pattern")) + check(parser[name])
        problems += [Problem(_line_of(text, f"[{name}]"), f"[{name}] {message}") for message in messages]
    return problems


def _pattern_problems(pattern: str | None) -> list[str]:
    if not pattern:
        return ["has no pattern"]
    try:
        re.compile(pattern)
    except re.error as exc:
        return [f"pattern {pattern!r} is not a regular expression: {exc}"]
    return []


def _retentions_problems(retentions: str | None) -> list[str]:
    """whisper's rules for the archives of one file (whisper.validateArchiveList)."""
    if not retentions:
        return ["has no retentions"]
    try:
        archives = sorted(_archive(item) for item in retentions.split(","))
    except ValueError as exc:
        return [f"retentions {retentions!r}: {exc}"]
    wrong = next(filter(None, (_archives_problem(*pair) for pair in pairwise(archives))), None)
    return [f"retentions {retentions!r}: {wrong}"] if wrong else []


def _archives_problem(fine: tuple[int, int], coarse: tuple[int, int]) -> str | None:
    """What is wrong with two neighbouring archives, (seconds per point, points) each."""
    if coarse[0] == fine[0]:
        return f"two archives of {fine[0]}s per point"
    if coarse[0] % fine[0]:
        return f"{coarse[0]}s per point is not a multiple of {fine[0]}s"
    if coarse[0] * coarse[1] <= fine[0] * fine[1]:
        return f"the {coarse[0]}s archive must cover more time than the {fine[0]}s one"
    if fine[1] < coarse[0] // fine[0]:
        return f"the {fine[0]}s archive is too short to make one {coarse[0]}s point"
    return None


def _archive(text: str) -> tuple[int, int]:
    """``10s:6h`` -> (10, 2160): seconds per point and points, as whisper.parseRetentionDef."""
    precision, colon, points = text.strip().partition(":")
    if not colon:
        raise ValueError(f"{text.strip()!r} is not PRECISION:DURATION like 10s:6h")
    seconds = _seconds(precision)
    return seconds, int(points) if points.isdigit() else _seconds(points) // seconds


def _seconds(text: str) -> int:
    found = re.fullmatch(r"(\d+)([a-z]*)", text)
    unit = next((u for u in _UNITS if u.startswith(found.group(2) or "s")), None) if found else None
    if found is None or unit is None:
        raise ValueError(f"{text!r} is not a duration like 10s, 1m, 6h or 1y")
    return int(found.group(1)) * _UNITS[unit]


def _aggregation_problems(section: configparser.SectionProxy) -> list[str]:
    method, factor = section.get("aggregationMethod"), section.get("xFilesFactor")
    messages = []
    if method is not None and method not in _AGGREGATIONS:
        messages.append(f"aggregationMethod {method!r} is not one of {', '.join(_AGGREGATIONS)}")
    if factor is not None and not re.fullmatch(r"0(\.\d*)?|1(\.0*)?|\.\d+", factor):
        messages.append(f"xFilesFactor {factor!r} is not a number from 0 to 1")
    return messages


_MUNIN_SETTINGS = ("user", "group", "command", "host_name", "timeout", "update_rate")


def munin_conf_problems(text: str) -> list[Problem]:
    """munin-node's plugin-conf.d, read as Munin::Node::Config does: a [section], then one
    ``env.NAME value`` or setting a line. munin-node skips the rest of the file at the first
    mistake, so that is the one reported."""
    section = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(?<!\\)#.*", "", raw).strip()
        if not line:
            continue
        if re.fullmatch(r"\[[^\]]+\]", line):
            section = True
            continue
        setting = re.fullmatch(r"([\w.]+)\s+(.+)", line)
        if not section:
            return [Problem(number, f"{line!r} comes before any [section]")]
        if setting is None:
            return [Problem(number, f"cannot read {line!r}: expected `env.NAME value` or a setting")]
        if not setting.group(1).startswith("env.") and setting.group(1) not in _MUNIN_SETTINGS:
            return [Problem(number, f"unknown setting {setting.group(1)!r}: munin-node takes env.NAME, "
                                    + ", ".join(_MUNIN_SETTINGS))]
    return []


def node_problem(output: str) -> Problem:
    """``node --check``'s report: ``FILE:LINE``, the code, then ``SyntaxError: ...``."""
    lines = output.splitlines()
    located = re.match(r".*:(\d+)$", lines[0]) if lines else None
    error = next((line for line in lines if re.match(r"\w*Error: ", line)), None)
    return Problem(int(located.group(1)) if located else 0, error or " ".join(output.split()))


def dockerfile_problems(text: str) -> list[Problem]:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            first = line.split()[0].upper()
            return [] if first in ("FROM", "ARG") else [Problem(number, "must start with FROM")]
    return [Problem(0, "empty Dockerfile")]


_SEMANTIC_CHECKS = {"ilm-policy.json": ilm_policy_problems, "index-template.json": index_template_problems,
                    "component-template.json": component_template_problems}
_CARBON_CHECKS = {"storage-schemas.conf": storage_schemas_problems,
                  "storage-aggregation.conf": storage_aggregation_problems}

# statsd reads its config file as ``eval('config = ' + text)``: the file alone is not a script.
STATSD_PREFIX = "config = "


def includes(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line.split(None, 1)[1] for line in lines if line.startswith("@include ")]


# --- the I/O layer: files, tools --------------------------------------------------------------

Runner = Callable[[list[str], Path], tuple[int, str]]


def run_tool(command: list[str], cwd: Path) -> tuple[int, str]:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, done.stdout + done.stderr


class Checker:
    def __init__(self, root: Path, which: Callable[[str], str | None] = shutil.which,
                 run: Runner = run_tool) -> None:
        if not (root / "configs").is_dir():
            raise ConfigError(f"no configs/ directory under {root}: give --root a folder made by "
                              "`shipper init`, or leave it out to check the bundled configs")
        self.root = root
        self._which = which
        self._run = run

    def check(self) -> list[Finding]:
        files = sorted(p for p in (self.root / "configs").rglob("*") if p.is_file() and p.name[0] != ".")
        compose = self.root / "docker-compose.yml"
        pieces = {(f.parent / name).resolve() for f in files if f.suffix == ".conf"
                  for name in includes(f.read_text())}
        findings = [self._file(path, pieces) for path in files if path.suffix != ".md"]
        if compose.exists():
            findings.append(self._compose(compose))
        return findings

    def _file(self, path: Path, pieces: set[Path]) -> Finding:
        relative = str(path.relative_to(self.root))
        text = path.read_text()
        parts = path.relative_to(self.root / "configs").parts
        kind, name = parts[0], path.name
        if kind == "prometheus":
            return self._prometheus(path, relative, text)
        if path.suffix == ".json":
            return self._json(relative, text, name)
        if path.suffix == ".ndjson":
            return Finding(relative, tuple(saved_objects_problems(text)), "saved-objects parser")
        if path.suffix in (".yml", ".yaml"):
            return Finding(relative, tuple(yaml_problems(text)), "YAML parser")
        if name == "Dockerfile":
            return Finding(relative, tuple(dockerfile_problems(text)), "Dockerfile check")
        if kind == "fluentd":
            return self._fluentd(path, relative, text, path.resolve() in pieces)
        if kind == "logstash":
            return Finding(relative, tuple(braces_problems(text)), "pipeline syntax")
        if kind == "logrotate":
            return self._logrotate(path, relative, text)
        if kind in ("circus", "supervisor"):
            return Finding(relative, tuple(ini_problems(text)), "INI parser")
        if name in _CARBON_CHECKS:
            return Finding(relative, tuple(_CARBON_CHECKS[name](text)), "carbon schema check")
        if kind == "statsd" and path.suffix == ".js":
            return self._statsd(path, relative, text)
        if kind == "munin":
            return Finding(relative, tuple(munin_conf_problems(text)), "munin plugin-conf parser")
        return Finding(relative, (), "not checked: unknown kind")

    def _json(self, relative: str, text: str, name: str) -> Finding:
        problems = json_problems(text)
        if not problems:
            semantic = _SEMANTIC_CHECKS.get(name)
            problems = semantic(text) if semantic else []
        return Finding(relative, tuple(problems), "JSON parser")

    def _fluentd(self, path: Path, relative: str, text: str, piece: bool) -> Finding:
        problems = fluentd_problems(text)
        missing = [name for name in includes(text) if not (path.parent / name).exists()]
        problems += [Problem(_line_of(text, f"@include {name}"), f"@include {name}: no such file")
                     for name in missing]
        fluentd = self._which("fluentd")
        if problems or piece or fluentd is None:
            how = "section syntax" + ("" if piece or fluentd else "; fluentd not on PATH")
            return Finding(relative, tuple(problems), how + (" (included by another file)" if piece else ""))
        code, output = self._run([fluentd, "--dry-run", "-c", path.name], path.parent)
        if code == 0:
            return Finding(relative, (), "fluentd --dry-run")
        plugin = _unknown_plugin(output)
        if plugin in image_plugins(path.parent):
            return Finding(relative, (), f"section syntax; fluentd --dry-run needs fluent-plugin-{plugin}, "
                                         "which the Dockerfile installs and this fluentd lacks")
        return Finding(relative, (Problem(0, _fluentd_error(output)),), "fluentd --dry-run")

    def _logrotate(self, path: Path, relative: str, text: str) -> Finding:
        problems = braces_problems(text)
        logrotate = self._which("logrotate")
        if problems or logrotate is None:
            return Finding(relative, tuple(problems), "brace syntax; logrotate not installed")
        with tempfile.TemporaryDirectory() as state:
            status = os.path.join(state, "status")
            code, output = self._run([logrotate, "-d", "-s", status, str(path.resolve())], path.parent)
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        if code == 0 and not errors:
            return Finding(relative, (), "logrotate -d")
        return Finding(relative, tuple(_logrotate_problem(line) for line in errors or [output.strip()]),
                       "logrotate -d")

    def _prometheus(self, path: Path, relative: str, text: str) -> Finding:
        problems = yaml_problems(text)
        data = None if problems else yaml.safe_load(text)
        problems += _missing_rule_files(path.parent, text, data)
        tool = self._which("promtool")
        if problems or tool is None:
            how = "YAML parser" + ("" if tool else "; promtool not installed")
            return Finding(relative, tuple(problems), how)
        command = promtool.command(data)
        code, output = self._run([tool, *command, path.name], path.parent)
        how = "promtool " + " ".join(command[:2])
        if code == 0:
            return Finding(relative, (), how)
        found = promtool.problems(output, path.name, text) or [(0, " ".join(output.split()))]
        return Finding(relative, tuple(Problem(line, message) for line, message in found), how)

    def _statsd(self, path: Path, relative: str, text: str) -> Finding:
        node = self._which("node")
        if node is None:
            return Finding(relative, (), "not checked: node not installed")
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder, path.name)
            script.write_text(STATSD_PREFIX + text)  # on the first line: line numbers stay the same
            code, output = self._run([node, "--check", str(script)], path.parent)
        return Finding(relative, () if code == 0 else (node_problem(output),), "node --check")

    def _compose(self, compose: Path) -> Finding:
        relative = str(compose.relative_to(self.root))
        problems = yaml_problems(compose.read_text())
        command = compose_command(self._which, lambda command: self._run(command, self.root)[0] == 0)
        if problems or command is None:
            return Finding(relative, tuple(problems), "YAML parser; docker-compose not installed")
        code, output = self._run([*command, "-f", compose.name, "config", "-q"], compose.parent)
        problem = (Problem(0, " ".join(output.split())),) if code else ()
        return Finding(relative, problem, " ".join(command) + " config")


def _missing_rule_files(folder: Path, text: str, data: Any) -> list[Problem]:
    """promtool checks a config's syntax only and merely warns about a test's missing rules."""
    listed = data.get("rule_files") if isinstance(data, dict) else None
    patterns = [str(pattern) for pattern in listed] if isinstance(listed, list) else []
    return [Problem(_line_of(text, f"- {pattern}") or _line_of(text, pattern),
                    f"rule_files: {pattern} matches no file")
            for pattern in patterns if not glob.glob(str(folder / pattern))]


def _line_of(text: str, fragment: str) -> int:
    return next((n for n, line in enumerate(text.splitlines(), 1) if fragment in line), 0)


def image_plugins(folder: Path) -> set[str]:
    """The Fluentd plugins the Dockerfile beside the configs installs (``fluent-plugin-NAME``)."""
    dockerfile = folder / "Dockerfile"
    text = dockerfile.read_text() if dockerfile.exists() else ""
    return set(re.findall(r"gem install fluent-plugin-([\w-]+)", text))


def _unknown_plugin(output: str) -> str | None:
    found = re.search(r"Unknown \w+ plugin '([\w-]+)'", output)
    return found.group(1) if found else None


def _fluentd_error(output: str) -> str:
    lines = [line for line in output.splitlines() if "error" in line.lower()] or output.strip().splitlines()
    return " ".join(lines[0].split()) if lines else "failed without a message"


def _logrotate_problem(line: str) -> Problem:
    found = re.match(r"error: [^:]*:(\d+) (.*)", line)
    return Problem(int(found.group(1)), found.group(2)) if found else Problem(0, line.removeprefix("error: "))


def report(findings: Iterable[Finding]) -> tuple[list[str], bool]:
    """One line a file: ok, or FAIL with each problem."""
    lines, ok = [], True
    for finding in findings:
        if finding.ok:
            lines.append(f"ok    {finding.path}  ({finding.how})")
            continue
        ok = False
        lines += [f"FAIL  {finding.path}: {problem}  ({finding.how})" for problem in finding.problems]
    return lines, ok
