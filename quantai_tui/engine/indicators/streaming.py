"""The streaming indicator classes (see the package docstring for the definitions)."""

from __future__ import annotations

import math
from collections import deque

from quantai_tui.core.errors import ValidationError

NAN = math.nan
_DAY_NS = 86_400_000_000_000


def _check_length(name: str, length: int, minimum: int = 1) -> int:
    if not isinstance(length, int) or isinstance(length, bool) or length < minimum:
        raise ValidationError(f"{name}: length must be an integer >= {minimum}, got {length!r}")
    return length


class SMA:
    """Simple moving average.

    The window sum is kept as the difference of two running prefix sums (c_k - c_{k-n}), not as
    an add-new/subtract-old accumulator: the same float operations are what numpy's cumsum does,
    so the columnar fast path computes bit-identical values (and identical crossovers).
    """

    __slots__ = ("length", "value", "count", "_c", "_buf", "_i")

    def __init__(self, length: int) -> None:
        self.length = _check_length("SMA", length)
        self.value = NAN
        self.count = 0
        self._c = 0.0  # prefix sum of every input so far
        # the last n prefix sums (a ring). Before they exist: nan for the first n - 1 updates
        # (the value is nan until the n-th input, with no test for it) and 0.0, standing for
        # c_{-1}, for the n-th
        self._buf = [NAN] * (length - 1) + [0.0]
        self._i = 0

    @property
    def ready(self) -> bool:
        return self.count >= self.length

    def update(self, x: float) -> float:
        c = self._c + x
        self._c = c
        i = self._i
        buf = self._buf
        v = (c - buf[i]) / self.length
        buf[i] = c
        i += 1
        self._i = 0 if i == self.length else i
        self.count += 1
        self.value = v
        return v


class EMA:
    """Exponential moving average seeded with the SMA of the first n inputs (pandas-ta presma)."""

    __slots__ = ("length", "alpha", "value", "count", "_seed")

    def __init__(self, length: int) -> None:
        self.length = _check_length("EMA", length)
        self.alpha = 2.0 / (length + 1)
        self.value = NAN
        self.count = 0
        self._seed = 0.0

    @property
    def ready(self) -> bool:
        return self.count >= self.length

    def update(self, x: float) -> float:
        self.count += 1
        n = self.count
        if n < self.length:
            self._seed += x
            return NAN
        if n == self.length:
            self.value = (self._seed + x) / self.length
        else:
            v = self.value
            self.value = v + self.alpha * (x - v)
        return self.value


class RSI:
    """Relative strength index, pandas-ta style: EWM (alpha = 1/n, adjust=False) of the gains
    and of the losses, both starting at the first difference. nan when nothing moved yet."""

    __slots__ = ("length", "alpha", "value", "count", "_prev", "_up", "_down")

    def __init__(self, length: int = 14) -> None:
        self.length = _check_length("RSI", length)
        self.alpha = 1.0 / length
        self.value = NAN
        self.count = 0
        self._prev = NAN
        self._up = 0.0
        self._down = 0.0

    @property
    def ready(self) -> bool:
        # pandas-ta reports values from the 2nd input on; a strategy usually wants n of them
        return self.count > self.length

    def update(self, x: float) -> float:
        self.count += 1
        if self.count == 1:
            self._prev = x
            return NAN
        d = x - self._prev
        self._prev = x
        gain = d if d > 0.0 else 0.0
        loss = -d if d < 0.0 else 0.0
        if self.count == 2:
            self._up, self._down = gain, loss
        else:
            a = self.alpha
            self._up = (1.0 - a) * self._up + a * gain
            self._down = (1.0 - a) * self._down + a * loss
        total = self._up + self._down
        self.value = 100.0 * self._up / total if total else NAN
        return self.value


class Bollinger:
    """Bollinger bands: SMA middle, k sample standard deviations (ddof=1) either side.

    The window's mean and sum of squared deviations are updated in place (Welford's update
    for a sliding window), which stays accurate where sum-of-squares would cancel."""

    __slots__ = ("length", "k", "middle", "upper", "lower", "std", "count", "_win", "_mean", "_m2")

    def __init__(self, length: int = 20, k: float = 2.0) -> None:
        self.length = _check_length("Bollinger", length, 2)
        if not k > 0:
            raise ValidationError(f"Bollinger: k must be positive, got {k!r}")
        self.k = float(k)
        self.middle = self.upper = self.lower = self.std = NAN
        self.count = 0
        self._win: deque[float] = deque()
        self._mean = 0.0
        self._m2 = 0.0

    @property
    def ready(self) -> bool:
        return self.count >= self.length

    @property
    def value(self) -> float:
        return self.middle

    def update(self, x: float) -> float:
        win = self._win
        self.count += 1
        if len(win) < self.length:
            win.append(x)
            n = len(win)
            delta = x - self._mean
            self._mean += delta / n
            self._m2 += delta * (x - self._mean)
        else:
            old = win.popleft()
            win.append(x)
            old_mean = self._mean
            self._mean = old_mean + (x - old) / self.length
            self._m2 += (x - old) * (x - self._mean + old - old_mean)
            if self._m2 < 0.0:  # rounding on a flat window
                self._m2 = 0.0
        if self.count < self.length:
            return NAN
        self.middle = m = self._mean
        self.std = s = math.sqrt(self._m2 / (self.length - 1))
        self.upper = m + self.k * s
        self.lower = m - self.k * s
        return m

    @property
    def percent_b(self) -> float:
        """Where the last input sits: 0 at the lower band, 1 at the upper."""
        width = self.upper - self.lower
        return (self._win[-1] - self.lower) / width if width else NAN


class ATR:
    """Average true range: TR = max(h - l, |h - prev close|, |prev close - l|) (the first TR is
    h - l), SMA-seeded at the n-th bar, then an RMA (alpha = 1/n)."""

    __slots__ = ("length", "alpha", "value", "count", "_prev_close", "_seed")

    def __init__(self, length: int = 14) -> None:
        self.length = _check_length("ATR", length)
        self.alpha = 1.0 / length
        self.value = NAN
        self.count = 0
        self._prev_close = NAN
        self._seed = 0.0

    @property
    def ready(self) -> bool:
        return self.count >= self.length

    def update(self, high: float, low: float, close: float) -> float:
        pc = self._prev_close
        tr = high - low
        if self.count:
            a, b = abs(high - pc), abs(pc - low)
            if a > tr:
                tr = a
            if b > tr:
                tr = b
        self._prev_close = close
        self.count += 1
        n = self.count
        if n < self.length:
            self._seed += tr
            return NAN
        if n == self.length:
            self.value = (self._seed + tr) / self.length
        else:
            self.value = (1.0 - self.alpha) * self.value + self.alpha * tr
        return self.value


class VWAP:
    """Volume-weighted average price anchored at each UTC day (pandas-ta's default anchor "D").
    Bars pass (h + l + c) / 3 as the price (`update_bar`); trades pass their price."""

    __slots__ = ("value", "count", "_day", "_pv", "_vol")

    def __init__(self) -> None:
        self.value = NAN
        self.count = 0
        self._day = -1
        self._pv = 0.0
        self._vol = 0.0

    @property
    def ready(self) -> bool:
        return self.count > 0 and self._vol > 0.0

    def update(self, price: float, volume: float, ts_ns: int) -> float:
        day = ts_ns // _DAY_NS
        if day != self._day:
            self._day = day
            self._pv = 0.0
            self._vol = 0.0
        self._pv += price * volume
        self._vol += volume
        self.count += 1
        self.value = self._pv / self._vol if self._vol else NAN
        return self.value

    def update_bar(self, high: float, low: float, close: float, volume: float, ts_ns: int) -> float:
        return self.update((high + low + close) / 3.0, volume, ts_ns)


class RollingMax:
    """Maximum of the last n inputs, amortised O(1) (monotonic deque)."""

    __slots__ = ("length", "value", "count", "_q")

    def __init__(self, length: int) -> None:
        self.length = _check_length("RollingMax", length)
        self.value = NAN
        self.count = 0
        self._q: deque[tuple[int, float]] = deque()

    @property
    def ready(self) -> bool:
        return self.count >= self.length

    def update(self, x: float) -> float:
        q = self._q
        i = self.count
        while q and q[-1][1] <= x:
            q.pop()
        q.append((i, x))
        if q[0][0] <= i - self.length:
            q.popleft()
        self.count = i + 1
        self.value = q[0][1]
        return self.value if self.count >= self.length else NAN


class RollingMin(RollingMax):
    """Minimum of the last n inputs."""

    __slots__ = ()

    def update(self, x: float) -> float:
        q = self._q
        i = self.count
        while q and q[-1][1] >= x:
            q.pop()
        q.append((i, x))
        if q[0][0] <= i - self.length:
            q.popleft()
        self.count = i + 1
        self.value = q[0][1]
        return self.value if self.count >= self.length else NAN
