"""The traffic model: type mix, heavy-tailed activity, daily and weekly curves, --weights parsing."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import helpers
from telco_cdr.constants import CDR_TYPES
from telco_cdr.errors import UserError
from telco_cdr.traffic import TrafficCurve, build_population, parse_weights
from telco_cdr.users import generate_users

# The original demo's mix (telco-reference.md), which the scripts keep as their default.
REFERENCE_MIX = {"voice": 0.4, "data": 0.3, "sms": 0.15, "voip": 0.1, "ims": 0.05}
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
TYPE_RE = re.compile(rb'"cdr_type":"([a-z]+)"')
# The tests of helpers.us_week (here and in test_cdrs.py) run in one pytest-xdist process, which
# makes the data set once.
pytestmark = pytest.mark.xdist_group("us-week")


@pytest.fixture(scope="module")
def us(tmp_path_factory):
    return helpers.us_week(tmp_path_factory)


def _local_hours(ds, cdrs=None):
    return np.array([t.hour for t in helpers.local_times(ds, cdrs)])


# ---------------------------------------------------------------- type mix

def test_default_mix_is_the_reference_mix(us):
    got = Counter(c["cdr_type"] for c in us.cdrs)
    n = len(us.cdrs)
    for t, w in REFERENCE_MIX.items():
        assert abs(got[t] / n - w) < 0.02, (t, got[t] / n)


def test_custom_weights_over_200k_records(tmp_path, us):
    weights = {"voice": 0.1, "data": 0.45, "sms": 0.05, "voip": 0.25, "ims": 0.15}
    out = tmp_path / "mix.jsonl"
    text = ",".join(f"{k}={v * 4}" for k, v in weights.items())  # weights need not sum to 1
    helpers.write_cdrs(us.users_path, out, 200_000, 17, helpers.WEEK_START, helpers.WEEK_END, "--weights", text)
    got = Counter(m.decode() for m in TYPE_RE.findall(out.read_bytes()))
    assert sum(got.values()) == 200_000
    for t, w in weights.items():
        assert abs(got[t] / 200_000 - w) < 0.02, (t, got[t] / 200_000)


@pytest.mark.parametrize("weights", ["voice=1", "sms=2,voip=1", "data=0.000001", "voice=1e308,data=1e308"])
def test_types_without_weight_never_appear(tmp_path, us, weights):
    wanted = {part.split("=")[0] for part in weights.split(",")}
    out = tmp_path / "w.jsonl"
    helpers.write_cdrs(us.users_path, out, 3000, 3, helpers.WEEK_START, helpers.WEEK_END, "--weights", weights)
    got = Counter(m.decode() for m in TYPE_RE.findall(out.read_bytes()))
    assert sum(got.values()) == 3000
    assert set(got) == wanted, got


# ---------------------------------------------------------------- who and when

def test_activity_is_heavy_tailed_across_users(us):
    per_user = Counter(c["user_id"] for c in us.cdrs)
    active = [u["user_id"] for u in us.users if u["status"] == "active"]
    counts = np.sort([per_user.get(uid, 0) for uid in active])[::-1]
    top = counts[: len(counts) // 10].sum() / counts.sum()
    assert top > 0.35, top  # a few heavy users, many light ones
    assert counts[0] / counts.sum() < 0.05  # but no one user dominates


def test_night_is_much_quieter_than_day_and_evening(us):
    hours = _local_hours(us)
    per_hour = np.bincount(hours, minlength=24)
    night = per_hour[3:5].mean()
    assert night / per_hour[10:12].mean() < 0.3
    assert night / per_hour[19:21].mean() < 0.3
    assert 8 <= int(np.argmax(per_hour)) <= 22  # the busy hour is in the day, not at night


def test_daily_curve_follows_the_users_time_zone(tmp_path):
    # GB users (UTC+0): the quiet hours are 03-05 UTC, not 08-10 UTC as for US users.
    users = helpers.write_users(tmp_path / "gb.json", 500, seed=2, countries=["GB"])
    out = helpers.write_cdrs(users, tmp_path / "gb.jsonl", 30_000, 4)
    cdrs = helpers.load_records(out)
    per_hour = np.bincount([(helpers.iso_ms(c["start_time"]) // HOUR_MS) % 24 for c in cdrs], minlength=24)
    assert per_hour[3:5].mean() / per_hour[10:12].mean() < 0.3
    assert per_hour[3:5].mean() / per_hour[19:21].mean() < 0.3


def test_weekend_is_quieter_than_weekdays(us):
    # The window is Monday 05:00 UTC to Monday 05:00 UTC: Eastern users see each weekday once,
    # Pacific ones lose three hours of Monday night to Sunday night, which is quiet anyway.
    weekday = np.array([t.weekday() for t in helpers.local_times(us)])  # 0 = Monday
    per_day = np.bincount(weekday, minlength=7)
    assert per_day.min() > 0
    assert per_day[5:].mean() < 0.95 * per_day[:5].mean(), per_day


_POP = build_population(list(generate_users(300, seed=3, countries=["US", "IN"])), 3)


def test_time_curve_maps_quantiles_monotonically_into_the_window():
    lo, hi = helpers.iso_ms(helpers.WEEK_START), helpers.iso_ms(helpers.WEEK_END)
    curve = TrafficCurve(_POP, dict(REFERENCE_MIX), lo, hi)
    u = np.linspace(0, 1, 10_001)[:-1]
    t = curve.times(u)
    assert (np.diff(t) >= 0).all()
    assert t[0] >= lo and t[-1] < hi


@given(st.integers(1, 10**9), st.integers(1, 5000), st.integers(0, 10**6))
def test_chunk_times_sorted_and_inside_their_slice(span_s, count, seed):
    lo = helpers.iso_ms(helpers.WEEK_START)
    curve = TrafficCurve(_POP, {"data": 1.0}, lo, lo + span_s * 1000)
    cut = count // 3
    a = curve.chunk_times(seed, 0, 0, cut, count)
    b = curve.chunk_times(seed, 1, cut, count, count)
    both = np.concatenate([a, b])
    assert len(both) == count
    assert (np.diff(both) >= 0).all()
    assert both.min() >= lo and both.max() < lo + span_s * 1000


# ---------------------------------------------------------------- --weights parsing

@given(st.dictionaries(st.sampled_from(CDR_TYPES), st.floats(0, 1e6, allow_nan=False), min_size=1)
       .filter(lambda d: sum(d.values()) > 0))
def test_parse_weights_round_trips(weights):
    text = ",".join(f"{k}={v!r}" for k, v in weights.items())
    got = parse_weights(text)
    assert set(got) == set(CDR_TYPES)
    for t in CDR_TYPES:
        assert got[t] == weights.get(t, 0.0)


def test_parse_weights_default_is_reference_mix():
    assert parse_weights(None) == REFERENCE_MIX


@pytest.mark.parametrize("text", ["voice=-1", "voice=abc", "foo=1", "voice=0,data=0", "", "voice",
                                  "voice=nan", "voice=inf", "voice=1;data=2"])
def test_parse_weights_rejects_bad_text(text):
    with pytest.raises(UserError, match="--weights"):
        parse_weights(text)


@pytest.mark.parametrize("text", ["voice=1e308,data=1e308", "voice=1.7e308,sms=1.7e308,ims=1"])
def test_parse_weights_never_returns_weights_that_cannot_be_normalised(text):
    try:
        w = parse_weights(text)
    except UserError:
        return  # refusing a total that overflows is fine
    total = sum(w.values())
    assert math.isfinite(total) and total > 0, text
