"""The child's last records as a crash's breadcrumbs (sans-I/O)."""

from shipper.sentry.breadcrumbs import MAX_MESSAGE, Recent, breadcrumb, breadcrumbs
from shipper.wrap.framing import Part
from shipper.wrap.multiline import Group

TRACEBACK = [b"Traceback (most recent call last):", b'  File "/srv/app.py", line 3, in f', b"KeyError: 'id'"]


def crumbs(item, stream="stdout"):
    crumb = breadcrumb(item, stream, 1_764_600_000_000_000_000)
    return crumb["level"], crumb["message"], crumb["category"], crumb["data"]


def test_a_json_line_gives_its_level_and_message():
    assert crumbs(b'{"log.level": "warning", "message": "disk 91% full"}') == (
        "warning", "disk 91% full", "stdout", {"stream": "stdout"})


def test_a_plain_line_is_an_info_breadcrumb_of_its_stream():
    assert crumbs(b"GET /health 200", "stderr") == ("info", "GET /health 200", "stderr", {"stream": "stderr"})


def test_a_traceback_group_is_an_error_named_by_its_exception():
    assert crumbs(Group(list(TRACEBACK), True))[:2] == ("error", "KeyError: 'id'")


def test_a_fatal_error_dump_is_a_fatal_breadcrumb():
    dump = Group([b"Fatal Python error: Segmentation fault", b"", b"Current thread 0x1 (most recent call first):"],
                 False, fault=True)
    assert crumbs(dump)[:2] == ("fatal", "Fatal Python error: Segmentation fault")


def test_a_part_of_a_long_line_is_its_text_cut_to_the_limit():
    level, message, _, _ = crumbs(Part(b"x" * 5000, line=1, ordinal=0, last=False))
    assert (level, message) == ("info", "x" * MAX_MESSAGE)


def test_only_the_last_items_are_kept_with_the_time_of_their_read():
    recent = Recent("stdout", keep=3)
    recent.add([b"a", b"b"], 10)
    recent.add([b"c", b"d", b"e", b"f"], 20)
    recent.add([b"g"], 30)
    assert recent.timed() == [(20, "stdout", b"e"), (20, "stdout", b"f"), (30, "stdout", b"g")]


def test_both_streams_merge_in_the_order_they_were_read_and_the_newest_are_kept():
    out, err = Recent("stdout", keep=5), Recent("stderr", keep=5)
    out.add([b"one"], 1_000)
    err.add([b"two"], 2_000)
    out.add([b"three"], 3_000)
    err.add([b"four"], 4_000)
    assert [(crumb["message"], crumb["category"]) for crumb in breadcrumbs([out, err], keep=3)] == [
        ("two", "stderr"), ("three", "stdout"), ("four", "stderr")]


def test_no_breadcrumbs_are_built_when_none_are_wanted():
    recent = Recent("stdout", keep=1)
    recent.add([b"x"], 1)
    assert breadcrumbs([recent], keep=0) == []
