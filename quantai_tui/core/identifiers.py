"""Client order ids: unique across restarts and processes, and safe on every venue.

Venue rules: Binance newClientOrderId `^[.A-Z:/a-z0-9_-]{1,36}$`; OKX clOrdId alphanumeric,
at most 32; Bybit orderLinkId at most 36 of [A-Za-z0-9_-]. The common subset is alphanumeric
and at most 32 characters, so that is what we make:

    <prefix><time base36><tag><counter base36>     e.g. qa0m3x8kq1zl2a9f0001

time is the clock's ns at creation, so ids from a restarted process never repeat; the tag
separates processes started in the same nanosecond; with a TestClock and a fixed tag the
sequence is deterministic (replays produce the same ids).
"""

from __future__ import annotations

import re
import secrets

from quantai_tui.core.errors import ValidationError

_SAFE = re.compile(r"^[A-Za-z0-9]{1,32}$")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_ID_EPOCH_NS = 1_577_836_800_000_000_000  # 2020-01-01: ids count ns from here
_MAX12 = 36**12


def base36(n: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out))


# Two base-36 digits per step for the id's time part (one per order: half the divisions)
_PAIRS = tuple(a + b for a in _DIGITS for b in _DIGITS)
_COUNTS = tuple(base36(i).rjust(4, "0") for i in range(1296))  # the counter, padded, for the usual small values


def _base36_12(n: int) -> str:
    """base36(n).rjust(12, "0") for 0 <= n < 36**12."""
    pairs = _PAIRS
    n, a = divmod(n, 1296)
    n, b = divmod(n, 1296)
    n, c = divmod(n, 1296)
    n, d = divmod(n, 1296)
    n, e = divmod(n, 1296)
    return pairs[n] + pairs[e] + pairs[d] + pairs[c] + pairs[b] + pairs[a]


def display_id(coid: str) -> str:
    """Six characters that tell orders apart on screen. The tail of one of our ids is the
    process tag and a counter that restarts every nanosecond, the same for most orders of a
    process; so for ids of our shape (at least 18 letters or digits) it is the time part's last
    four (they change every ~1.7 ms) and the counter's last two. Any other id: its tail."""
    if len(coid) >= 18 and coid.isalnum():
        return coid[-10:-6] + coid[-2:]
    return coid[-6:]


def check_client_order_id(coid: str) -> str:
    if not isinstance(coid, str) or not _SAFE.match(coid):
        raise ValidationError(f"client order id must be 1-32 letters or digits, got {coid!r}")
    return coid


class ClientOrderIdGenerator:
    def __init__(self, prefix: str = "qa", tag: str | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]{0,6}", prefix):
            raise ValidationError(f"client order id prefix must be 0-6 letters or digits, got {prefix!r}")
        if tag is None:
            tag = base36(secrets.randbelow(36**2)).rjust(2, "0")
        if not re.fullmatch(r"[a-z0-9]{2}", tag):
            raise ValidationError(f"client order id tag must be 2 of [a-z0-9], got {tag!r}")
        self._prefix = prefix
        self._tag = tag
        self._last_ns = -1
        self._count = 0

    def next(self, now_ns: int) -> str:
        # times before 2020 all encode as 0: compare them as 2020 too, or the counter would
        # restart at every new timestamp and repeat ids (a replay of 2017 data)
        now_ns = max(now_ns, _ID_EPOCH_NS)
        if now_ns > self._last_ns:
            self._last_ns = now_ns
            self._count = 0
        else:
            self._count += 1
        # ns since 2020 in base36 fits in 12 characters until the year 2150.
        n = self._last_ns - _ID_EPOCH_NS
        t = _base36_12(n) if n < _MAX12 else base36(n).rjust(12, "0")
        c = self._count
        coid = f"{self._prefix}{t}{self._tag}{_COUNTS[c] if c < 1296 else base36(c).rjust(4, '0')}"
        return coid[:32]
