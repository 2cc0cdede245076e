"""Run every script in examples/ and check that it succeeds and prints its result."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import skmx

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
TIMEOUT_S = 120
GALLERY = ["mxnet_feedforward_script.py", "load_mxnet_checkpoint.py", "lenet_digits.py",
           "grid_search_optimizer.py"]


def run_example(path, cwd=REPO_ROOT):
    """Run one example with this interpreter and return its stdout."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def printed_float(stdout, label):
    match = re.search(re.escape(label) + r"\s*([0-9.]+)", stdout)
    assert match, f"{label!r} not printed:\n{stdout}"
    return float(match.group(1))


@pytest.mark.parametrize("name", GALLERY)
def test_example_has_a_gallery_docstring(name):
    path = EXAMPLES / name
    match = re.match(r'"""\n(.+)\n(=+)\n\n(\S.*)', path.read_text(), re.DOTALL)
    assert match, f"{name} lacks a 'title / ===== / text' module docstring"
    assert len(match.group(2)) >= len(match.group(1)), name


def test_mxnet_feedforward_script():
    out = run_example(EXAMPLES / "mxnet_feedforward_script.py")
    assert printed_float(out, "test accuracy (NDArrayIter):") >= 0.9
    assert "reloaded model predicts the same: True" in out
    assert "mlp-0020.params" in out


def test_load_mxnet_checkpoint_reference(refdir):
    out = run_example(EXAMPLES / "load_mxnet_checkpoint.py")
    assert "loaded MXNet 1.9.1 checkpoint lenet epoch 3" in out
    assert "matches MXNet: True" in out


def test_load_mxnet_checkpoint_without_reference(tmp_path):
    # A copy outside the repository has no ../shared/mxnet-reference beside it.
    script = tmp_path / "a" / "b" / "load_mxnet_checkpoint.py"
    script.parent.mkdir(parents=True)
    shutil.copy(EXAMPLES / "load_mxnet_checkpoint.py", script)
    out = run_example(script)
    assert "no MXNet reference data found" in out
    assert "reloaded model predicts the same: True" in out
    assert printed_float(out, "training accuracy") >= 0.9


@pytest.mark.slow
def test_lenet_digits():
    out = run_example(EXAMPLES / "lenet_digits.py")
    assert printed_float(out, "test accuracy:") >= 0.9


def test_grid_search_optimizer():
    out = run_example(EXAMPLES / "grid_search_optimizer.py")
    if not hasattr(skmx, "MXClassifier"):
        assert "skmx.MXClassifier is not available" in out
        return
    assert printed_float(out, "test accuracy of the best model:") >= 0.9
    assert "best parameters:" in out
