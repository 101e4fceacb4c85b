"""Wire bytes written by hand from the Forward protocol v1 spec (not produced by our encoder).

Time 1700000000.123456789 s: seconds 0x6553F100, nanoseconds 0x075BCD15.
"""

NS = 1_700_000_000_123_456_789
EVENT_TIME_FIXEXT8 = bytes.fromhex("d700 6553f100 075bcd15")
EVENT_TIME_EXT8 = bytes.fromhex("c70800 6553f100 075bcd15")
RECORD_KV = bytes.fromhex("81 a16b a176")  # {"k": "v"}
RECORD_A1 = bytes.fromhex("81 a161 01")  # {"a": 1}
RECORD_A2 = bytes.fromhex("81 a161 02")  # {"a": 2}
TAG_T = bytes.fromhex("a174")  # "t"
OPTION_SIZE2_CHUNK_X = bytes.fromhex("82 a473697a65 02 a56368756e6b a178")  # {"size":2,"chunk":"x"}

# ["tag.a", EventTime, {"k": "v"}]
MESSAGE = bytes.fromhex("93 a5746167 2e61") + EVENT_TIME_FIXEXT8 + RECORD_KV
# ["tag.a", EventTime, {"k": "v"}, {"chunk": "c1"}]
MESSAGE_WITH_CHUNK = (
    bytes.fromhex("94 a5746167 2e61") + EVENT_TIME_FIXEXT8 + RECORD_KV
    + bytes.fromhex("81 a56368756e6b a26331")
)
ENTRY_1 = bytes.fromhex("92") + EVENT_TIME_FIXEXT8 + RECORD_A1
ENTRY_2 = bytes.fromhex("92") + EVENT_TIME_EXT8 + RECORD_A2
# ["t", [[t, {"a":1}], [t, {"a":2}]], {"size":2, "chunk":"x"}]
FORWARD = bytes.fromhex("93") + TAG_T + bytes.fromhex("92") + ENTRY_1 + ENTRY_2 + OPTION_SIZE2_CHUNK_X
PACKED_BODY = ENTRY_1 + ENTRY_2
# ["t", bin(entries), {"size":2, "chunk":"x"}]
PACKED_BIN = (
    bytes.fromhex("93") + TAG_T + bytes([0xC4, len(PACKED_BODY)]) + PACKED_BODY + OPTION_SIZE2_CHUNK_X
)
# the same with the entries as a str 8 (old clients)
PACKED_STR = (
    bytes.fromhex("93") + TAG_T + bytes([0xD9, len(PACKED_BODY)]) + PACKED_BODY + OPTION_SIZE2_CHUNK_X
)
ACK_X = bytes.fromhex("81 a361636b a178")  # {"ack": "x"}
