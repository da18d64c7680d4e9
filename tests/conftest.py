"""Generic test plumbing only (project-specific helpers live in tests/helpers.py)."""

import os
import sys

from hypothesis import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (ROOT, os.path.dirname(os.path.abspath(__file__))):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# numpy's first calls are slow; a per-example deadline would only make the tests flaky.
settings.register_profile("default", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
pytest_plugins = ["kafka_broker"]
