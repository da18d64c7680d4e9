"""The downstream pipeline (pipelines/telco/, run by pipelines/run_local.py) against the real broker
and real Spark, checked independently of Spark: the Delta tables are read with the ``deltalake``
package (delta-rs, no JVM).

One scenario, in order (module fixtures; each run of the pipeline takes a Spark start-up): users and
CDRs of every type are produced, then spoiled messages written straight to the topics (so the test
knows exactly which records must be quarantined, and for which rule); a first run; more CDRs; a
second run, which must add exactly those."""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from datetime import datetime

import pytest

from kafka_data import consume_all, create_args, summary, unique_prefix
from running import assert_clean_error, run_script
from telco_cdr.constants import CDR_TYPES, USERS_TOPIC

pytestmark = [pytest.mark.spark, pytest.mark.slow]

RUN_LOCAL = "pipelines/run_local.py"
N_USERS, FIRST, SECOND = 150, 2500, 700


def _need_spark():
    for mod in ("pyspark.pipelines", "delta", "deltalake", "yaml"):
        try:
            __import__(mod)
        except ImportError:
            pytest.fail(f"{mod} is not installed: pip install -r requirements-dev.txt", pytrace=False)
    if not shutil.which("java"):
        pytest.fail("java is not on the PATH (Spark needs Java 17+)", pytrace=False)


def _table(storage, name, columns=None):
    from deltalake import DeltaTable

    return DeltaTable(os.path.join(storage, name)).to_pyarrow_table(columns=columns).to_pylist()


def _ms(value) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class Scenario:
    def __init__(self, kafka, tmp):
        self.kafka, self.tmp = kafka, tmp
        self.prefix = unique_prefix()
        self.storage = str(tmp / "lakehouse")
        self.users_file = str(tmp / "users.json")
        self.topics = {"users": self.prefix + USERS_TOPIC} | {t: f"{self.prefix}telco-{t}-cdrs" for t in CDR_TYPES}
        self.spoiled: dict[tuple, str] = {}  # (topic, partition, offset) -> the rule it must fail

    def produce_cdrs(self, count: int, seed: int) -> None:
        res = run_script("kafka_producer.py", "-b", self.kafka.bootstrap, "--users-file", self.users_file,
                         "--seed", seed, "--rate", "max", "--max-count", count, "--stats-interval", 0,
                         *create_args(self.prefix), timeout=180)
        assert res.returncode == 0, res.describe()
        assert summary(res.stderr)["delivered"] == count

    def spoil(self) -> None:
        """One spoiled message per rule, written to the topics directly, each remembered with its rule."""
        from confluent_kafka import Producer

        msgs = consume_all(self.kafka.bootstrap, [self.topics[t] for t in ("data", "sms", "voip", "ims")], None,
                           grace=1.0)
        first = {}
        for topic, key, value, partition, offset, _ts in msgs:
            first.setdefault(topic, (key, value, partition))
        bad = []
        data = dict(first[self.topics["data"]][1])
        del data["apn"]
        sms = dict(first[self.topics["sms"]][1], delivery_status="lost")
        sms0 = first[self.topics["sms"]][1]
        flipped = dict(sms0, direction="MT" if sms0["direction"] == "MO" else "MO", cdr_id="eeeeeeee-eeeeeeee-eeeeee")
        voip = dict(first[self.topics["voip"]][1], user_id="U9999999", cdr_id="ffffffff-ffffffff-ffffff")
        ims_key, ims_value, ims_partition = first[self.topics["ims"]]
        bad += [(self.topics["voice"], b"U0000001", b'{"cdr_id": "x", not json', "unparsable", None),
                (self.topics["data"], data["user_id"].encode(), json.dumps(data).encode(), "schema:apn", None),
                (self.topics["sms"], sms["user_id"].encode(), json.dumps(sms).encode(), "schema:delivery_status",
                 None),
                # a rule between fields: MO is an moSMSRecord, MT an mtSMSRecord
                (self.topics["sms"], sms0["user_id"].encode(), json.dumps(flipped).encode(), "rule:record_type",
                 None),
                (self.topics["voip"], b"U9999999", json.dumps(voip).encode(), "unknown_user", None),
                (self.topics["ims"], ims_key.encode() if isinstance(ims_key, str) else ims_key,
                 json.dumps(ims_value).encode(), "duplicate", ims_partition),
                (self.topics["users"], b"U0000002", b"\xff\xfe not a user", "unparsable", None)]
        p = Producer({"bootstrap.servers": self.kafka.bootstrap, "enable.idempotence": True})
        where = {}

        def report(rule):
            def cb(err, msg):
                assert err is None, err
                where[(msg.topic(), msg.partition(), msg.offset())] = rule
            return cb
        for topic, key, value, rule, partition in bad:
            kw = {"partition": partition} if partition is not None else {}
            p.produce(topic, value=value, key=key, on_delivery=report(rule), **kw)
        assert p.flush(30) == 0
        assert len(where) == len(bad)
        self.spoiled.update(where)

    def run_pipeline(self):
        res = run_script(RUN_LOCAL, "--bootstrap-servers", self.kafka.bootstrap, "--storage", self.storage,
                         "--topic-prefix", self.prefix, timeout=900)
        assert res.returncode == 0, res.describe()
        counts = dict(line.split("\t") for line in res.stdout.splitlines() if "\t" in line)
        return res, {k: int(v) for k, v in counts.items()}

    def delivered(self) -> dict[str, list[tuple]]:
        out = {}
        for kind, topic in self.topics.items():
            out[kind] = consume_all(self.kafka.bootstrap, [topic], None, grace=1.0, raw=True)
        return out

    def expected_clean(self, delivered) -> dict[str, list[dict]]:
        """What silver must hold, computed in plain Python: the delivered records minus the spoiled ones,
        the first of each cdr_id."""
        users = {}
        for topic, key, value, partition, offset, _ts in delivered["users"]:
            if (topic, partition, offset) not in self.spoiled:
                u = json.loads(value)
                users[u["user_id"]] = u
        out = {"users": list(users.values())}
        for t in CDR_TYPES:
            seen, keep = set(), []
            for topic, key, value, partition, offset, _ts in sorted(delivered[t], key=lambda m: (m[3], m[4])):
                if (topic, partition, offset) in self.spoiled:
                    continue
                rec = json.loads(value)
                assert rec["cdr_id"] not in seen, "an unplanned duplicate on the topic"
                seen.add(rec["cdr_id"])
                keep.append(rec)
            out[t] = keep
        return out


def customer_360(clean) -> dict[str, dict]:
    rows = {u["user_id"]: {"plan_id": u["plan_id"], "plan_type": u["plan_type"], "segment": u["segment"],
                           "voice_calls": 0, "voice_seconds": 0, "sms_count": 0, "data_bytes": 0, "voip_calls": 0,
                           "ims_sessions": 0, "first_event_time": None, "last_event_time": None}
            for u in clean["users"]}
    counter = {"voice": "voice_calls", "sms": "sms_count", "voip": "voip_calls", "ims": "ims_sessions"}
    for t in CDR_TYPES:
        for r in clean[t]:
            row = rows[r["user_id"]]
            if t in counter:
                row[counter[t]] += 1
            if t == "voice":
                row["voice_seconds"] += r["duration_seconds"]
            if t == "data":
                row["data_bytes"] += r["uplink_bytes"] + r["downlink_bytes"]
            s, e = _ms(r["start_time"]), _ms(r["end_time"])
            row["first_event_time"] = s if row["first_event_time"] is None else min(row["first_event_time"], s)
            row["last_event_time"] = e if row["last_event_time"] is None else max(row["last_event_time"], e)
    return rows


def _gold_360(storage) -> dict[str, dict]:
    out = {}
    for r in _table(storage, "gold_customer_360"):
        uid = r.pop("user_id")
        for k in ("first_event_time", "last_event_time"):
            r[k] = None if r[k] is None else _ms(r[k])
        out[uid] = r
    return out


@pytest.fixture(scope="module")
def scenario(kafka, tmp_path_factory):
    _need_spark()
    sc = Scenario(kafka, tmp_path_factory.mktemp("pipeline"))
    res = run_script("user_generator.py", "--num-users", N_USERS, "--seed", 11, "--output", sc.users_file)
    assert res.returncode == 0, res.describe()
    res = run_script("export_users_to_kafka.py", "-b", kafka.bootstrap, "--users-file", sc.users_file,
                     "--stats-interval", 0, *create_args(sc.prefix))
    assert res.returncode == 0, res.describe()
    sc.produce_cdrs(FIRST, seed=21)
    sc.spoil()
    sc.first_result, sc.first_counts = sc.run_pipeline()
    sc.first_delivered = sc.delivered()
    return sc


def _quarantine(storage) -> dict[tuple, str]:
    return {(r["topic"], r["partition"], r["offset"]): r["rule"]
            for r in _table(storage, "quarantine", ["topic", "partition", "offset", "rule"])}


def test_silver_is_delivered_minus_quarantined(scenario):
    sc = scenario
    quarantined = defaultdict(int)
    for (topic, _p, _o) in _quarantine(sc.storage):
        quarantined[topic] += 1
    for kind, topic in sc.topics.items():
        delivered = len(sc.first_delivered[kind])
        bronze = len(_table(sc.storage, f"bronze_{kind}", ["offset"]))
        assert bronze == delivered, (kind, bronze, delivered)
        if kind == "users":
            continue
        silver = len(_table(sc.storage, f"silver_{kind}"))
        assert silver == delivered - quarantined[topic], (kind, silver, delivered, quarantined[topic])
        assert sc.first_counts[f"silver_{kind}"] == silver  # what run_local.py printed


def test_quarantine_holds_exactly_the_spoiled_records(scenario):
    sc = scenario
    assert _quarantine(sc.storage) == sc.spoiled
    rows = {(r["topic"], r["partition"], r["offset"]): r for r in _table(sc.storage, "quarantine")}
    for where, rule in sc.spoiled.items():
        if rule in ("duplicate", "unknown_user", "schema:delivery_status"):
            assert rows[where]["cdr_id"], f"{rule}: the cdr_id is readable, so it must be there"


def test_every_silver_cdr_joins_a_user(scenario):
    sc = scenario
    users = {r["user_id"] for r in _table(sc.storage, "silver_users")}
    assert len(users) == N_USERS
    for t in CDR_TYPES:
        rows = _table(sc.storage, f"silver_{t}")
        assert rows, f"silver_{t} is empty"
        assert {r["user_id"] for r in rows} <= users, t
        assert len({r["cdr_id"] for r in rows}) == len(rows), f"silver_{t} has a duplicated cdr_id"


def test_gold_customer_360_equals_plain_python_totals(scenario):
    sc = scenario
    expected = customer_360(sc.expected_clean(sc.first_delivered))
    assert _gold_360(sc.storage) == expected


def test_gold_tables_add_up(scenario):
    sc = scenario
    clean = sc.expected_clean(sc.first_delivered)
    by_plan = _table(sc.storage, "gold_usage_by_plan_hourly")
    per_type = defaultdict(int)
    for r in by_plan:
        per_type[r["cdr_type"]] += r["records"]
    assert dict(per_type) == {t: len(clean[t]) for t in CDR_TYPES}
    cells = _table(sc.storage, "gold_cell_hourly")
    assert sum(r["calls"] for r in cells) == len(clean["voice"])
    assert sum(r["data_bytes"] for r in cells) == sum(r["uplink_bytes"] + r["downlink_bytes"] for r in clean["data"])
    calls = _table(sc.storage, "gold_calls_with_ims")
    ims_icids = defaultdict(int)
    for r in clean["ims"]:
        ims_icids[r["icid"]] += 1
    with_icid = [r for r in clean["voice"] if r["icid"]]
    assert len(calls) == len(with_icid)
    for r in calls:
        assert r["ims_record_count"] == ims_icids.get(r["icid"], 0)


def test_second_run_adds_exactly_the_new_records(scenario):
    sc = scenario
    before = {t: len(_table(sc.storage, f"silver_{t}")) for t in CDR_TYPES}
    quarantine_before = _quarantine(sc.storage)
    sc.produce_cdrs(SECOND, seed=22)
    _res, counts = sc.run_pipeline()
    delivered = sc.delivered()
    new = {t: len(delivered[t]) - len(sc.first_delivered[t]) for t in CDR_TYPES}
    assert sum(new.values()) == SECOND
    for t in CDR_TYPES:
        assert len(_table(sc.storage, f"bronze_{t}", ["offset"])) == len(delivered[t])
        assert len(_table(sc.storage, f"silver_{t}")) == before[t] + new[t], t
        assert counts[f"silver_{t}"] == before[t] + new[t]
    assert _quarantine(sc.storage) == quarantine_before
    assert _gold_360(sc.storage) == customer_360(sc.expected_clean(delivered))


# ---------------------------------------------------------------- the command line (no Spark started)

def test_help_has_an_example():
    res = run_script(RUN_LOCAL, "--help")
    assert res.returncode == 0, res.describe()
    assert "Example:" in res.stdout and "--storage" in res.stdout and "--bootstrap-servers" in res.stdout


@pytest.mark.parametrize("args, code, words", [
    ([], 2, ["--storage"]),
    (["--storage", "x", "--bogus"], 2, ["--bogus"]),
    (["--storage", "x"], 2, ["no Kafka to talk to"]),
    (["--storage", "x", "-b", "127.0.0.1:1", "--security-protocol", "SASL_SSL"], 2, ["needs --sasl-username"]),
])
def test_bad_input_is_one_line(args, code, words, tmp_path):
    res = run_script(RUN_LOCAL, *args, cwd=tmp_path)
    assert_clean_error(res, code, *words)


def test_storage_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    res = run_script(RUN_LOCAL, "--storage", f, "-b", "127.0.0.1:1")
    assert_clean_error(res, 2, "is not a folder")


def test_unreachable_broker_is_one_line(tmp_path):
    res = run_script(RUN_LOCAL, "--storage", tmp_path / "s", "-b", "127.0.0.1:1", "--timeout", "3")
    assert_clean_error(res, 1, "127.0.0.1:1")


def test_sasl_ssl_with_the_producers_settings(kafka_sasl, tmp_path):
    """run_local.py reaches the broker's SASL_SSL listener (PLAIN, the broker's CA) with the flags the
    producers take, the password from the environment as the README advises, and its bronze tables
    hold exactly what was produced there."""
    _need_spark()
    k = kafka_sasl
    prefix = unique_prefix()
    flags = ["-b", k.sasl_bootstrap, "--sasl-username", k.user, "--ssl-ca-location", k.ca]
    env = {"KAFKA_SASL_PASSWORD": k.password}
    users = tmp_path / "users.json"
    res = run_script("user_generator.py", "--num-users", 30, "--seed", 5, "--output", users)
    assert res.returncode == 0, res.describe()
    res = run_script("export_users_to_kafka.py", *flags, "--users-file", users, "--stats-interval", 0,
                     *create_args(prefix), env=env)
    assert res.returncode == 0, res.describe()
    res = run_script("kafka_producer.py", *flags, "--users-file", users, "--rate", "max", "--max-count", 400,
                     "--stats-interval", 0, *create_args(prefix), env=env, timeout=180)
    assert res.returncode == 0, res.describe()
    produced = summary(res.stderr)
    assert produced["delivered"] == 400, res.describe()
    storage = tmp_path / "lakehouse"
    res = run_script(RUN_LOCAL, *flags, "--storage", storage, "--topic-prefix", prefix, env=env, timeout=900)
    assert res.returncode == 0, res.describe()
    assert k.password not in res.stdout + res.stderr, "the password was printed"
    bronze = {t: len(_table(storage, f"bronze_{t}", ["offset"])) for t in ("users", *CDR_TYPES)}
    assert bronze["users"] == 30, bronze
    assert sum(bronze[t] for t in CDR_TYPES) == 400, bronze
    assert {t: n for t, n in bronze.items() if t != "users"} == \
        {t: produced["topics"].get(f"{prefix}telco-{t}-cdrs", (0, 0, 0))[1] for t in CDR_TYPES}, \
        (bronze, produced["topics"])
