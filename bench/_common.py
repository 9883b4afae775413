"""Shared helpers for the bench scripts: percentiles and a uniform result line."""

from __future__ import annotations

import platform
import os


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"


def line(name: str, value: float, unit: str, baseline: float | None = None, note: str = "") -> str:
    ratio = f"  ratio to baseline {value / baseline:.2f}" if baseline else ""
    return f"{name:<48} {value:>14,.1f} {unit}{ratio}{('  ' + note) if note else ''}"
