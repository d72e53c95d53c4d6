"""How a range is cut into stored buckets and per-ticket minutes (app/scoring/buckets.py): the
pieces cover the range exactly, none twice, each bucket wholly inside its range, and the
per-ticket minutes only where no whole UTC hour fits."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.scoring import formulas
from app.scoring.buckets import FOREVER, NO_TIME, Grain, ceil, floor, plan


def _end(start: int, grain: Grain) -> int:
    return ceil(start + 1, grain)


def _pieces(p) -> list[tuple[int, int, int | None]]:
    """Every bucket a plan reads as [start, end) with its tag, and its per-ticket ranges."""
    out = []
    for s in p.segments:
        t = s.lo
        while t < s.hi:
            out.append((t, _end(t, s.grain), s.tag))
            t = _end(t, s.grain)
    out += [(lo, hi, None) for lo, hi in p.rows]
    return sorted(out)


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_floor_and_ceil_of_each_grain() -> None:
    t = _epoch("2026-02-14T05:30:00")
    assert floor(t, Grain.hour) == _epoch("2026-02-14T05:00:00")
    assert ceil(t, Grain.hour) == _epoch("2026-02-14T06:00:00")
    assert floor(t, Grain.day) == _epoch("2026-02-14T00:00:00")
    assert ceil(t, Grain.day) == _epoch("2026-02-15T00:00:00")
    assert floor(t, Grain.month) == _epoch("2026-02-01T00:00:00")
    assert ceil(t, Grain.month) == _epoch("2026-03-01T00:00:00")
    assert ceil(_epoch("2026-12-31T23:00:00"), Grain.month) == _epoch("2027-01-01T00:00:00")
    start = _epoch("2026-03-01T00:00:00")
    assert floor(start, Grain.month) == ceil(start, Grain.month) == start


def test_a_kolkata_day_is_hours_and_two_half_hours_of_tickets() -> None:
    # 2026-01-10 in Asia/Kolkata (+5:30) is [01-09 18:30, 01-10 18:30) UTC.
    p = plan([(_epoch("2026-01-09T18:30:00"), _epoch("2026-01-10T18:30:00"), 1)])
    assert p.rows == [
        (_epoch("2026-01-09T18:30:00"), _epoch("2026-01-09T19:00:00")),
        (_epoch("2026-01-10T18:00:00"), _epoch("2026-01-10T18:30:00")),
    ]
    grains = [(s.grain, s.lo, s.hi) for s in p.segments]
    # No whole UTC day inside: 23 hourly buckets, one range of them.
    assert grains == [(Grain.hour, _epoch("2026-01-09T19:00:00"), _epoch("2026-01-10T18:00:00"))]


def test_a_year_is_months_then_days_then_hours() -> None:
    # 2025-11-27 .. 2026-11-26 in Berlin: [2025-11-26 23:00, 2026-11-26 23:00) UTC.
    p = plan([(_epoch("2025-11-26T23:00:00"), _epoch("2026-11-26T23:00:00"), 0)])
    assert p.rows == []
    months = [s for s in p.segments if s.grain is Grain.month]
    assert [(s.lo, s.hi) for s in months] == [
        (_epoch("2025-12-01T00:00:00"), _epoch("2026-11-01T00:00:00"))
    ]
    assert sum(1 for s in p.segments if s.grain is Grain.hour) == 2  # one at each end


def test_unbounded_ranges() -> None:
    everything = plan([(None, None, 0)])
    assert [(s.grain, s.lo, s.hi) for s in everything.segments] == [
        (Grain.month, NO_TIME, FOREVER)
    ]  # tickets without a resolution time included
    since = plan([(_epoch("2026-01-01T00:00:00"), None, 0)])
    assert since.rows == [] and since.segments[0].lo == _epoch("2026-01-01T00:00:00")
    until = plan([(None, _epoch("2026-01-01T12:00:00"), 0)])
    assert until.segments[0].lo == NO_TIME + 1  # not the bucket of unresolved tickets


def test_every_local_period_is_covered_exactly_once() -> None:
    """Random ranges and every period of trends in zones with DST and odd offsets: the pieces
    tile each range with nothing missing or doubled, each bucket within one period, and the
    per-ticket minutes shorter than an hour at each end."""
    rng = random.Random(15)
    zones = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]
    for _ in range(200):
        zone = ZoneInfo(rng.choice(zones))
        first = date(2025, 1, 1) + timedelta(days=rng.randrange(600))
        last = first + timedelta(days=rng.randrange(120))
        interval = rng.choice(["day", "week", "month"])
        starts = formulas.periods(first, last, interval)
        bounds = [formulas.local_midnight_utc(s, zone) for s in starts]
        bounds.append(formulas.local_midnight_utc(formulas.next_period(starts[-1], interval), zone))
        edges = [int(b.timestamp()) for b in bounds]
        ranges = [(edges[i - 1], edges[i], i) for i in range(1, len(edges))]
        pieces = _pieces(plan(ranges))
        assert pieces[0][0] == edges[0] and pieces[-1][1] == edges[-1]
        for (_, hi, _), (lo, _, _) in itertools.pairwise(pieces):
            assert hi == lo  # contiguous: nothing missing, nothing twice
        for lo, hi, tag in pieces:
            if tag is not None:
                assert edges[tag - 1] <= lo and hi <= edges[tag]  # one period's bucket
            else:  # the minutes before and after a local midnight off the hour, merged
                assert zone.key not in ("UTC", "Europe/Berlin") and hi - lo < 2 * 3600
