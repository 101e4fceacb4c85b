from collections.abc import Callable
from typing import Any

MAX_DEPTH: int

def pack(
    items: list[Any],
    start: int,
    max_records: int,
    max_bytes: int,
    fields: bytes,
    field_count: int,
    reserved: tuple[bytes, ...],
    time_keys: tuple[bytes, ...],
    id_prefix: str,
    next_id: int,
    read_time: bytes,
    slow: Callable[[Any, str, bool], bytes | None],
    tally: object = None,
    caught: list[bytes] | None = None,
    filters: tuple[tuple[int, bytes, Any], ...] | None = None,
    quota: int = -1,
    access: int = 0,
    /,
) -> tuple[bytes, int, int, int, int]: ...
def tally(
    watch: tuple[tuple[int, float, tuple[bytes, ...]], ...],
    tables: tuple[dict[bytes, int], ...],
    overflow: dict[int, int],
    max_series: int,
    histogram: Any,
    bounds: Any,
    samples: list[float],
    max_samples: int,
    /,
) -> object: ...
