"""Which stored sums answer a time range: UTC months, days and hours of `score_buckets`, and the
per-ticket rows of `ticket_scores` for what is left (docs/scoring.md, "Databases").

A local day, week or month starts at a local midnight, which is a UTC hour in most zones and a
half or quarter hour in a few (Asia/Kolkata, Asia/Kathmandu, Australia/Lord_Howe). A range is
cut greedily: the whole UTC months inside it, then whole UTC days, then whole UTC hours, and
the minutes left at its two ends are read from the per-ticket rows. So figures stay exact in
every zone, and the rows scanned per range are at most two partial hours of tickets.

Pure arithmetic on epoch seconds: no database here (app/scoring/bucket_sql.py reads the plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, datetime
from enum import IntEnum


class Grain(IntEnum):
    """How long a stored bucket is; the number is what the `grain` column holds."""

    hour = 1
    day = 2
    month = 3


COARSE_TO_FINE = (Grain.month, Grain.day, Grain.hour)
NO_TIME = -(2**62)  # the bucket of tickets without a resolution time (in no bounded range)
FOREVER = 2**62  # past every bucket


def floor(t: int, grain: Grain) -> int:
    """The start of the bucket holding instant `t` (epoch seconds)."""
    if grain is Grain.hour:
        return t - t % 3600
    if grain is Grain.day:
        return t - t % 86400
    d = datetime.fromtimestamp(t, UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp())


def ceil(t: int, grain: Grain) -> int:
    """The first bucket start at or after `t`."""
    start = floor(t, grain)
    if start == t:
        return t
    if grain is not Grain.month:
        return start + (3600 if grain is Grain.hour else 86400)
    d = datetime.fromtimestamp(start, UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    if year > MAXYEAR:  # December 9999: no later month to start
        return FOREVER
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class Segment:
    """Buckets of one grain starting in [lo, hi), counted under `tag` (a trend's period)."""

    grain: Grain
    lo: int
    hi: int
    tag: int


@dataclass
class Plan:
    segments: list[Segment] = field(default_factory=list)
    rows: list[tuple[int, int]] = field(default_factory=list)  # [lo, hi) read per ticket

    def add_rows(self, lo: int, hi: int) -> None:
        if lo >= hi:
            return
        if self.rows and self.rows[-1][1] == lo:  # adjacent ranges: one condition
            self.rows[-1] = (self.rows[-1][0], hi)
        else:
            self.rows.append((lo, hi))

    def add_segment(self, grain: Grain, lo: int, hi: int, tag: int) -> None:
        last = self.segments[-1] if self.segments else None
        if last and (last.grain, last.hi, last.tag) == (grain, lo, tag):
            self.segments[-1] = Segment(grain, last.lo, hi, tag)
        else:
            self.segments.append(Segment(grain, lo, hi, tag))


def plan(ranges: list[tuple[int | None, int | None, int]]) -> Plan:
    """The plan for ranges [start, end) with their tags, in ascending order. None is unbounded;
    only a range unbounded at both ends includes the tickets without a resolution time."""
    out = Plan()
    for start, end, tag in ranges:
        if start is None and end is None:
            out.add_segment(Grain.month, NO_TIME, FOREVER, tag)
            continue
        _cut(out, NO_TIME + 1 if start is None else start, FOREVER if end is None else end, tag)
    return out


def _cut(out: Plan, start: int, end: int, tag: int, grains: tuple[Grain, ...] = COARSE_TO_FINE):
    """Append [start, end) to `out`, in time order: coarsest whole buckets in the middle."""
    if start >= end:
        return
    if not grains:
        out.add_rows(start, end)
        return
    grain, finer = grains[0], grains[1:]
    lo = start if start <= NO_TIME + 1 else ceil(start, grain)
    hi = end if end >= FOREVER else floor(end, grain)
    if lo >= hi:
        _cut(out, start, end, tag, finer)
        return
    _cut(out, start, lo, tag, finer)
    out.add_segment(grain, lo, hi, tag)
    _cut(out, hi, end, tag, finer)
