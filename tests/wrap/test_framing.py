from shipper.wrap.framing import LineFramer, Part


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


def test_a_line_over_the_limit_comes_out_as_numbered_parts_the_last_marked():
    framer = LineFramer(max_line_bytes=4)
    assert framer.feed(b"abcdefghij\nok\n") == [
        Part(b"abcd", 1, 1, False), Part(b"efgh", 1, 2, False), Part(b"ij", 1, 3, True), b"ok"]


def test_a_long_line_spread_over_reads_is_emitted_as_it_grows():
    framer = LineFramer(max_line_bytes=4)
    assert framer.feed(b"xyz12345") == [Part(b"xyz1", 1, 1, False)]
    assert framer.feed(b"67\n") == [Part(b"2345", 1, 2, False), Part(b"67", 1, 3, True)]


def test_long_lines_are_numbered_apart():
    framer = LineFramer(max_line_bytes=2)
    parts = framer.feed(b"aaa\nbbb\n")
    assert [p.line for p in parts] == [1, 1, 2, 2]


def test_a_long_final_line_without_newline_ends_with_a_last_part():
    framer = LineFramer(max_line_bytes=4)
    assert framer.feed(b"abcdefgh") == [Part(b"abcd", 1, 1, False)]
    assert framer.end() == [Part(b"efgh", 1, 2, True)]


def test_parts_are_cut_on_utf8_character_boundaries():
    parts = LineFramer(max_line_bytes=4).feed("aé€b\n".encode())
    assert [p.data.decode() for p in parts] == ["aé", "€b"]


def test_the_buffered_tail_never_exceeds_the_limit():
    framer = LineFramer(max_line_bytes=1000)
    for _ in range(100):
        framer.feed(b"x" * 700)
        assert len(framer._tail) <= 1000


def test_a_limit_smaller_than_a_character_still_makes_progress():
    parts = LineFramer(max_line_bytes=2).feed("😀😀\n".encode())
    assert b"".join(p.data for p in parts) == "😀😀".encode() and all(p.data for p in parts)
