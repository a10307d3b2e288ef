"""How big a benchmark run is: ``full`` (what bench/BENCHMARKS.md records), ``quick`` (shorter runs, smaller
stores, `--quick`) or ``smoke`` (the smallest run that still goes through every path; `make test` runs each
benchmark at this size so that a change that breaks one is caught, without timing anything)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class Size(StrEnum):
    SMOKE = "smoke"
    QUICK = "quick"
    FULL = "full"


def pick(size: Size, *, smoke: T, quick: T, full: T) -> T:
    return {Size.SMOKE: smoke, Size.QUICK: quick, Size.FULL: full}[size]
