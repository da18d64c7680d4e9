"""Roaming (issue 11, item 5), measured on generated records of several countries, seeds and windows:
a few per cent of users travel abroad during a week, for days at a time; their records then name a
visited network of another country (``cell_mcc``/``cell_mnc`` and the cell), say ``roaming: true``,
and carry the visited country's UTC offset; everything else stays the home network's."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import helpers
from telco_cdr.roaming import Trips

# The country and time zone of each visited network's MCC (ITU-T E.212 country codes), written here
# apart from the generator's table: 310 US, 234 GB, 262 DE, 208 FR, 404 IN, 214 ES, 222 IT, 232 AT,
# 334 MX, 302 CA, 424 AE, 525 SG.
MCC = {"310": ("US", "America/New_York"), "234": ("GB", "Europe/London"), "262": ("DE", "Europe/Berlin"),
       "208": ("FR", "Europe/Paris"), "404": ("IN", "Asia/Kolkata"), "214": ("ES", "Europe/Madrid"),
       "222": ("IT", "Europe/Rome"), "232": ("AT", "Europe/Vienna"), "334": ("MX", "America/Mexico_City"),
       "302": ("CA", "America/Toronto"), "424": ("AE", "Asia/Dubai"), "525": ("SG", "Asia/Singapore")}

RUNS = [
    helpers.one_process(("us_gb", ["US", "GB"], 31, 7, "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"), "roaming"),
    helpers.one_process(("de_fr_in", ["DE", "FR", "IN"], 32, 8, "2026-07-06T00:00:00Z", "2026-07-13T00:00:00Z"),
                        "roaming"),
]
USERS, CDRS = 4000, 240_000


def _ms(text: str) -> int:
    return helpers.iso_ms(text)


def _offset(t: datetime) -> str:
    minutes = int(t.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@pytest.fixture(scope="module", params=RUNS)
def run(request, tmp_path_factory):
    return helpers.run_data_set(tmp_path_factory, "roaming", request.param, USERS, CDRS)


def test_a_few_per_cent_of_users_are_abroad_in_a_week(run):
    active = {c["user_id"] for c in run.cdrs}
    abroad = {c["user_id"] for c in run.cdrs if c["roaming"]}
    share = len(abroad) / len(active)
    assert 0.01 < share < 0.06, share
    records = sum(c["roaming"] for c in run.cdrs) / len(run.cdrs)
    assert 0.002 < records < 0.03, records


def test_trips_last_days_and_are_not_interrupted_by_home(run):
    """A traveller's roaming records span days, and no home record falls between the first and the
    last of a trip (trips of days, not single records abroad)."""
    by_user = defaultdict(list)
    for c in run.cdrs:
        by_user[c["user_id"]].append((_ms(c["start_time"]), c["roaming"], c["cell_mcc"] + c["cell_mnc"]))
    spans, clean, travellers = [], 0, 0
    for rows in by_user.values():
        away = [t for t, r, _ in rows if r]
        if len(away) < 5:
            continue
        travellers += 1
        lo, hi = min(away), max(away)
        spans.append((hi - lo) / 86_400_000)
        clean += not any(lo < t < hi and not r for t, r, _ in rows)
        assert len({p for _, r, p in rows if r}) <= 2, "a week holds one or two trips, each to one network"
    assert travellers >= 20, travellers
    assert np.median(spans) > 1.0, spans  # days abroad
    assert clean / travellers > 0.9, (clean, travellers)


def test_records_abroad_name_a_visited_network_of_another_country_and_its_time(run):
    zones = {}
    seen = 0
    for c in run.cdrs:
        u = run.by_id[c["user_id"]]
        if not c["roaming"]:
            assert (c["cell_mcc"], c["cell_mnc"]) == (u["mcc"], u["mnc"]), c
            continue
        seen += 1
        country, zone = MCC[c["cell_mcc"]]
        assert country != u["country"], c
        assert c["cell_id"].startswith(c["cell_mcc"] + c["cell_mnc"]), c
        assert not c["imsi"].startswith(c["cell_mcc"] + c["cell_mnc"]), "the visited network is not the home one"
        t = datetime.fromisoformat(c["start_time"].replace("Z", "+00:00"))
        tz = zones.get(zone) or zones.setdefault(zone, ZoneInfo(zone))
        assert c["ms_time_zone"] == _offset(t.astimezone(tz)), (c["cdr_id"], c["ms_time_zone"], zone)
    assert seen > 500, seen


def test_travellers_go_where_their_country_travels(run):
    """Destinations by home country: Americans mostly to Mexico and Canada, Britons to Spain and
    France, Germans to Austria, Italy and Spain, the French to Spain and Italy, Indians to the UAE."""
    likely = {"US": {"MX", "CA"}, "GB": {"ES", "FR", "IT"}, "DE": {"AT", "IT", "ES"}, "FR": {"ES", "IT"},
              "IN": {"AE", "SG"}}
    trips = defaultdict(Counter)
    for c in run.cdrs:
        if c["roaming"]:
            u = run.by_id[c["user_id"]]
            trips[u["country"]][(c["user_id"], MCC[c["cell_mcc"]][0])] = 1
    for country, counts in trips.items():
        where = Counter(dest for _, dest in counts)
        if sum(where.values()) >= 15:
            top = sum(where[d] for d in likely[country])
            assert top / sum(where.values()) > 0.5, (country, where)


def test_data_abroad_is_home_routed(tmp_path):
    """A roaming data record keeps the home operator's APN and PGW (home-routed roaming).  A run of its
    own, of few users and mostly data, so that travellers' bearers run through their trips."""
    users = helpers.write_users(tmp_path / "u.json", 400, seed=41, countries=["GB", "DE", "IN"])
    cdrs = helpers.write_cdrs(users, tmp_path / "c.jsonl", 150_000, 41, "2026-11-09T00:00:00Z",
                              "2026-11-16T00:00:00Z", "--weights", "voice=0.1,data=0.8,sms=0.05,voip=0.03,ims=0.02")
    ds = helpers.DataSet(users, cdrs, helpers.load_records(users), helpers.load_records(cdrs))
    home_apns = defaultdict(set)
    for c in ds.of_type("data"):
        if not c["roaming"]:
            home_apns[c["user_id"]].add((c["apn"], c["pgw_address"]))
    checked = 0
    for c in ds.of_type("data"):
        if c["roaming"] and c["apn"] not in ("ims", "mms") and home_apns[c["user_id"]]:
            assert (c["apn"], c["pgw_address"]) in home_apns[c["user_id"]], c
            assert c["cell_mcc"] + c["cell_mnc"] != ds.by_id[c["user_id"]]["mcc"] + ds.by_id[c["user_id"]]["mnc"]
            checked += 1
    assert checked > 20, checked


def test_trips_are_the_seed_s_and_of_whole_days():
    """Trips are a function of (seed, user, time) only: two calls agree, another seed differs; a
    trip's records are contiguous in time and 2 to 7 days long; nobody travels home."""
    trips, other = Trips(5, ["US", "GB"]), Trips(6, ["US", "GB"])
    users = np.arange(20_000)
    plmn = users % 2
    hours = np.arange(0, 14 * 24)
    t0 = _ms("2026-11-02T00:00:00Z")
    abroad_days = []
    for u in range(0, 20_000, 7):
        t = t0 + hours * 3_600_000
        dest, _ = trips.where(np.full(len(t), plmn[u]), np.full(len(t), u), t)
        again, _ = trips.where(np.full(len(t), plmn[u]), np.full(len(t), u), t)
        assert np.array_equal(dest, again)
        away = dest >= 0
        if away.any():
            assert {trips_country(d) for d in dest[away]}.isdisjoint({["US", "GB"][plmn[u]]})
            runs = np.flatnonzero(np.diff(np.concatenate(([0], away.view(np.int8), [0]))))
            # whole trips only (not cut by the fortnight's ends); back to back trips count as one
            abroad_days += [(b - a) / 24 for a, b in zip(runs[::2], runs[1::2]) if a > 0 and b < len(hours)]
    assert len(abroad_days) > 20 and 1.9 <= min(abroad_days) and max(abroad_days) <= 14
    assert 1.9 <= np.median(abroad_days) <= 7.1
    dest5, _ = trips.where(plmn, users, np.full(len(users), t0 + 3 * 86_400_000))
    dest6, _ = other.where(plmn, users, np.full(len(users), t0 + 3 * 86_400_000))
    assert 0.005 < np.mean(dest5 >= 0) < 0.05 and not np.array_equal(dest5, dest6)


def trips_country(d: int) -> str:
    from telco_cdr.roaming import VISITED

    return VISITED[d].country


@pytest.mark.parametrize("seed", [3, 17])
def test_indian_subscribers_live_in_their_mncs_licence_circle(tmp_path, seed):
    """India's MNCs are licensed per circle (DoT): a 404-10 (Airtel Delhi) subscriber lives in the Delhi
    circle, a 404-20 (Vodafone Idea Mumbai) one in the Mumbai circle; other countries' operators are
    national, their users in many cities."""
    users = helpers.load_records(helpers.write_users(tmp_path / "u.json", 3000, seed=seed, countries=["IN", "GB"]))
    circles = {("404", "10"): {"Delhi"}, ("404", "20"): {"Mumbai"}}
    seen = defaultdict(set)
    for u in users:
        seen[u["mcc"], u["mnc"]].add(u["home_city"])
    assert seen[("404", "10")] == circles[("404", "10")] and seen[("404", "20")] == circles[("404", "20")], seen
    assert all(len(cities) > 5 for plmn, cities in seen.items() if plmn[0] == "234"), seen
