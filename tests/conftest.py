"""Generic test plumbing only (project-specific helpers live in tests/helpers.py, tests/running.py and
tests/kafka_*.py)."""

import atexit
import os
import re
import shutil
import sys
import tempfile

import pytest
from hypothesis import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The tests start the scripts hundreds of times: let them share compiled modules in a folder of this
# session's own (so nothing is written beside the sources, and it is removed at the end) instead of
# compiling the package afresh in every process when the environment says PYTHONDONTWRITEBYTECODE.
if "TELCO_TEST_PYCACHE" not in os.environ:  # the first process of the session (xdist workers inherit it)
    os.environ["TELCO_TEST_PYCACHE"] = os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="telco-pycache-")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    atexit.register(shutil.rmtree, os.environ["TELCO_TEST_PYCACHE"], ignore_errors=True)
for _p in (ROOT, os.path.dirname(os.path.abspath(__file__))):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# numpy's first calls are slow; a per-example deadline would only make the tests flaky.
settings.register_profile("default", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
pytest_plugins = ["kafka_broker"]

# The fixtures that give a test the real broker (kafka_broker.py).  A test that uses one of them,
# directly or through another fixture, is marked ``kafka``, so that ``-m "not kafka"`` runs the
# rest without a broker (and without Java).
KAFKA_FIXTURES = frozenset({"kafka", "kafka_sasl"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if KAFKA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


def pytest_xdist_auto_num_workers(config):
    """How many processes ``-n auto`` (pyproject's addopts) starts: one more than the cores for a
    selection without the broker tests (``-m "not kafka"``, the quick loop), none otherwise.
    The broker tests share one broker per process and some of them measure time, so a run that
    selects them (the default, and .ci/run) stays one process, as before."""
    if re.search(r"\bnot\s+kafka\b", config.option.markexpr or ""):
        return (os.cpu_count() or 1) + 1  # one more than the cores: some tests wait on a clock, not the CPU
    return 0
