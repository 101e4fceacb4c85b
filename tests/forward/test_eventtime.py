import msgspec
import pytest

from shipper.errors import LocalProtocolError, RemoteProtocolError
from shipper.forward.eventtime import EventTime, ext_hook, from_wire, to_wire

from .vectors import EVENT_TIME_EXT8, EVENT_TIME_FIXEXT8, NS


def test_event_time_encodes_as_fixext8_type_0_with_big_endian_seconds_and_nanoseconds():
    assert msgspec.msgpack.encode(to_wire(NS)) == EVENT_TIME_FIXEXT8


def test_integer_seconds_option_drops_the_nanoseconds():
    assert to_wire(NS, integer_seconds=True) == 1_700_000_000


@pytest.mark.parametrize("wire", [EVENT_TIME_FIXEXT8, EVENT_TIME_EXT8], ids=["fixext8", "ext8"])
def test_event_time_decodes_from_fixext8_and_ext8(wire):
    assert from_wire(msgspec.msgpack.decode(wire, ext_hook=ext_hook)) == NS


def test_decoded_event_time_is_distinct_from_integer_seconds():
    assert type(ext_hook(0, EVENT_TIME_FIXEXT8[2:])) is EventTime


def test_integer_seconds_decode_to_nanoseconds():
    assert from_wire(1_700_000_000) == 1_700_000_000_000_000_000


def test_float_seconds_from_old_clients_decode_to_nanoseconds():
    assert from_wire(1_700_000_000.5) == 1_700_000_000_500_000_000


def test_v1_5_time_with_metadata_decodes_its_event_time():
    assert from_wire([msgspec.msgpack.Ext(0, EVENT_TIME_FIXEXT8[2:]), {"m": 1}]) == NS


def test_event_time_with_wrong_length_is_a_protocol_error():
    with pytest.raises(RemoteProtocolError, match="8 bytes"):
        ext_hook(0, b"1234")


def test_a_string_time_is_a_protocol_error():
    with pytest.raises(RemoteProtocolError, match="event time"):
        from_wire("yesterday")


def test_times_beyond_uint32_seconds_cannot_be_sent():
    with pytest.raises(LocalProtocolError, match="2106"):
        to_wire(2**32 * 1_000_000_000)
