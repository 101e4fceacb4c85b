"""Python tracebacks and faulthandler dumps, as text, to Sentry's exception interface (sans-I/O).

``exceptions`` reads what Python prints for an uncaught exception (a logwrap group's lines,
or the ``error.stack_trace`` of an ECS record) and returns the ``values`` of a Sentry event's
``exception`` interface, shaped and ordered as sentry-sdk's ``exceptions_from_error_tuple``
would have sent the same exception:

- The oldest exception comes first and the one finally raised comes last. Frames run from
  the oldest call to the newest, the order Python prints them in.
- A chain (``__cause__`` or ``__context__``) is a flat list, as sentry-sdk sends it. Once the
  text holds an exception group, every value has ``mechanism.exception_id``, numbered as
  sentry-sdk numbers them, and each value but the root also has ``parent_id`` and ``source``
  (``__cause__``, ``__context__`` or ``exceptions[i]``). The parent of a sub-exception's cause
  is that sub-exception. sentry-sdk gives the root instead, which draws the wrong tree.
- A ``SyntaxError``'s value is what ``str()`` gives, "invalid syntax (app.py, line 3)", the
  same as sentry-sdk sends. Its location is also added as its newest frame, with the
  offending line as context. The event then shows that line, and the fingerprint can tell one
  broken file from another.
- ``type`` and ``module`` are split from the printed name: "myapp.models.Book.DoesNotExist" is
  type ``Book.DoesNotExist`` in module ``myapp.models``. The module is the name up to its
  last part that starts lowercase, as module names do and class names do not (with no such
  part, up to the last dot: "PIL.Image.DecompressionBombError").
- A frame is ``in_app`` unless its file lies in site-packages, dist-packages or a Python's
  own ``lib/pythonX.Y``, or is ``<frozen ...>``. Any ``lib/pythonX.Y`` counts, because the app may
  run another Python than logwrap. For those files the ``filename`` is relative to that
  directory, "json/decoder.py", as sentry-sdk makes it. Other files keep their path as printed.

``fingerprint`` gives such an event the key Sentry groups it by. ``fatal_error``,
``fault_frames`` and ``fault_exception`` read the dump Python prints as it dies of a fatal
error (faulthandler's on a fatal signal, or ``Py_FatalError``'s).

Text that holds no traceback gives ``[]``. Nothing here raises on odd text.
"""

from __future__ import annotations

import itertools
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Value = dict[str, Any]  # a value of Sentry's exception interface, or one of its frames
Trace = str | Sequence[bytes]  # the text, or its lines as logwrap's multiline Group holds them

_CHAINS = {
    "The above exception was the direct cause of the following exception:": "__cause__",
    "During handling of the above exception, another exception occurred:": "__context__",
}
_HEADERS = ("Traceback (most recent call last):", "Exception Group Traceback (most recent call last):")
_STARTS = (_HEADERS[0], "  + " + _HEADERS[1], '  File "')
_FRAME = re.compile(r'  File "(.*)", line (\d{1,10})(?:, in (.*))?$')  # no ", in f": a SyntaxError's place
_SEPARATOR = re.compile(r"(?:\+-|  )\+-+ \S+ -+$")  # "+-+---- 1 ----", then "  +---- 2 ----", ...
_SUB_EXCEPTIONS = re.compile(r" \(\d+ sub-exceptions?\)$", re.MULTILINE)  # str() adds it, .message has not
_NAME = re.compile(r"[^\W\d][\w.]*$")
_LIBRARY = re.compile(r".*(?:[\\/](?:site|dist)-packages[\\/]|/lib(?:64)?/python\d[\d.]*t?/|\\Lib\\)")
_DIRECTORY = re.compile(r"[\\/]")
_MAX_DEPTH = 32  # Python prints groups 10 deep (max_group_depth); deeper margins are not a traceback
_FINGERPRINT_FRAMES = 3

_FATAL = "Fatal Python error"
_SIGNALS = {"Segmentation fault": "SIGSEGV", "Aborted": "SIGABRT", "Bus error": "SIGBUS",
            "Illegal instruction": "SIGILL", "Floating point exception": "SIGFPE",
            "Floating-point exception": "SIGFPE"}  # faulthandler's names; 3.13 added the hyphen
_CURRENT_THREAD = ("Current thread 0x", "Stack (most recent call first):")
_FAULT_FRAME = re.compile(r'  File "(.*)", line (\d{1,10}|\?\?\?) in (.*)$')


@dataclass
class _Exception:
    name: str  # as Python prints it: "json.decoder.JSONDecodeError"
    message: str
    frames: list[Value]
    chained: tuple[str, _Exception] | None = None  # ("__cause__" or "__context__", the older one)
    exceptions: list[tuple[int, _Exception]] = field(default_factory=list)  # a group's, by index
    group: bool = False


def exceptions(trace: Trace, *, error_type: str = "", error_message: str = "") -> list[Value]:
    """Sentry's exception values for a traceback's text; ``[]`` for text that holds none.

    ``error_type`` and ``error_message`` name the final exception when the text has only its
    frames, as in ecs-logging's ``error.stack_trace`` (``traceback.format_tb``).
    """
    root = _parse(_lines(trace))
    if root is None:
        return []
    if not root.name:
        root.name, root.message = error_type, error_message
    if any(node.group for node in _walk_chain(root)):
        return _tree_values(root)
    return [_value(node, _mechanism()) for node in reversed(list(_walk_chain(root)))]


def final_exception(trace: Trace) -> tuple[str, str]:
    """The name, as Python prints it, and the message of the exception a traceback ends with.

    The same exception ``exceptions`` puts last, found at a fraction of the cost (logwrap asks
    for every traceback it groups). Only the lines after the last chain message are read, and
    neither frames nor a group's sub-exceptions are built.
    """
    text = trace if isinstance(trace, str) else b"\n".join(trace).decode("utf-8", "replace")
    while True:
        last = max(text.rfind(f"\n{message}\n") for message in _CHAINS)
        node = _final_link(_lines(text[last + 1:] if last >= 0 else text))
        if node is not None:
            return node.name, node.message
        if last < 0:
            return "", ""
        text = text[:last]  # no exception after that message: the one before it ends the traceback


def fingerprint(values: list[Value]) -> list[str]:
    """Sentry's grouping key for an event: the final exception's type and where in the app it was raised.

    That is the type with its module, then ``file:function`` for each of the app's own
    (``in_app``) innermost frames, up to 3. Frames from libraries are left out, and so are the
    message and the line numbers. The same bug, hit by many requests with other messages or
    after an unrelated edit to the file, stays one Sentry issue. The file is named without its
    directory, so a new release directory or container path keeps the issue too. With no app
    frame at all, the innermost frames are used instead, as Sentry's own grouping does.
    """
    if not values:
        return []
    final = values[-1]
    frames = final.get("stacktrace", {}).get("frames", [])
    own = [frame for frame in frames if frame["in_app"]] or frames
    name = f"{final['module']}.{final['type']}" if final["module"] else final["type"]
    return [name, *(_frame_key(frame) for frame in own[-_FINGERPRINT_FRAMES:])]


def fatal_error(dump: Trace) -> tuple[str, str]:
    """The error type of a fatal error's dump, and its "Fatal Python error: ..." line.

    The type is the signal that faulthandler names ("Segmentation fault" is SIGSEGV). A crash
    is searched for by its signal, and logwrap's crash event names the same one ("killed by
    SIGSEGV"). Any other dump is ``Py_FatalError``'s ("init_fs_encoding: failed to get the
    Python codec..."), typed "FatalError". That process aborts if it was running, but exits with
    status 1 if it failed to start, so no signal can be named from the text.
    """
    header = next((line for line in _lines(dump) if line.startswith(_FATAL)), "")
    reason = header.partition(": ")[2]
    if header.startswith(_FATAL + " from unexpected signum") and reason.isdigit():
        try:
            return signal.Signals(int(reason)).name, header
        except ValueError:
            pass
    return _SIGNALS.get(reason, "FatalError"), header


def fault_frames(dump: Trace) -> list[Value]:
    """The frames of the thread that crashed, from a faulthandler dump, oldest call first.

    faulthandler prints the most recent call first. Other threads' frames are left out. When
    the crash happened outside any Python thread, there are no frames.
    """
    frames: list[Value] = []
    current = False
    for line in _lines(dump):
        if line.startswith(_CURRENT_THREAD):
            current = True
        elif current and (match := _FAULT_FRAME.match(line)):
            path, lineno, function = match.groups()
            frames.append(_frame(path, int(lineno) if lineno.isdigit() else None, function))
        elif not line.startswith("  "):
            current = False
    return frames[::-1]


def fault_exception(dump: Trace) -> list[Value]:
    """Sentry's exception values for a fatal error's dump: one value, typed by its signal, with
    the frames of the thread that crashed ("SIGSEGV: Fatal Python error: Segmentation fault")."""
    error_type, header = fatal_error(dump)
    value: Value = {"type": error_type, "module": None, "value": header, "mechanism": _mechanism()}
    frames = fault_frames(dump)
    if frames:
        value["stacktrace"] = {"frames": frames}
    return [value]


def is_fault(trace: str) -> bool:
    """Whether the text is a fatal error's dump rather than a traceback."""
    return trace.startswith(_FATAL)


def _lines(trace: Trace) -> list[str]:
    if isinstance(trace, str):
        return trace.replace("\r\n", "\n").split("\n")
    return [line.decode("utf-8", "replace") for line in trace]


def _start(lines: list[str]) -> int | None:
    """Where the traceback starts: text a logger put before it is skipped."""
    return next((index for index, line in enumerate(lines) if line.startswith(_STARTS)), None)


def _parse(lines: list[str]) -> _Exception | None:
    start = _start(lines)
    return None if start is None else _chain(lines[start:], 0)


def _chain(lines: list[str], depth: int) -> _Exception | None:
    """The exceptions printed one after another, oldest first; returns the newest, which holds the rest."""
    newest = None
    for source, link in _links(lines):
        node = _link(link, depth)
        if node is not None:
            node.chained = None if newest is None else (source, newest)
            newest = node
    return newest


def _links(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Lines cut at the chain messages, each part with how it relates to the one before."""
    links: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        source = _CHAINS.get(line)
        if source is None:
            links[-1][1].append(line)
        else:
            links.append((source, []))
    return links


def _final_link(lines: list[str]) -> _Exception | None:
    """The exception in lines that hold no chain message, without its frames."""
    start = _start(lines)
    if start is None:
        return None
    link = lines[start:]
    if _top_group(link):  # its own lines end where its first sub-exception starts: "  +-+---- 1 ----"
        link = _unindent(list(itertools.takewhile(lambda line: not line.startswith("  +-"), link)))
    return _exception(link, with_frames=False)


def _link(lines: list[str], depth: int) -> _Exception | None:
    """One exception: its frames, its own lines, and a group's sub-exceptions."""
    own, regions = _sections(_unindent(lines) if _top_group(lines) else lines)
    node = _exception(own)
    if node is None or not regions:
        return node
    node.group = True
    if depth < _MAX_DEPTH:
        subs = ((index, _chain(_unindent(region), depth + 1)) for index, region in enumerate(regions))
        node.exceptions = [(index, sub) for index, sub in subs if sub is not None]
    return node


def _top_group(lines: list[str]) -> bool:
    """A group printed at the top carries a margin even on its own lines: "  | ValueError: x"."""
    return bool(lines) and lines[0].startswith(("  +", "  |"))


def _sections(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """A group's own lines, and the lines of each sub-exception (each after a "+---- n ----" line)."""
    own, regions = lines, list[list[str]]()
    for index, line in enumerate(lines):
        if line.startswith(("+-", "  +-")) and _SEPARATOR.match(line):
            if not regions:
                own = lines[:index]
            regions.append([])
        elif regions:
            regions[-1].append(line)
    return own, regions


def _unindent(lines: list[str]) -> list[str]:
    """One group level less: a "| " line becomes the exception's own, a deeper one keeps its margin."""
    out = []
    for line in lines:
        if not line.startswith("  "):
            out.append(line)  # Python 3.11 prints the later lines of a message without margin
            continue
        line = line[2:]
        if line.startswith(("| ", "+ ")) or line == "|":
            out.append(line[2:])
        elif line.rstrip("-") != "+":  # "+-----": the end of the group above
            out.append(line)
    return out


def _exception(lines: list[str], with_frames: bool = True) -> _Exception | None:
    """Frames ("  File ...", then the source line), then "pkg.Error: message" and the rest of the message."""
    for end, line in enumerate(lines):
        if line[:1] not in " \t" and line not in _HEADERS:
            return _named(lines[end:], _frames(lines[:end]) if with_frames else [], _location(lines[:end]))
    frames = _frames(lines) if with_frames else []
    return _Exception("", "", frames) if frames else None


def _frames(lines: list[str]) -> list[Value]:
    frames: list[Value] = []
    source_follows = False
    for line in lines:
        if source_follows and line.startswith("    "):
            frames[-1]["context_line"] = line.strip()  # only the first: 3.11's carets follow it
        elif line.startswith('  File "') and (match := _FRAME.match(line)):
            path, lineno, function = match.groups()
            frames.append(_frame(path, int(lineno), function))
            source_follows = True
            continue
        source_follows = False
    return frames


def _location(lines: list[str]) -> tuple[str, str] | None:
    """A SyntaxError's place: the last "  File" line, when it names no function."""
    last = next((line for line in reversed(lines) if line.startswith('  File "')), "")
    match = _FRAME.match(last)
    return (match[1], match[2]) if match and match[3] is None else None


def _named(lines: list[str], frames: list[Value], location: tuple[str, str] | None) -> _Exception | None:
    """The exception line, "pkg.Error: message" or a bare "KeyError", and the message's further lines."""
    name, _, first = lines[0].partition(": ")
    if not _NAME.match(name):
        return _Exception("", "", frames) if frames else None  # "and 2 more exceptions", or not Python's
    message = [first, *lines[1:]]
    while len(message) > 1 and not message[-1].strip():
        message.pop()
    if location is not None:
        path, lineno = location
        message[0] += f" ({_basename(path)}, line {lineno})"  # as str(SyntaxError) gives it
    return _Exception(name, "\n".join(message), frames)


def _frame(path: str, lineno: int | None, function: str | None) -> Value:
    library = _LIBRARY.match(path)
    return {
        "filename": path[library.end():] if library else path,
        "abs_path": path,
        "lineno": lineno,
        "function": function,
        "context_line": None,
        "in_app": library is None and not path.startswith("<frozen "),
    }


def _walk_chain(newest: _Exception) -> list[_Exception]:
    """The exception and the ones it was raised from, newest first."""
    chain = [newest]
    while chain[-1].chained is not None:
        chain.append(chain[-1].chained[1])
    return chain


def _tree_values(root: _Exception) -> list[Value]:
    """Like sentry-sdk's ``exceptions_from_error``: ids in pre-order from the root's 0, the list reversed."""
    values: list[Value] = []
    pending: list[tuple[_Exception, int | None, str]] = [(root, None, "")]
    while pending:
        node, parent_id, source = pending.pop()
        mechanism = _mechanism(exception_id=len(values))
        if node.group:
            mechanism["is_exception_group"] = True
        if parent_id is not None:
            mechanism.update(type="chained", parent_id=parent_id, source=source)
        children = [node.chained] if node.chained else []
        children += [(f"exceptions[{index}]", sub) for index, sub in node.exceptions]
        pending.extend((child, len(values), how) for how, child in reversed(children))
        values.append(_value(node, mechanism))
    return values[::-1]


def _mechanism(**ids: int) -> Value:
    """Unhandled: the app printed it because nothing caught it (or it logged it, having given up)."""
    return {"type": "logwrap", "handled": False, **ids}


def _value(node: _Exception, mechanism: Value) -> Value:
    type_, module = _split_name(node.name)
    message = _SUB_EXCEPTIONS.sub("", node.message, count=1) if node.group else node.message
    value: Value = {"type": type_, "module": module, "value": message, "mechanism": mechanism}
    if node.frames:
        value["stacktrace"] = {"frames": node.frames}
    return value


def _split_name(name: str) -> tuple[str, str | None]:
    parts = name.split(".")
    modules = [index for index, part in enumerate(parts[:-1]) if part[:1].islower() or part[:1] == "_"]
    cut = modules[-1] + 1 if modules else len(parts) - 1
    return ".".join(parts[cut:]), ".".join(parts[:cut]) or None


def _frame_key(frame: Value) -> str:
    return f"{_basename(frame['filename']).removesuffix('.py')}:{frame['function'] or ''}"


def _basename(path: str) -> str:
    return _DIRECTORY.split(path)[-1]
