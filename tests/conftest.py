"""Generic test plumbing only (project-specific helpers live in tests/helpers.py, tests/running.py and
tests/kafka_*.py)."""

import atexit
import json
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
    if _quick_loop(config):  # the quick loop leaves out the Spark jobs too (see _quick_loop)
        jobs = [item for item in items if item.get_closest_marker("spark")]
        if jobs:
            config.hook.pytest_deselected(items=jobs)
            items[:] = [item for item in items if not item.get_closest_marker("spark")]
    _tell_the_groups(config, items)


def _quick_loop(config) -> bool:
    """``-m "not kafka"`` (and no word of spark in it) is the quick loop: the tests that need no
    broker, and not the ones that run Spark jobs (marked ``spark``: a session of their own and
    minutes of work); ``-m spark`` runs those, and a run without ``-m`` (.ci/run) runs everything."""
    expr = config.option.markexpr or ""
    return bool(re.search(r"\bnot\s+kafka\b", expr)) and "spark" not in expr


def pytest_report_header(config):
    if _quick_loop(config):
        return ["quick loop (-m \"not kafka\"): the Spark jobs (marked spark) are left out too; -m spark runs them"]
    return None


# ---------------------------------------------------------------- pytest-xdist: groups on one process
#
# ``--dist loadgroup`` (pyproject's addopts) gives each test to the next free process, except that
# the tests marked ``@pytest.mark.xdist_group(name)`` (those of one costly module-scoped data set) all
# go to one process, which makes the data set once.  pytest-xdist 3.8 finds the groups by a suffix it
# sets on each test's node id, which pytest 9 no longer lets it set; so here the processes write the
# groups to a file as they collect, and the controller's scheduler reads them from it.

GROUPS_FILE = "telco_xdist_groups"  # the key of the file's path in each process's workerinput


def pytest_configure(config):
    if config.getvalue("dist") == "loadgroup" and not hasattr(config, "workerinput"):  # the controller
        fd, config._telco_groups = tempfile.mkstemp(prefix="telco-xdist-groups-", suffix=".json")
        os.close(fd)
        atexit.register(lambda path=config._telco_groups: os.path.exists(path) and os.unlink(path))


def pytest_configure_node(node):
    """pytest-xdist, in the controller: where the process is to write the groups (with loadgroup)."""
    if hasattr(node.config, "_telco_groups"):
        node.workerinput[GROUPS_FILE] = node.config._telco_groups


def _tell_the_groups(config, items) -> None:
    path = getattr(config, "workerinput", {}).get(GROUPS_FILE)
    if not path:
        return
    groups = {}
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names:
            groups[item.nodeid] = "@" + "_".join(names)
    tmp = f"{path}.{config.workerinput['workerid']}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(groups, fh)
    os.replace(tmp, path)  # every process collects the same tests and writes the same groups


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    path = config._telco_groups

    class GroupScheduling(LoadScopeScheduling):
        """One unit of work per test, or per group; the groups first, the largest first (as
        xdist's own loadgroup does), then the other tests in their order."""

        _groups: dict | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:  # first asked once every process has collected
                with open(path, encoding="utf-8") as fh:
                    self._groups = json.load(fh)
            return self._groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


def pytest_xdist_auto_num_workers(config):
    """How many processes ``-n auto`` (pyproject's addopts) starts: one more than the cores for a
    selection without the broker tests (``-m "not kafka"``, the quick loop), none otherwise.
    The broker tests share one broker per process and some of them measure time, so a run that
    selects them (the default, and .ci/run) stays one process, as before."""
    if re.search(r"\bnot\s+kafka\b", config.option.markexpr or ""):
        return (os.cpu_count() or 1) + 1  # one more than the cores: some tests wait on a clock, not the CPU
    return 0
