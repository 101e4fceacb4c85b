from shipper.wrap.framing import LineFramer


def test_lines_end_at_newline_and_the_partial_tail_waits():
    framer = LineFramer()
    assert framer.feed(b"one\ntwo\nthr") == [b"one", b"two"]
    assert framer.feed(b"ee\n") == [b"three"]


def test_a_trailing_carriage_return_is_removed():
    assert LineFramer().feed(b"dos\r\nunix\n") == [b"dos", b"unix"]


def test_a_final_line_without_newline_is_flushed_at_end():
    framer = LineFramer()
    framer.feed(b"last words")
    assert framer.end() == [b"last words"]


def test_end_with_nothing_pending_gives_no_line():
    framer = LineFramer()
    framer.feed(b"done\n")
    assert framer.end() == []


def test_a_carriage_return_split_from_its_newline_is_still_removed():
    framer = LineFramer()
    assert framer.feed(b"line\r") == []
    assert framer.feed(b"\n") == [b"line"]
