import json
import logging
import subprocess
import sys
import textwrap

import pytest

import shipper
from shipper.errors import ConfigError
from shipper.logs.stdout import LineHandler


def run_app(code: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """A Python child that starts with ``import shipper.autolog``; stdout parsed as JSON lines."""
    source = "import shipper.autolog\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=30,
                          env={**_base_env(), **(env or {})}, **kwargs)


def _base_env() -> dict:
    import os
    return {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "SERVICE_", "SHIPPER_", "SENTRY_"))}


def records(result: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_calling_setup_twice_installs_one_handler(logs, log):
    out = logs()
    shipper.setup_logging(stream=out.stream)
    log.warning("once")
    assert len(out.lines()) == 1
    assert sum(isinstance(h, LineHandler) for h in logging.getLogger().handlers) == 1


def test_reset_logging_removes_the_handler_and_restores_the_level(logs):
    root = logging.getLogger()
    before = root.level
    logs(level="DEBUG")
    shipper.reset_logging()
    assert root.level == before and not any(isinstance(h, LineHandler) for h in root.handlers)


def test_the_level_comes_from_log_level(logs, log, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "warning")
    out = logs()
    log.info("hidden")
    log.warning("shown")
    assert [r["message"] for r in out.records()] == ["shown"]


def test_an_unknown_level_is_a_clear_error(logs):
    with pytest.raises(ConfigError, match="log level 'loud'.*use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        logs(level="loud")


def test_the_service_and_schema_come_from_the_environment(logs, log, monkeypatch):
    monkeypatch.setenv("SERVICE_NAME", "web")
    monkeypatch.setenv("SERVICE_ENVIRONMENT", "prod")
    monkeypatch.setenv("LOG_SCHEMA", "flat")
    out = logs()
    log.info("x")
    assert (out.last()["service"], out.last()["environment"], out.last()["level"]) == ("web", "prod", "info")


def test_records_of_third_party_loggers_come_out_in_the_same_schema(logs):
    out = logs()
    logging.getLogger("urllib3.connectionpool").warning("retrying")
    assert out.last()["log"]["logger"] == "urllib3.connectionpool" and out.last()["log.level"] == "warning"


def test_warnings_are_captured_as_records():
    (record,) = records(run_app("import warnings\nwarnings.warn('old api')"))
    assert record["log"]["logger"] == "py.warnings" and "UserWarning: old api" in record["message"]


def test_the_import_writes_one_json_line_per_record_on_stdout():
    result = run_app("import logging\nlogging.getLogger('app').info('hello')", {"SERVICE_NAME": "svc"})
    (record,) = records(result)
    assert (record["message"], record["service"]["name"]) == ("hello", "svc") and result.stderr == ""


def test_each_record_is_flushed_as_it_is_logged():
    code = "import shipper.autolog, logging, sys\nlogging.getLogger('app').info('first')\nsys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env=_base_env())
    try:
        assert json.loads(child.stdout.readline())["message"] == "first"  # while the child still runs
    finally:
        child.stdin.close()
        child.wait(10)


def test_an_uncaught_exception_becomes_a_record():
    result = run_app("raise ValueError('bad config')")
    (record,) = records(result)
    assert result.returncode == 1 and record["log.level"] == "critical"
    assert record["error"]["type"] == "ValueError" and "bad config" in record["error"]["stack_trace"]
    assert "Traceback" not in result.stderr  # not printed a second time as text


def test_an_uncaught_exception_in_a_thread_becomes_a_record():
    result = run_app("""
        import threading
        def work(): raise OSError('disk gone')
        t = threading.Thread(target=work, name='worker'); t.start(); t.join()
    """)
    (record,) = records(result)
    assert record["message"] == "uncaught exception in thread worker" and record["error"]["type"] == "OSError"
    assert record["process"]["thread"]["name"] == "worker"


def test_an_exception_asyncio_could_not_deliver_becomes_a_record():
    result = run_app("""
        import asyncio, gc
        async def fail(): raise KeyError('lost')
        async def main():
            task = asyncio.get_running_loop().create_task(fail())
            await asyncio.sleep(0)
            del task
            gc.collect()
        asyncio.run(main())
    """)
    (record,) = records(result)
    assert record["log"]["logger"] == "asyncio" and record["error"]["type"] == "KeyError"


def test_a_closed_stdout_never_raises_into_the_application():
    result = run_app("""
        import logging, os, sys
        os.close(1)
        logging.getLogger('app').info('into the void')
        logging.getLogger('app').info('again')
        print('still running', file=sys.stderr)
    """)
    assert result.returncode == 0 and result.stderr.count("stopped logging to stdout") == 1
    assert "still running" in result.stderr


def test_a_broken_pipe_on_stdout_never_raises_into_the_application():
    code = "import shipper.autolog, logging, sys, time\n" \
           "for n in range(2000): logging.getLogger('app').info('line %d', n)\n" \
           "print('survived', file=sys.stderr)"
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=_base_env())
    writer.stdout.readline()
    writer.stdout.close()  # the reader goes away mid-stream
    _, err = writer.communicate(timeout=30)
    assert writer.returncode == 0 and b"survived" in err and b"Traceback" not in err
