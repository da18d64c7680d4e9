"""Local time: every user lives in the IANA zone of the home city, the daily and weekly curves run
in that zone's local time with daylight saving, each service has its own daily curve, and every
CDR carries the UTC offset at its start (ms_time_zone).  Local times are worked out here with the
standard library's tz database, independently of the generator's clock."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import numpy as np
import pytest

import helpers
from telco_cdr.identifiers import CITIES

WINTER = ("2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z")  # a week, Monday to Monday UTC
SUMMER = ("2026-07-06T00:00:00Z", "2026-07-13T00:00:00Z")
MIXED = ["US", "GB", "IN"]


def _offset_text(t: datetime) -> str:
    minutes = int(t.utcoffset().total_seconds() // 60)
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@pytest.fixture(scope="module", params=[helpers.one_process(("winter", WINTER, 21), "local-time-winter"),
                                        helpers.one_process(("summer", SUMMER, 22), "local-time-summer")])
def mixed(request, tmp_path_factory):
    """2,000 users of the US, GB and IN, 120,000 CDRs over a week of winter or of summer."""
    name, (start, end), seed = request.param
    d = tmp_path_factory.mktemp(name)
    users = helpers.write_users(d / "users.json", 2000, seed=seed, countries=MIXED)
    cdrs = helpers.write_cdrs(users, d / "cdrs.jsonl", 120_000, seed, start, end)
    return helpers.DataSet(users, cdrs, helpers.load_records(users), helpers.load_records(cdrs))


def _profiles(ds, cdr_type: str, value=lambda c: 1) -> dict[str, np.ndarray]:
    """Records (or ``value`` of them) per local hour, by time zone, of one CDR type."""
    cdrs = ds.of_type(cdr_type)
    out: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(24))
    for c, t in zip(cdrs, helpers.local_times(ds, cdrs)):
        out[ds.by_id[c["user_id"]]["time_zone"]][t.hour] += value(c)
    return out


def test_users_live_in_their_home_citys_zone(mixed):
    zone_of_city = {(c.country, c.name): c.time_zone or None for c in CITIES}
    expected = {"GB": "Europe/London", "IN": "Asia/Kolkata"}
    for u in mixed.users:
        want = zone_of_city[(u["country"], u["home_city"])] or expected[u["country"]]
        assert u["time_zone"] == want, u
    us_zones = {u["time_zone"] for u in mixed.users if u["country"] == "US"}
    assert {"America/New_York", "America/Chicago", "America/Phoenix", "America/Los_Angeles"} <= us_zones


def test_every_cdr_carries_its_users_utc_offset_at_its_start(mixed):
    seen = defaultdict(set)
    for c, t in zip(mixed.cdrs, helpers.local_times(mixed)):
        if c["roaming"]:  # abroad: the visited country's offset (tests/test_roaming.py)
            continue
        assert c["ms_time_zone"] == _offset_text(t), (c["cdr_id"], c["ms_time_zone"], t)
        seen[mixed.by_id[c["user_id"]]["time_zone"]].add(c["ms_time_zone"])
    summer = mixed.cdrs[0]["start_time"].startswith("2026-07")
    assert seen["Asia/Kolkata"] == {"+05:30"}
    assert seen["America/Phoenix"] == {"-07:00"}  # Arizona keeps standard time
    assert seen["America/Los_Angeles"] == ({"-07:00"} if summer else {"-08:00"})
    assert seen["Europe/London"] == ({"+01:00"} if summer else {"+00:00"})


@pytest.mark.parametrize("cdr_type", ["voice", "sms"])
def test_calls_and_texts_are_quiet_at_night_and_peak_by_day_in_every_zone(mixed, cdr_type):
    for zone, per_hour in _profiles(mixed, cdr_type).items():
        if per_hour.sum() < 1500:
            continue
        night = per_hour[2:5].mean() / per_hour.max()
        assert night < 0.12, (zone, night, per_hour)
        assert 9 <= int(np.argmax(per_hour)) <= 20, (zone, per_hour)  # never the 07:00 of a wrong clock


def test_data_keeps_a_night_floor_and_peaks_in_the_evening(mixed):
    # Bytes per local hour (the partial records of always-on bearers come at any hour; their bytes
    # follow the curve), of the internet APNs.
    internet = _profiles(mixed, "data", lambda c: 0 if c["apn"] in ("ims", "mms") else 1)
    volume = _profiles(mixed, "data", lambda c: 0 if c["apn"] in ("ims", "mms") else
                       c["uplink_bytes"] + c["downlink_bytes"])
    checked = 0
    for zone, per_hour in volume.items():
        if internet[zone].sum() < 1500:
            continue
        checked += 1
        smooth = (per_hour + np.roll(per_hour, 1) + np.roll(per_hour, -1)) / 3  # heavy users make it lumpy
        floor = smooth.min() / smooth.max()
        assert 0.2 <= floor <= 0.45, (zone, floor, per_hour)
        assert 18 <= int(np.argmax(smooth)) <= 23, (zone, per_hour)
    assert checked >= 2


def test_indian_and_british_users_each_peak_in_their_own_day(mixed):
    # In one file, each country's traffic is highest in its own daytime: the IN users' busy UTC
    # hours are 5.5 hours (or 4.5 in summer) earlier than the GB users'.
    by_country = defaultdict(lambda: np.zeros(24))
    for c in mixed.of_type("voice"):
        by_country[mixed.by_id[c["user_id"]]["country"]][helpers.iso_ms(c["start_time"]) // 3_600_000 % 24] += 1
    quiet_in = by_country["IN"][19:23].mean() / by_country["IN"].max()  # 00:30-04:30 in India
    quiet_gb = by_country["GB"][1:5].mean() / by_country["GB"].max()
    assert quiet_in < 0.15 and quiet_gb < 0.15, (quiet_in, quiet_gb)
    assert by_country["IN"][5:11].sum() > 2 * by_country["IN"][19:23].sum()


def test_weekends_are_quieter_in_local_time(mixed):
    per_day = np.zeros(7)
    for t in helpers.local_times(mixed, mixed.of_type("voice")):
        per_day[t.weekday()] += 1
    assert per_day[5:].mean() < 0.92 * per_day[1:5].mean(), per_day


def test_the_offset_changes_at_the_daylight_saving_change(tmp_path):
    # Europe: the clocks go back at 01:00 UTC on 25 October 2026; the US on 1 November at 06:00 UTC
    # in New York (02:00 EDT).
    users = helpers.write_users(tmp_path / "u.json", 400, seed=6, countries=["GB", "US"])
    out = helpers.write_cdrs(users, tmp_path / "c.jsonl", 40_000, 6, "2026-10-24T00:00:00Z",
                             "2026-11-02T00:00:00Z")
    ds = helpers.DataSet(users, out, helpers.load_records(users), helpers.load_records(out))
    cut = {"Europe/London": helpers.iso_ms("2026-10-25T01:00:00.000Z"),
           "America/New_York": helpers.iso_ms("2026-11-01T06:00:00.000Z")}
    before_after = {z: (set(), set()) for z in cut}
    for c in ds.cdrs:
        zone = ds.by_id[c["user_id"]]["time_zone"]
        if zone in cut and not c["roaming"]:
            before_after[zone][helpers.iso_ms(c["start_time"]) >= cut[zone]].add(c["ms_time_zone"])
    assert before_after["Europe/London"] == ({"+01:00"}, {"+00:00"})
    assert before_after["America/New_York"] == ({"-04:00"}, {"-05:00"})
