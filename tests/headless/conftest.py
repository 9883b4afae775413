from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.headless.helpers import Engine


@pytest.fixture
def engines() -> Iterator[Any]:
    """Start engines with `engines(*args)`; any still running at the end is killed."""
    started: list[Engine] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Engine:
        e = Engine(*args, env=env)
        started.append(e)
        return e

    yield start
    for e in started:
        if e.proc.poll() is None:
            e.proc.send_signal(signal.SIGKILL)
            e.proc.wait(30)
