from collections.abc import Callable, Iterator

import pytest

from .processes import ReceiveProcess

pytest_plugins = ["pytester"]


@pytest.fixture
def receive_process() -> Iterator[Callable[..., ReceiveProcess]]:
    """Start ``shipper receive`` processes; all are stopped when the test ends."""
    started: list[ReceiveProcess] = []

    def start(*args: str, **kwargs) -> ReceiveProcess:
        started.append(ReceiveProcess(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        process.stop()
