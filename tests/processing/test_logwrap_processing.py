"""logwrap's processing flags, end to end: a real child, a real receiver, the summary's counts."""

import json
import os
import re

from ..processes import python, run_logwrap, run_send

LINES = [{"message": "req 1", "log.level": "debug", "lvl": "debug"}, {"message": "req 2", "log.level": "info"},
         {"message": "done", "log.level": "debug", "lvl": "warning"}]


def printing(records, *texts):
    lines = [json.dumps(record) for record in records] + list(texts)
    return python(f"print({chr(10).join(lines)!r})")


def messages(receiver):
    """The messages a receiver holds: logwrap has exited, so every record was acknowledged."""
    return [record["message"] for record in receiver.records]


def summary(done):
    return done.stderr.decode().strip().splitlines()[-1]


def test_drop_on_a_dotted_field_leaves_out_the_matching_records(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--drop", "log.level=debug", command=printing(LINES))
    assert done.returncode == 0
    assert messages(forward_receiver) == ["req 2"]
    assert summary(done).endswith("3 records: 1 shipped, 2 filtered, 0 throttled, 0 dropped, "
                                  "0 spilled to stderr, 0 retries")


def test_keep_with_a_regex_keeps_only_the_matching_records(forward_receiver):
    run_logwrap(forward_receiver.url, "--keep", "message~^req", command=printing(LINES))
    assert messages(forward_receiver) == ["req 1", "req 2"]


def test_filters_run_in_the_order_given_on_the_command_line(forward_receiver_factory):
    renamed_first = forward_receiver_factory()
    run_logwrap(renamed_first.url, "--remove", "log.level", "--rename", "lvl=log.level",
                "--drop", "log.level=debug", command=printing(LINES))
    assert messages(renamed_first) == ["req 2", "done"]
    dropped_first = forward_receiver_factory()
    run_logwrap(dropped_first.url, "--drop", "log.level=debug", "--remove", "log.level",
                "--rename", "lvl=log.level", command=printing(LINES))
    assert [(r["message"], r.get("log.level")) for r in dropped_first.records] == [("req 2", None)]


def test_rename_and_remove_change_the_shipped_record(forward_receiver):
    run_logwrap(forward_receiver.url, "--rename", "lvl=level", "--remove", "log.level",
                command=printing(LINES[:1]))
    (record,) = forward_receiver.records
    assert record["level"] == "debug" and "lvl" not in record and "log.level" not in record


def test_redaction_masks_keys_and_card_numbers_in_json_and_text_lines(forward_receiver):
    run_logwrap(forward_receiver.url, "--redact-keys", "password", "--redact-pattern", "credit-card",
                command=printing([{"message": "login", "user": {"password": "hunter2"}}],
                                 "card 4111 1111 1111 1111 declined"))
    first, second = forward_receiver.records
    assert first["user"] == {"password": "[REDACTED]"}
    assert second["message"] == "card [REDACTED] declined"


def test_a_throttled_stream_ships_its_burst_and_one_notice_counts_the_rest(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--throttle", "10/m",
                       command=python("for n in range(50): print(n)"))
    shipped, throttled = map(int, re.search(r"(\d+) shipped, 0 filtered, (\d+) throttled", summary(done)).groups())
    assert (shipped, throttled) == (10, 40)
    notices = [event for event in forward_receiver.events if event.tag.endswith(".logwrap")]
    assert [(n.record["throttled"], n.record["stream"], n.record["reason"]) for n in notices] == [
        (40, "stdout", "throttle")]
    assert notices[0].record["message"] == "throttled 40 records of stdout (over --throttle 10/m)"
    assert len(forward_receiver.events) == 11


def test_a_bad_filter_stops_logwrap_with_exit_64_before_the_child_starts(forward_receiver, tmp_path):
    marker = tmp_path / "started"
    done = run_logwrap(forward_receiver.url, "--keep", "message~[", command=["touch", str(marker)])
    assert done.returncode == 64
    assert done.stderr.decode() == ("logwrap: --keep 'message~[': the regex is not valid: "
                                    "unterminated character set at position 0\n")
    assert not marker.exists()


def test_filters_can_come_from_the_environment(forward_receiver):
    run_logwrap(forward_receiver.url, command=printing(LINES), env={**os.environ, "LOGWRAP_DROP": "log.level=debug"})
    assert messages(forward_receiver) == ["req 2"]


def test_an_environment_variable_holds_one_filter_per_line_and_values_may_hold_spaces(forward_receiver):
    env = {**os.environ, "LOGWRAP_DROP": "message=req 1\nmessage=done\n"}
    done = run_logwrap(forward_receiver.url, command=printing(LINES), env=env)
    assert done.returncode == 0, done.stderr
    assert messages(forward_receiver) == ["req 2"]


def test_shipper_send_parses_filters_and_counts(forward_receiver):
    lines = b'level=info msg=kept\nlevel=debug msg=noise\n{"message": "json", "level": "info"}\n'
    done = run_send("--to", forward_receiver.url, "--parse", "logfmt", "--drop", "level=debug", input=lines)
    assert done.returncode == 0, done.stderr
    assert forward_receiver.records == [{"level": "info", "msg": "kept"},
                                                                {"message": "json", "level": "info"}]
    assert done.stderr.decode().startswith("shipper send: 3 records read, 1 filtered, 0 throttled, 2 delivered")


def test_shipper_send_takes_a_parsed_time_field_as_the_event_time(forward_receiver):
    done = run_send("--to", forward_receiver.url, "--format", "text", "--parse", r"regex:^(?P<time>\S+ \S+) (?P<message>.*)",
                    "--time-format", "%d/%b/%Y:%H:%M:%S %z", input=b"01/Jan/2020:00:00:00 +0100 hello\n")
    assert done.returncode == 0, done.stderr
    (event,) = forward_receiver.events
    assert event.record == {"time": "2019-12-31T23:00:00Z", "message": "hello"}
    assert event.time == 1_577_833_200 * 10**9
