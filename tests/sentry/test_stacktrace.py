"""Reading what a real interpreter printed as Sentry's exception values, grouping key and crash frames."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sentry_sdk.utils import exceptions_from_error_tuple

from shipper.sentry.stacktrace import exceptions, fatal_error, fault_frames, final_exception, fingerprint

from .. import crashes

UNHANDLED = {"type": "logwrap", "handled": False}
needs_groups = pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are new in Python 3.11")


def run(tmp_path, code: str, *options: str, env: dict[str, str] | None = None) -> str:
    """What Python prints to stderr running ``code`` as the script app.py."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, *options, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=60)
    assert done.returncode != 0
    return done.stderr


def frame(path, lineno, function, context_line=None, in_app=True, filename=None):
    return {"filename": filename or str(path), "abs_path": str(path), "lineno": lineno, "function": function,
            "context_line": context_line, "in_app": in_app}


def app(tmp_path, lineno, function, context_line):
    return frame(tmp_path / "app.py", lineno, function, context_line)


def summary(values):
    """Type, value and mechanism of each value: what tells a chain's and a group's shape."""
    return [(value["type"], value["value"], value["mechanism"]) for value in values]


# Plain tracebacks

def test_a_traceback_becomes_one_value_whose_frames_run_from_the_oldest_call(tmp_path):
    text = run(tmp_path, """\
        def load(name):
            raise LookupError(f"no {name}")


        def main():
            load("config")


        main()
        """)
    assert exceptions(text) == [{
        "type": "LookupError", "module": None, "value": "no config", "mechanism": UNHANDLED,
        "stacktrace": {"frames": [app(tmp_path, 9, "<module>", "main()"),
                                  app(tmp_path, 6, "main", 'load("config")'),
                                  app(tmp_path, 2, "load", 'raise LookupError(f"no {name}")')]},
    }]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the carets are new in Python 3.11")
def test_the_carets_under_a_source_line_are_not_its_context(tmp_path):
    text = run(tmp_path, "settings = {'db': {}}\nprint(settings['db']['host']['port'])\n")
    assert "~~~~~~~~~~~~~~^^^^^^^^" in text
    (value,) = exceptions(text)
    assert value["stacktrace"]["frames"] == [app(tmp_path, 2, "<module>", "print(settings['db']['host']['port'])")]


def test_a_direct_cause_comes_first_and_the_exception_raised_from_it_last(tmp_path):
    text = run(tmp_path, """\
        try:
            int("x")
        except ValueError as error:
            raise RuntimeError("bad setting") from error
        """)
    assert "The above exception was the direct cause of the following exception:" in text
    assert exceptions(text) == [
        {"type": "ValueError", "module": None, "value": "invalid literal for int() with base 10: 'x'",
         "mechanism": UNHANDLED, "stacktrace": {"frames": [app(tmp_path, 2, "<module>", 'int("x")')]}},
        {"type": "RuntimeError", "module": None, "value": "bad setting", "mechanism": UNHANDLED,
         "stacktrace": {"frames": [app(tmp_path, 4, "<module>", 'raise RuntimeError("bad setting") from error')]}},
    ]


def test_an_exception_raised_while_handling_another_comes_after_it(tmp_path):
    text = run(tmp_path, """\
        try:
            1 / 0
        except ZeroDivisionError:
            {}["missing"]
        """)
    assert "During handling of the above exception, another exception occurred:" in text
    assert [(v["type"], v["value"]) for v in exceptions(text)] == [
        ("ZeroDivisionError", "division by zero"), ("KeyError", "'missing'")]


def test_raise_from_none_leaves_only_the_last_exception(tmp_path):
    text = run(tmp_path, """\
        try:
            {}["key"]
        except KeyError:
            raise ValueError("no key") from None
        """)
    assert summary(exceptions(text)) == [("ValueError", "no key", UNHANDLED)]


def test_a_message_of_several_lines_and_its_notes_are_the_value(tmp_path):
    text = run(tmp_path, """\
        error = ValueError("first line\\nsecond line")
        error.add_note("a note") if hasattr(error, "add_note") else None
        raise error
        """)
    note = "\na note" if sys.version_info >= (3, 11) else ""
    assert [v["value"] for v in exceptions(text)] == ["first line\nsecond line" + note]


@pytest.mark.parametrize("raise_it", ["raise KeyboardInterrupt", "raise KeyError", "raise SystemExit"])
def test_an_exception_without_a_message_has_an_empty_value(tmp_path, raise_it):
    code = f"import traceback\ntry:\n    {raise_it}\nexcept BaseException:\n    traceback.print_exc()\n    raise SystemExit(1)\n"
    (value,) = exceptions(run(tmp_path, code))
    assert (value["type"], value["value"]) == (raise_it.split()[1], "")


@pytest.mark.parametrize(("raise_it", "module", "type_"), [
    ("raise shop.errors.OutOfStock('book')", "shop.errors", "OutOfStock"),
    ("raise shop.errors.Book.DoesNotExist('book')", "shop.errors", "Book.DoesNotExist"),
    ("import json; json.loads('{')", "json.decoder", "JSONDecodeError"),
    ("raise OSError(2, 'gone')", None, "FileNotFoundError"),
])
def test_the_module_is_told_from_the_type_as_sentry_sdk_tells_them(tmp_path, raise_it, module, type_):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "errors.py").write_text(
        "class OutOfStock(Exception):\n    pass\n\n\nclass Book:\n    class DoesNotExist(Exception):\n        pass\n")
    (value,) = exceptions(run(tmp_path, f"import shop.errors\n{raise_it}\n"))
    assert (value["module"], value["type"]) == (module, type_)


def test_frames_of_installed_packages_and_of_the_standard_library_are_not_the_apps(tmp_path):
    site_packages = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    site_packages.mkdir(parents=True)
    (site_packages / "vendor.py").write_text("def call(function):\n    return function()\n")
    text = run(tmp_path, """\
        import json

        import vendor

        vendor.call(lambda: json.loads("{"))
        """, env={"PYTHONPATH": str(site_packages)})
    (value,) = exceptions(text)
    frames = value["stacktrace"]["frames"]
    assert frames[:3] == [app(tmp_path, 5, "<module>", 'vendor.call(lambda: json.loads("{"))'),
                          frame(site_packages / "vendor.py", 2, "call", "return function()", False, "vendor.py"),
                          app(tmp_path, 5, "<lambda>", 'vendor.call(lambda: json.loads("{"))')]
    assert [(f["filename"], f["in_app"]) for f in frames[3:]] == [
        ("json/__init__.py", False), ("json/decoder.py", False), ("json/decoder.py", False)]


def test_runpys_frames_frozen_or_not_are_not_the_apps(tmp_path):
    (tmp_path / "web.py").write_text("raise RuntimeError('at import')\n")
    text = subprocess.run([sys.executable, "-m", "web"], capture_output=True, text=True, cwd=tmp_path).stderr
    (value,) = exceptions(text)
    frames = value["stacktrace"]["frames"]
    assert [(f["function"], f["in_app"]) for f in frames][-1] == ("<module>", True)
    assert all(not f["in_app"] for f in frames[:-1])
    runpy = "<frozen runpy>" if sys.version_info >= (3, 11) else "runpy.py"  # frozen since 3.11
    assert frames[0]["filename"] == runpy


# What sentry-sdk itself sends for the same exception

def fail_in_a_chain():
    try:
        try:
            json.loads("{")
        except ValueError as error:
            raise RuntimeError("bad config") from error
    except RuntimeError:
        {}["missing"]


def fail_with_notes():
    error = TypeError("first line\nsecond line")
    error.add_note("a note")
    raise error


def fail_in_a_group():
    errors = []
    for kind in (ValueError, TypeError):
        try:
            raise kind("bad")
        except Exception as error:
            errors.append(error)
    raise ExceptionGroup("two failures", errors)  # noqa: F821 (Python 3.11 and later; skipped before)


def as_the_text_tells(value):
    """A value without what only a live exception tells: locals, module of each frame, lines around."""
    frames = [{"abs_path": os.path.abspath(frame["abs_path"]), "lineno": frame["lineno"], "function": frame["function"],
               "context_line": (frame["context_line"] or "").strip() or None}
              for frame in value.get("stacktrace", {}).get("frames", [])]
    return {"type": value["type"], "module": value["module"], "value": value["value"],
            "mechanism": value["mechanism"], "frames": frames}


@pytest.mark.parametrize("fail", [
    fail_in_a_chain,
    pytest.param(fail_with_notes, marks=needs_groups),
    pytest.param(fail_in_a_group, marks=needs_groups),
], ids=["chain", "notes", "group"])
def test_the_values_are_what_sentry_sdk_makes_of_the_same_exception(fail):
    try:
        fail()
    except BaseException as error:
        text = traceback.format_exc()
        sent = exceptions_from_error_tuple((type(error), error, error.__traceback__), {
            "include_local_variables": False, "include_source_context": True, "max_value_length": None}, UNHANDLED)
    assert [as_the_text_tells(value) for value in exceptions(text)] == [as_the_text_tells(value) for value in sent]


# SyntaxError

def test_a_syntax_error_at_import_is_valued_as_str_gives_it_and_its_place_is_its_last_frame(tmp_path):
    (tmp_path / "broken.py").write_text("total = = 1\n")
    text = run(tmp_path, "import broken\n")
    assert exceptions(text) == [{
        "type": "SyntaxError", "module": None, "value": "invalid syntax (broken.py, line 1)", "mechanism": UNHANDLED,
        "stacktrace": {"frames": [app(tmp_path, 1, "<module>", "import broken"),
                                  frame(tmp_path / "broken.py", 1, None, "total = = 1")]},
    }]


def test_a_script_that_does_not_compile_has_only_the_place_of_its_error(tmp_path):
    text = run(tmp_path, "if True:\n    total = 1\n        more = 2\n")
    assert not text.startswith("Traceback")
    assert exceptions(text) == [{
        "type": "IndentationError", "module": None, "value": "unexpected indent (app.py, line 3)",
        "mechanism": UNHANDLED, "stacktrace": {"frames": [app(tmp_path, 3, None, "more = 2")]},
    }]


# Exception groups

@needs_groups
def test_the_sub_exceptions_of_a_group_come_before_it_with_their_parent(tmp_path):
    text = run(tmp_path, """\
        def fail(kind, message):
            raise kind(message)


        errors = []
        for kind, message in ((ValueError, "bad value"), (TypeError, "bad type")):
            try:
                fail(kind, message)
            except Exception as error:
                errors.append(error)
        raise ExceptionGroup("two failures", errors)
        """)
    assert text.startswith("  + Exception Group Traceback (most recent call last):")
    sub = [app(tmp_path, 8, "<module>", "fail(kind, message)"), app(tmp_path, 2, "fail", "raise kind(message)")]
    assert exceptions(text) == [
        {"type": "TypeError", "module": None, "value": "bad type", "stacktrace": {"frames": sub},
         "mechanism": {**UNHANDLED, "type": "chained", "exception_id": 2, "parent_id": 0, "source": "exceptions[1]"}},
        {"type": "ValueError", "module": None, "value": "bad value", "stacktrace": {"frames": sub},
         "mechanism": {**UNHANDLED, "type": "chained", "exception_id": 1, "parent_id": 0, "source": "exceptions[0]"}},
        {"type": "ExceptionGroup", "module": None, "value": "two failures",
         "mechanism": {**UNHANDLED, "exception_id": 0, "is_exception_group": True},
         "stacktrace": {"frames": [app(tmp_path, 11, "<module>", 'raise ExceptionGroup("two failures", errors)')]}},
    ]


@needs_groups
def test_a_nested_group_and_a_chain_inside_a_sub_exception_keep_their_parents(tmp_path):
    text = run(tmp_path, """\
        def chained():
            try:
                1 / 0
            except ZeroDivisionError:
                raise TypeError("while dividing")


        errors = [ExceptionGroup("inner", [KeyError("k"), ValueError("v")])]
        try:
            chained()
        except TypeError as error:
            errors.append(error)
        raise ExceptionGroup("outer", errors)
        """)
    assert summary(exceptions(text)) == [
        ("ZeroDivisionError", "division by zero",
         {**UNHANDLED, "type": "chained", "exception_id": 5, "parent_id": 4, "source": "__context__"}),
        ("TypeError", "while dividing",
         {**UNHANDLED, "type": "chained", "exception_id": 4, "parent_id": 0, "source": "exceptions[1]"}),
        ("ValueError", "v", {**UNHANDLED, "type": "chained", "exception_id": 3, "parent_id": 1, "source": "exceptions[1]"}),
        ("KeyError", "'k'", {**UNHANDLED, "type": "chained", "exception_id": 2, "parent_id": 1, "source": "exceptions[0]"}),
        ("ExceptionGroup", "inner", {**UNHANDLED, "type": "chained", "exception_id": 1, "parent_id": 0,
                                     "source": "exceptions[0]", "is_exception_group": True}),
        ("ExceptionGroup", "outer", {**UNHANDLED, "exception_id": 0, "is_exception_group": True}),
    ]


@needs_groups
def test_a_group_handled_before_a_later_exception_keeps_its_sub_exceptions(tmp_path):
    text = run(tmp_path, """\
        try:
            raise ExceptionGroup("batch", [KeyError("k")])
        except ExceptionGroup:
            raise RuntimeError("batch failed")
        """)
    assert summary(exceptions(text)) == [
        ("KeyError", "'k'", {**UNHANDLED, "type": "chained", "exception_id": 2, "parent_id": 1, "source": "exceptions[0]"}),
        ("ExceptionGroup", "batch", {**UNHANDLED, "type": "chained", "exception_id": 1, "parent_id": 0,
                                     "source": "__context__", "is_exception_group": True}),
        ("RuntimeError", "batch failed", {**UNHANDLED, "exception_id": 0}),
    ]


@needs_groups
def test_the_sub_exceptions_python_leaves_out_of_a_wide_group_are_not_invented(tmp_path):
    text = run(tmp_path, "raise ExceptionGroup('wide', [ValueError(n) for n in range(17)])\n")
    assert "and 2 more exceptions" in text
    values = exceptions(text)
    assert len(values) == 16 and values[0]["mechanism"]["source"] == "exceptions[14]"


def test_a_python_311_message_whose_later_lines_lack_the_margin_is_read_whole():
    text = textwrap.dedent("""\
          + Exception Group Traceback (most recent call last):
          |   File "/srv/app.py", line 1, in <module>
          | ExceptionGroup: batch (1 sub-exception)
          +-+---------------- 1 ----------------
            | TypeError: first
        second
            +------------------------------------
        """)
    assert [v["value"] for v in exceptions(text)] == ["first\nsecond", "batch"]


# Where the text comes from

def test_lines_as_logwrap_groups_them_give_what_the_text_gives(tmp_path):
    text = run(tmp_path, "try:\n    1 / 0\nexcept Exception as e:\n    raise KeyError('k') from e\n")
    lines = text.rstrip("\n").encode().split(b"\n")
    assert exceptions(lines) == exceptions(text) and len(exceptions(text)) == 2


def test_text_a_logger_wrote_before_the_traceback_is_skipped(tmp_path):
    text = run(tmp_path, "raise ValueError('bad')\n")
    assert exceptions("ERROR:root:request failed\n" + text) == exceptions(text)


def test_the_live_exception_of_a_real_interpreter_reads_back():
    try:
        {}["key"]
    except KeyError:
        text = traceback.format_exc()
    (value,) = exceptions(text)
    assert (value["type"], value["value"], value["stacktrace"]["frames"][-1]["context_line"]) == ("KeyError", "'key'", '{}["key"]')


def test_the_stack_trace_of_shippers_formatter_gives_the_whole_chain(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent("""\
        import logging

        import shipper

        shipper.setup_logging()
        try:
            try:
                int("x")
            except ValueError as error:
                raise RuntimeError("bad setting") from error
        except RuntimeError:
            logging.getLogger("app").exception("startup failed")
        """))
    done = subprocess.run([sys.executable, "app.py"], capture_output=True, text=True, cwd=tmp_path, check=True)
    error = json.loads(done.stdout)["error"]
    assert summary(exceptions(error["stack_trace"])) == [
        ("ValueError", "invalid literal for int() with base 10: 'x'", UNHANDLED), ("RuntimeError", "bad setting", UNHANDLED)]


def test_ecs_loggings_stack_trace_of_frames_only_is_named_by_the_records_error_type(tmp_path):
    pytest.importorskip("ecs_logging")
    (tmp_path / "app.py").write_text(textwrap.dedent("""\
        import logging

        import ecs_logging

        handler = logging.StreamHandler()
        handler.setFormatter(ecs_logging.StdlibFormatter())
        logging.getLogger().addHandler(handler)
        try:
            {}["user"]
        except KeyError:
            logging.getLogger("app").exception("lookup failed")
        """))
    done = subprocess.run([sys.executable, "app.py"], capture_output=True, text=True, cwd=tmp_path, check=True)
    error = json.loads(done.stderr)["error"]
    assert not error["stack_trace"].startswith("Traceback")
    assert exceptions(error["stack_trace"], error_type=error["type"], error_message=error["message"]) == [{
        "type": "KeyError", "module": None, "value": "'user'", "mechanism": UNHANDLED,
        "stacktrace": {"frames": [app(tmp_path, 9, "<module>", '{}["user"]')]},
    }]


@pytest.mark.parametrize("text", [
    "", "plain words\n", '{"message": "hi"}', "Traceback (most recent call last):\n",
    "ValueError: an exception line alone\n", crashes.PY310_TWO_THREADS,
], ids=["empty", "words", "json", "header alone", "exception line alone", "fault dump"])
def test_text_that_holds_no_traceback_gives_no_values(text):
    assert exceptions(text) == [] and final_exception(text) == ("", "")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "Traceback (most recent call last):", '  File "/srv/app.py", line 3, in main', '  File "x.py", line 2',
    "    source()", "    ~~~^^", "ValueError: bad", "KeyError", "", "  + Exception Group Traceback (most recent call last):",
    "  | ExceptionGroup: g (2 sub-exceptions)", "  +-+---------------- 1 ----------------", "    | TypeError: t",
    "    +---------------- 2 ----------------", "    +------------------------------------", "  |   File \"a.py\", line 1, in f",
    "The above exception was the direct cause of the following exception:", "and 3 more exceptions",
    "During handling of the above exception, another exception occurred:", "    | Exception Group Traceback (most recent call last):",
    "    +-+---------------- 1 ----------------", "      | KeyError: 'k'", '  File "/a.py", line 99999999999999999999999, in f',
]), max_size=40) | st.text().map(lambda text: text.split("\n")))
def test_no_text_makes_the_parser_raise(lines):
    text = "\n".join(lines)
    values = exceptions(text)
    fingerprint(values)
    final_exception(text)
    assert isinstance(values, list)


# The last exception, for logwrap's error.type and error.message

@pytest.mark.parametrize("code", [
    "raise ValueError('bad')",
    "try:\n    1 / 0\nexcept Exception as e:\n    raise KeyError('k') from e",
    "try:\n    1 / 0\nexcept Exception:\n    raise OSError(2, 'gone')",
    "raise RuntimeError('first line\\nsecond line')",
    "import json; json.loads('{')",
    "exec('total = = 1')",
], ids=["plain", "cause", "context", "several lines", "module", "syntax"])
def test_the_final_exception_is_the_last_value_named_as_python_prints_it(tmp_path, code):
    text = run(tmp_path, code + "\n")
    last = exceptions(text)[-1]
    name = f"{last['module']}.{last['type']}" if last["module"] else last["type"]
    assert final_exception(text) == (name, last["value"])


@needs_groups
def test_the_final_exception_of_a_group_is_the_group_as_str_gives_it(tmp_path):
    text = run(tmp_path, "raise ExceptionGroup('batch', [KeyError('k'), ValueError('v')])\n")
    assert final_exception(text) == ("ExceptionGroup", "batch (2 sub-exceptions)")


def test_a_chain_message_with_nothing_after_it_leaves_the_exception_before_it_final():
    text = "Traceback (most recent call last):\n  File \"/srv/app.py\", line 1, in <module>\nValueError: bad\n\n" \
           "During handling of the above exception, another exception occurred:\n\n"
    assert final_exception(text) == ("ValueError", "bad") == (exceptions(text)[-1]["type"], exceptions(text)[-1]["value"])


# The grouping key

BUG = """\
    import views


    def handle(request):
        return views.show(request)


    handle({"user": "%s"})
    """
VIEWS = """\
def show(request):
    return lookup(request["user"])


def lookup(user):
    raise KeyError(user)
"""


def test_the_same_bug_with_other_messages_and_lines_is_one_issue(tmp_path):
    (tmp_path / "views.py").write_text(VIEWS)
    first = exceptions(run(tmp_path, BUG % "ann"))
    (tmp_path / "views.py").write_text("# a comment moves every line\n" + VIEWS)
    second = exceptions(run(tmp_path, BUG % "bob"))
    assert first[-1]["value"] != second[-1]["value"]
    assert fingerprint(first) == fingerprint(second) == ["KeyError", "app:handle", "views:show", "views:lookup"]


def test_another_function_raising_is_another_issue(tmp_path):
    (tmp_path / "views.py").write_text(VIEWS.replace("return lookup(", "return find(").replace("def lookup", "def find"))
    assert fingerprint(exceptions(run(tmp_path, BUG % "ann")))[-1] == "views:find"


def test_library_frames_are_left_out_of_the_key(tmp_path):
    text = run(tmp_path, "import json\n\n\ndef load():\n    return json.loads('{')\n\n\nload()\n")
    assert fingerprint(exceptions(text)) == ["json.decoder.JSONDecodeError", "app:<module>", "app:load"]


def test_only_the_three_innermost_app_frames_are_in_the_key(tmp_path):
    text = run(tmp_path, "def a():\n    b()\n\n\ndef b():\n    c()\n\n\ndef c():\n    d()\n\n\ndef d():\n    1 / 0\n\n\na()\n")
    assert fingerprint(exceptions(text)) == ["ZeroDivisionError", "app:b", "app:c", "app:d"]


def test_with_no_app_frame_the_innermost_frames_make_the_key():
    text = textwrap.dedent("""\
        Traceback (most recent call last):
          File "/usr/lib/python3.12/runpy.py", line 198, in _run_module_as_main
          File "/venv/lib/python3.12/site-packages/gunicorn/app.py", line 7, in run
          File "/venv/lib/python3.12/site-packages/gunicorn/arbiter.py", line 9, in halt
        SystemExit: 1
        """)
    assert fingerprint(exceptions(text)) == ["SystemExit", "runpy:_run_module_as_main", "app:run", "arbiter:halt"]


def test_no_values_have_no_key():
    assert fingerprint([]) == []


# Fatal errors: faulthandler's dump

def test_the_crashed_threads_frames_run_from_the_oldest_call(tmp_path):
    import ctypes

    dump = crashes.crash(crashes.SEGFAULT, cwd=tmp_path).decode()
    assert dump.startswith("Fatal Python error: Segmentation fault")
    frames = fault_frames(dump)
    assert frames[:2] == [app(tmp_path, 8, "<module>", None), app(tmp_path, 5, "crash", None)]
    assert frames[2] == frame(ctypes.__file__, frames[2]["lineno"], "string_at", None, False, "ctypes/__init__.py")


def test_only_the_crashed_threads_frames_are_taken(tmp_path):
    dump = crashes.crash(crashes.SEGFAULT_TWO_THREADS, cwd=tmp_path).decode()
    assert "\nThread 0x" in dump and "in poll" in dump
    assert [f["function"] for f in fault_frames(dump)] == ["<module>", "crash", "string_at"]


@pytest.mark.parametrize(("dump", "string_at_line"), [(crashes.PY310_TWO_THREADS, 517), (crashes.PY313_TWO_THREADS, 538)],
                         ids=["3.10", "3.13"])
def test_the_crashed_threads_frames_in_other_pythons_dumps(dump, string_at_line):
    assert [(f["filename"], f["lineno"], f["function"], f["in_app"]) for f in fault_frames(dump)] == [
        ("/tmp/web/app.py", 17, "<module>", True), ("/tmp/web/app.py", 12, "crash", True),
        ("ctypes/__init__.py", string_at_line, "string_at", False)]


def test_a_dump_of_the_current_thread_alone_gives_its_frames(tmp_path):
    code = "import ctypes, faulthandler\nfaulthandler.enable(all_threads=False)\nctypes.string_at(0)\n"
    dump = crashes.crash(code, cwd=tmp_path).decode()
    assert "\nStack (most recent call first):\n" in dump
    assert [f["function"] for f in fault_frames(dump)] == ["<module>", "string_at"]


def test_a_crash_before_any_python_code_ran_has_no_frames():
    dump = crashes.crash("pass", env={"PYTHONHOME": "/nonexistent"}).decode()
    assert "  <no Python frame>" in dump
    assert fault_frames(dump) == []


def test_pythons_314_c_stack_is_not_taken_as_python_frames():
    assert [f["function"] for f in fault_frames(crashes.PY314_C_STACK)] == ["<module>", "crash", "string_at"]


@pytest.mark.parametrize(("code", "error_type", "header"), [
    (crashes.SEGFAULT, "SIGSEGV", "Fatal Python error: Segmentation fault"),
    ("import faulthandler; faulthandler._sigabrt()", "SIGABRT", "Fatal Python error: Aborted"),
    ("import faulthandler; faulthandler._sigfpe()", "SIGFPE", None),
    ("import ctypes; ctypes.pythonapi.Py_FatalError(b'pool is corrupt')", "FatalError", "Fatal Python error: pool is corrupt"),
], ids=["segfault", "abort", "floating point", "Py_FatalError"])
def test_a_fatal_error_is_typed_by_its_signal(code, error_type, header):
    dump = crashes.crash(code).decode()
    assert fatal_error(dump) == (error_type, header or dump.splitlines()[0])


@pytest.mark.parametrize(("dump", "expected"), [
    (crashes.PY313_FLOATING_POINT, ("SIGFPE", "Fatal Python error: Floating-point exception")),
    (crashes.PY310_START_FAILURE, ("FatalError", "Fatal Python error: init_import_site: Failed to import the site module")),
    (f"Fatal Python error from unexpected signum: {signal.SIGUSR1.value}\n\n",
     ("SIGUSR1", f"Fatal Python error from unexpected signum: {signal.SIGUSR1.value}")),
], ids=["3.13 floating point", "3.10 start failure", "unexpected signal"])
def test_other_pythons_fatal_errors_are_typed(dump, expected):
    assert fatal_error(dump) == expected


def test_a_failure_to_start_is_typed_fatal_error_for_no_signal_killed_it():
    done = subprocess.run([sys.executable, "-c", "pass"], capture_output=True, text=True,
                          env={"PYTHONHOME": "/nonexistent"})
    assert done.returncode == 1
    assert fatal_error(done.stderr)[0] == "FatalError"


def test_the_python_traceback_a_fatal_error_shows_is_readable_as_exceptions():
    assert summary(exceptions(crashes.PY310_START_FAILURE)) == [
        ("ModuleNotFoundError", "No module named 'missing_settings'", UNHANDLED), ("RuntimeError", "site is broken", UNHANDLED)]
