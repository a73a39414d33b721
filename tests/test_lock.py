"""requirements.lock against pyproject.toml, the lock tools, and the environment a run records."""
import hashlib
import importlib.util
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from iqa.training import provenance

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("lockfile", REPO / ".ci" / "lockfile.py")
lockfile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lockfile)

TOY_LOCK = """# header comment
app-core==1.0 \\
    --hash=sha256:aa
    # via iqa (pyproject.toml)
big-gpu==2.0 \\
    --hash=sha256:bb
    # via
    #   -c /etc/constraints.txt
    #   iqa (pyproject.toml)
gpu-runtime==3.0 \\
    --hash=sha256:cc
    # via big-gpu
Shared_Util==4.0 \\
    --hash=sha256:dd
    # via
    #   app-core
    #   big-gpu
"""


def test_every_requirement_of_pyproject_is_pinned_in_the_lock_within_its_bounds():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = project["project"]["dependencies"] + project["dependency-groups"]["lock"]
    wanted += [r for extra in project["project"]["optional-dependencies"].values() for r in extra]
    pins = lockfile.pins(lockfile.LOCK.read_text())
    for text in wanted:
        req = Requirement(text)
        name = lockfile.canonical(req.name)
        assert name in pins, f"{text} (pyproject.toml) is not in requirements.lock"
        assert req.specifier.contains(pins[name]), f"requirements.lock pins {name}=={pins[name]}: not {text}"


def test_without_drops_the_named_packages_and_what_only_they_need():
    rest = lockfile.without(TOY_LOCK, {"big-gpu"})
    assert set(lockfile.pins(rest)) == {"app-core", "shared-util"}
    assert rest.startswith("# requirements.lock without big-gpu, gpu-runtime\n")
    assert "--hash=sha256:dd" in rest


def test_without_the_real_torch_keeps_the_rest_of_the_environment():
    rest = lockfile.pins(lockfile.without(lockfile.LOCK.read_text(), {"torch", "torchvision"}))
    assert "torch" not in rest and not any(n.startswith(("nvidia-", "triton")) for n in rest)
    assert {"numpy", "timm", "snakemake", "setuptools", "filelock"} <= rest.keys()


def test_differences_name_missing_extra_and_changed_distributions_but_not_the_project():
    locked = {"app-core": "1.0", "big-gpu": "2.0", "shared-util": "4.0"}
    present = {"app-core": "1.0", "big-gpu": "2.1", "stray": "0.1", "iqa": "0.1.0"}
    assert lockfile.differences(locked, present) == [
        "big-gpu: lock 2.0, installed 2.1",
        "shared-util: lock 4.0, installed -",
        "stray: lock -, installed 0.1",
    ]
    assert lockfile.differences(locked, dict(locked)) == []


def test_environment_records_the_lock_hash_and_every_distribution(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(TOY_LOCK)
    env = provenance.environment(lock)
    assert env["lock_sha256"] == hashlib.sha256(TOY_LOCK.encode()).hexdigest()
    dists = env["distributions"]
    assert dists["pytest"] == metadata.version("pytest") and dists["pyyaml"] == metadata.version("PyYAML")
    assert list(dists) == sorted(dists) and all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in dists)
    assert provenance.environment(tmp_path / "absent.lock")["lock_sha256"] is None


def test_without_matplotlib_the_report_imports_and_figures_name_the_plots_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # None in sys.modules: import raises
    for module in ("iqa.results.figures", "iqa.results.aggregate"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    importlib.import_module("iqa.results.aggregate")
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'iqa\[plots\]'"):
        importlib.import_module("iqa.results.figures")
