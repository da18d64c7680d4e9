"""Mobility (issue 11, item 4), measured on generated records of several countries, seeds and windows:
each user has a home and a work anchor; nights are spent in the home cell, weekday working hours near
work (a cell of its own, the same day after day), the commute on cells between; the radius of movement
is heavy-tailed across users.  Cells are read from the records (E-UTRAN and Wi-Fi records, whose
``cell_id`` is an ECGI: the eNB is the ECI's upper 20 bits), local times from the users' zones."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import helpers
from telco_cdr.mobility import MAX_ENB, NEAR, WORK_SHARE, draw_anchors

# (name, countries, users' seed, CDRs' seed, window): a US week, a European and Indian week in winter
# time, and a window across the end of US daylight saving time.
RUNS = [
    helpers.one_process(("us", ["US"], 3, 5, "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"), "mobility"),
    helpers.one_process(("gb_in", ["GB", "IN"], 8, 13, "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z"), "mobility"),
    helpers.one_process(("de_fr_us", ["DE", "FR", "US"], 21, 2, "2026-10-28T00:00:00Z", "2026-11-04T00:00:00Z"),
                        "mobility"),
]
USERS, CDRS = 2000, 200_000


class Seen:
    """Per user, the eNB and cell (ECI) of each E-UTRAN/Wi-Fi record, with its local hour and weekday."""

    def __init__(self, users: list[dict], records):
        self.home = {}
        zones = {}
        for u in users:
            plmn = u["mcc"] + u["mnc"]
            self.home[u["user_id"]] = int(u["home_cell_id"][len(plmn):], 16)
            zones[u["user_id"]] = ZoneInfo(u["time_zone"])
        self.rows = defaultdict(list)  # user -> [(eci, local hour, weekday)]
        for r in records:
            if r["rat_type"] not in ("EUTRAN", "WLAN"):
                continue
            eci = int(r["cell_id"][len(r["cell_mcc"] + r["cell_mnc"]):], 16)
            t = datetime.fromisoformat(r["start_time"].replace("Z", "+00:00")).astimezone(zones[r["user_id"]])
            self.rows[r["user_id"]].append((eci, t.hour, t.weekday() < 5))

    def home_share(self, hours: range, weekday: bool | None) -> tuple[float, int]:
        hits = total = 0
        for uid, rows in self.rows.items():
            for eci, h, wd in rows:
                if h in hours and (weekday is None or wd == weekday):
                    total += 1
                    hits += eci == self.home[uid]
        return hits / max(total, 1), total


@pytest.fixture(scope="module", params=RUNS)
def seen(request, tmp_path_factory):
    users, cdrs = helpers.write_run(tmp_path_factory, "mobility", request.param, USERS, CDRS)
    with open(cdrs, encoding="utf-8") as fh:
        return Seen(json.loads(users.read_text()), (json.loads(line) for line in fh))


def test_the_home_cell_s_share_is_highest_at_night_and_lowest_at_weekday_midday(seen):
    night, n1 = seen.home_share(range(0, 6), None)
    evening, n2 = seen.home_share(range(20, 24), None)
    weekend_midday, n3 = seen.home_share(range(10, 16), weekday=False)
    weekday_midday, n4 = seen.home_share(range(10, 16), weekday=True)
    assert min(n1, n2, n3, n4) > 2000, "each part of the day needs records"
    assert night > 0.75, night
    assert night > evening + 0.1 and night > weekend_midday + 0.2, (night, evening, weekend_midday)
    assert weekday_midday < 0.3 and weekday_midday < weekend_midday - 0.15, (weekday_midday, weekend_midday)


def test_weekday_working_hours_are_spent_at_a_work_cell_of_their_own(seen):
    """Most users' most frequent weekday-midday cell is not their home cell; for a user with such a
    work cell it is the same cell on most days (an anchor, not a random neighbour)."""
    away = stable = considered = 0
    for uid, rows in seen.rows.items():
        by_day = [eci for eci, h, wd in rows if wd and 10 <= h < 16]
        if len(by_day) < 12:
            continue
        considered += 1
        cell, hits = Counter(by_day).most_common(1)[0]
        if cell != seen.home[uid]:
            away += 1
            stable += hits / len(by_day) > 0.4  # one cell holds a large part of the working hours
    assert considered > 300
    assert 0.45 < away / considered < 0.85, away / considered  # about WORK_SHARE of users work away from home
    assert stable / max(away, 1) > 0.8, stable / max(away, 1)


def test_the_commute_passes_cells_between_home_and_work(seen):
    """In weekday commute hours, a commuter's records are more often at sites strictly between the home
    and the work site than at night or in working hours, when they are at either end."""
    between = Counter()
    total = Counter()
    for uid, rows in seen.rows.items():
        mid = Counter(eci for eci, h, wd in rows if wd and 10 <= h < 16)
        if sum(mid.values()) < 12:
            continue
        home, work = seen.home[uid] >> 8, mid.most_common(1)[0][0] >> 8
        if abs(work - home) < 2 * NEAR + 2:  # too near to tell the way from the neighbours
            continue
        lo, hi = sorted((home, work))
        for eci, h, wd in rows:
            part = ("commute" if wd and h in (7, 8, 17, 18) else "night" if h < 6 else
                    "work" if wd and 10 <= h < 16 else None)
            if part:
                total[part] += 1
                between[part] += lo + NEAR < eci >> 8 < hi - NEAR
    assert total["commute"] > 200, total
    share = {k: between[k] / total[k] for k in total}
    assert share["commute"] > 0.3 and share["commute"] > 5 * max(share["night"], share["work"], 0.01), share


def test_the_radius_of_movement_is_heavy_tailed_across_users(seen):
    """The radius of gyration (over a user's sites) is small for most users and large for a few: the
    90th percentile is many times the median (Gonzalez et al., Nature 2008)."""
    radius = []
    for rows in seen.rows.values():
        if len(rows) >= 30:
            sites = np.array([eci >> 8 for eci, _, _ in rows], dtype=float)
            radius.append(sites.std())
    radius = np.array(radius)
    assert len(radius) > 300
    p50, p90, p99 = np.percentile(radius, [50, 90, 99])
    assert p50 < 12, p50  # most users move within a few sites (some km)
    assert p90 > 4 * p50 and p99 > 15 * p50, (p50, p90, p99)


def test_anchors_are_the_seed_s_and_stay_in_range():
    """The anchors depend on the seed only (not on the chunk or process), never leave the 20-bit eNB
    range, and about WORK_SHARE of users have one."""
    rng = np.random.default_rng(0)
    home = rng.integers(1, MAX_ENB + 1, 50_000).astype(np.int32)
    home[:100] = 1  # at the edges: the work anchor lies the other way
    home[100:200] = MAX_ENB
    sector = rng.integers(1, 4, 50_000).astype(np.uint8)
    a, b, c = draw_anchors(7, home, sector), draw_anchors(7, home, sector), draw_anchors(8, home, sector)
    assert np.array_equal(a.work_off, b.work_off) and np.array_equal(a.work_sector, b.work_sector)
    assert not np.array_equal(a.work_off, c.work_off)
    work = home.astype(np.int64) + a.work_off
    assert work.min() >= 1 and work.max() <= MAX_ENB
    assert abs(np.mean(a.work_off != 0) - WORK_SHARE) < 0.01
    assert np.array_equal(a.work_sector[a.work_off == 0], sector[a.work_off == 0])
    assert np.median(np.abs(a.work_off[a.work_off != 0])) < 12  # the law's draws: most within a few sites
