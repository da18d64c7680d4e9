"""pyproject.toml: its metadata in step with requirements*.txt and the code, `pip install .`
into a fresh virtual environment giving four working commands, and their help examples."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

import telco_cdr
from helpers import ROOT
from running import run_script

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
COMMANDS = {"user-generator": "user_generator", "cdr-generator": "cdr_generator",
            "kafka-producer": "kafka_producer", "export-users-to-kafka": "export_users_to_kafka"}


def _requirements(name: str) -> set[str]:
    """The pins of a requirements file, normalised (lower case, '_' as '-'), without -r lines."""
    pins = set()
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            pins.add(_normal(line))
    return pins


def _normal(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", requirement.replace(" ", "").lower().split("==")[0]) + \
        ("==" + requirement.split("==", 1)[1].strip() if "==" in requirement else "")


def test_dependencies_are_requirements_txt_pinned_the_same():
    deps = {_normal(d) for d in PYPROJECT["project"]["dependencies"]}
    assert deps == _requirements("requirements.txt")
    assert all("==" in d for d in deps), deps  # the same seed gives the same bytes only with these releases


def test_dev_extra_is_requirements_dev_txt():
    dev = {_normal(d) for d in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert dev == _requirements("requirements-dev.txt")


def test_version_comes_from_the_package():
    assert "version" in PYPROJECT["project"]["dynamic"] and "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "telco_cdr.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", telco_cdr.__version__)


def test_commands_point_at_the_top_level_scripts_main():
    assert PYPROJECT["project"]["scripts"] == {cmd: f"{mod}:main" for cmd, mod in COMMANDS.items()}
    assert set(PYPROJECT["tool"]["setuptools"]["py-modules"]) == set(COMMANDS.values())
    for mod in COMMANDS.values():
        assert (ROOT / f"{mod}.py").is_file()
        assert callable(importlib.import_module(mod).main)


def test_pytest_configuration_lives_in_pyproject_only():
    assert not (ROOT / "pytest.ini").exists()  # a pytest.ini would win over pyproject.toml
    opts = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert opts["testpaths"] == ["tests"] and opts["timeout"] == 600
    assert any(m.startswith("kafka:") for m in opts["markers"])


def _copy_source(dest):
    """The checkout without git's files, build leftovers, caches and a run's outputs, so that the
    build sees what a clean clone has and leaves the checkout as it was."""
    junk = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                  ".hypothesis", ".ruff_cache", ".venv", "venv")

    def ignore(folder, names):
        skip = junk(folder, names)
        if os.path.samefile(folder, ROOT):  # users.json, cdrs.csv, ... of a run in the checkout
            skip |= {n for n in names if n.startswith(("users.", "cdrs."))}
        return skip

    shutil.copytree(ROOT, dest, ignore=ignore)


def _can_build_offline(python) -> bool:
    """setuptools >= 61 (pyproject metadata) that can make a wheel: with the wheel package, or
    setuptools >= 70.1, which has bdist_wheel itself."""
    code = ("import importlib.util as u, setuptools as s; v = tuple(int(x) for x in s.__version__.split('.')[:2]); "
            "print(v >= (61, 0) and (v >= (70, 1) or u.find_spec('wheel') is not None))")
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() == "True"


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_gives_the_commands(tmp_path):
    src, venv, work = tmp_path / "src", tmp_path / "venv", tmp_path / "work"
    _copy_source(src)
    # package data: *.avsc schemas are to come; one here proves the glob takes them
    (src / "telco_cdr" / "schemas" / "probe.avsc").write_text('{"type": "string"}\n', encoding="utf-8")
    # --system-site-packages: numpy, Faker, confluent-kafka come from this interpreter (--no-deps), and so
    # does pip (--without-pip: not a copy of its own, which takes longer to make than the install)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=300)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = str(bindir / "python")
    # offline with the venv's own setuptools if it can; else pip fetches setuptools in isolation
    isolation = ["--no-build-isolation"] if _can_build_offline(python) else []
    proc = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                           *isolation, str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    work.mkdir()  # not the checkout, so only the installed copy can be imported

    for cmd in COMMANDS:
        assert (bindir / cmd).is_file(), f"{cmd} not installed"
    users = subprocess.run([str(bindir / "user-generator"), "--num-users", "3", "--output", "-"], cwd=work,
                           capture_output=True, timeout=300)
    assert users.returncode == 0, users.stderr
    assert len([json.loads(line) for line in users.stdout.splitlines()]) == 3  # stdout: JSON Lines
    assert users.stdout == run_script("user_generator.py", "--num-users", 3, "--output", "-").stdout_bytes  # same bytes
    helped = subprocess.run([str(bindir / "cdr-generator"), "--help"], cwd=work, capture_output=True, text=True,
                            timeout=300)
    assert helped.returncode == 0, helped.stderr
    assert "--users-file" in helped.stdout and "--workers" in helped.stdout

    where = subprocess.run([python, "-c", "import importlib.metadata as m, pathlib, telco_cdr; "
                            "print(m.version('telco-cdr-generator')); print(pathlib.Path(telco_cdr.__file__).parent)"],
                           cwd=work, capture_output=True, text=True, timeout=300, check=True).stdout.split("\n")
    version, pkg = where[0], where[1]
    assert version == telco_cdr.__version__
    assert pkg.startswith(str(venv)), pkg  # the installed package, not the checkout
    schemas = set(os.listdir(os.path.join(pkg, "schemas")))
    assert {f"{n}.schema.json" for n in ("user", "voice", "data", "sms", "voip", "ims")} <= schemas
    assert "probe.avsc" in schemas


def test_help_examples_are_commands_as_typed(capsys):
    """Every example in every script's --help reads as a shell command: a long one is continued
    with a backslash at the end of a line (a backslash-newline left unescaped in the source joins
    the lines, so the reader sees one line with a run of spaces in the middle of the command)."""
    import cdr_generator
    import export_users_to_kafka
    import kafka_producer
    import user_generator

    for module in (user_generator, cdr_generator, kafka_producer, export_users_to_kafka):
        assert module.main(["--help"]) == 0
        out = capsys.readouterr().out
        examples = out.split("examples:", 1)[1].split("\n\n", 1)[0].splitlines()
        commands = [line.strip() for line in examples if line.strip() and not line.strip().startswith("#")]
        assert commands, module.PROG
        lines = iter(commands)
        assert any(line.startswith(f"python {module.PROG}") for line in commands), module.PROG
        for line in lines:
            while line.endswith("\\"):  # a command continued on the next line
                line = next(lines)
                assert line.startswith("--"), (module.PROG, line)
            command = line.split("  #")[0]  # a comment after a command is aligned with spaces
            assert "   " not in command.rstrip(), f"{module.PROG}: lines of an example joined: {line!r}"
