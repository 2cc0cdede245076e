"""Run every script in examples/ and check that it succeeds, prints its result and leaves no file.

The scripts run from their own folder, as sphinx-gallery runs them when it builds the
documentation, with ``TMPDIR`` pointing into the test's temporary folder: whatever an
example writes must go there, never into examples/ or the current folder.
"""

import importlib.util
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
# Every example but the ``make demo`` script is a page of the documentation's gallery.
GALLERY = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "demo.py")
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAS_GIT = shutil.which("git") is not None and (REPO_ROOT / ".git").exists()


def folder_state(folder):
    """Every file below ``folder`` (bytecode caches aside) with its size and mtime."""
    state = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = Path(root, name)
            stat = path.stat()
            state[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return state


def git_status_examples():
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--",
                           "examples/"], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=True).stdout


def run_example(path, tmp_path, cwd=None, code=None):
    """Run one example with this interpreter from its folder and return its stdout.

    ``code`` replaces the command line ``python path`` by ``python -c code``. The
    example must leave examples/ and its working folder as they were.
    """
    cwd = path.parent if cwd is None else cwd
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    before = folder_state(EXAMPLES), folder_state(cwd)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TMPDIR=str(tmpdir), MPLBACKEND="Agg")
    argv = [sys.executable, str(path)] if code is None else [sys.executable, "-c", code]
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout}\n{proc.stderr}"
    after = folder_state(EXAMPLES), folder_state(cwd)
    for (label, old), new in zip((("examples/", before[0]), (str(cwd), before[1])), after):
        changed = sorted(set(new.items()) ^ set(old.items()))
        assert not changed, f"{path.name} wrote into {label}: {sorted({c[0] for c in changed})}"
    return proc.stdout


def printed_float(stdout, label):
    match = re.search(re.escape(label) + r"\s*(-?[0-9.]+)", stdout)
    assert match, f"{label!r} not printed:\n{stdout}"
    return float(match.group(1))


def check_saved_plot(stdout, label, tmp_path):
    """With matplotlib, the plot was saved below the temporary folder, and only there."""
    if not HAS_MATPLOTLIB:
        assert "matplotlib is not installed: skipping the plot" in stdout
        return
    match = re.search(re.escape(label) + r" (\S+\.png)$", stdout, re.MULTILINE)
    assert match, f"{label!r} not printed:\n{stdout}"
    saved = Path(match.group(1))
    assert saved.is_file()
    assert saved.resolve().is_relative_to((tmp_path / "tmpdir").resolve()), saved


@pytest.fixture(scope="module")
def examples_git_status():
    """``git status`` of examples/ before this module's examples run."""
    return git_status_examples() if HAS_GIT else None


@pytest.mark.parametrize("name", GALLERY)
def test_example_has_a_gallery_docstring(name):
    path = EXAMPLES / name
    match = re.match(r'"""\n(.+)\n(=+)\n\n(\S.*)', path.read_text(), re.DOTALL)
    assert match, f"{name} lacks a 'title / ===== / text' module docstring"
    assert len(match.group(2)) >= len(match.group(1)), name


def test_gallery_leaves_out_only_the_demo():
    conf = (REPO_ROOT / "docs" / "conf.py").read_text()
    pattern = re.search(r'"ignore_pattern":\s*r"([^"]+)"', conf).group(1)
    # sphinx-gallery matches ignore_pattern against the bare file name.
    names = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert [n for n in names if re.search(pattern, n)] == ["demo.py"]


def test_mxnet_feedforward_script(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "mxnet_feedforward_script.py", tmp_path)
    assert printed_float(out, "test accuracy (NDArrayIter):") >= 0.9
    assert "reloaded model predicts the same: True" in out
    assert "mlp-0020.params" in out


def test_load_mxnet_checkpoint_reference(refdir, examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "load_mxnet_checkpoint.py", tmp_path)
    assert "loaded MXNet 1.9.1 checkpoint lenet epoch 3" in out
    assert "matches MXNet: True" in out


def test_load_mxnet_checkpoint_as_the_gallery_runs_it(refdir, examples_git_status, tmp_path):
    # sphinx-gallery runs the code from the example's folder without defining __file__.
    path = EXAMPLES / "load_mxnet_checkpoint.py"
    code = (f"source = open({path.name!r}).read()\n"
            f"exec(compile(source, {str(path)!r}, 'exec'), {{'__name__': '__main__'}})")
    out = run_example(path, tmp_path, code=code)
    assert "loaded MXNet 1.9.1 checkpoint lenet epoch 3" in out
    assert "matches MXNet: True" in out


def test_load_mxnet_checkpoint_without_reference(examples_git_status, tmp_path):
    # A copy outside the repository has no tests/data/mxnet_reference beside it.
    script = tmp_path / "a" / "b" / "load_mxnet_checkpoint.py"
    script.parent.mkdir(parents=True)
    shutil.copy(EXAMPLES / "load_mxnet_checkpoint.py", script)
    out = run_example(script, tmp_path)
    assert "no MXNet reference data found" in out
    assert "reloaded model predicts the same: True" in out
    assert printed_float(out, "training accuracy") >= 0.9


@pytest.mark.slow
def test_lenet_digits(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "lenet_digits.py", tmp_path)
    assert printed_float(out, "test accuracy:") >= 0.9


def test_grid_search_optimizer(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "grid_search_optimizer.py", tmp_path)
    if not hasattr(skmx, "MXClassifier"):
        assert "skmx.MXClassifier is not available" in out
        return
    assert printed_float(out, "test accuracy of the best model:") >= 0.9
    assert "best parameters:" in out


def test_plot_digits_classifier(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "plot_digits_classifier.py", tmp_path)
    assert printed_float(out, "test accuracy:") >= 0.9
    assert "stopped after" in out
    check_saved_plot(out, "history plotted to", tmp_path)


def test_plot_regression(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "plot_regression.py", tmp_path)
    assert printed_float(out, "MXRegressor  test R2:") >= 0.2
    assert printed_float(out, "MLPRegressor test R2:") > -1
    check_saved_plot(out, "plot saved to", tmp_path)


def test_plot_lbfgs(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "plot_lbfgs.py", tmp_path)
    assert printed_float(out, "MXClassifier  test accuracy:") >= 0.9
    check_saved_plot(out, "plot saved to", tmp_path)


def test_plot_mc_dropout(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "plot_mc_dropout.py", tmp_path)
    assert printed_float(out, "mean std outside the training range:") > \
        3 * printed_float(out, "mean std inside the training range:")
    assert "same random_state, same passes: True" in out
    check_saved_plot(out, "plot saved to", tmp_path)


def test_plot_early_stopping(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "plot_early_stopping.py", tmp_path)
    assert printed_float(out, "MXClassifier  test accuracy:") >= 0.9
    assert "stopped because: early stopping" in out
    check_saved_plot(out, "plot saved to", tmp_path)


def test_plot_onnx_export(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "plot_onnx_export.py", tmp_path)
    assert printed_float(out, "test accuracy:") >= 0.9
    if any(importlib.util.find_spec(n) is None for n in ("skl2onnx", "onnxruntime")):
        assert "skipping the ONNX export" in out
        return
    assert "probabilities agree within 1e-5: True" in out
    assert "labels agree: True" in out


def test_demo(examples_git_status, tmp_path):
    out = run_example(EXAMPLES / "demo.py", tmp_path)
    match = re.search(r"skmx MXClassifier\(\) \[[^\]]*\]\s+([0-9.]+)", out)
    assert match, out
    assert float(match.group(1)) >= 0.9


@pytest.mark.skipif(not HAS_GIT, reason="needs git and a git checkout")
def test_examples_leave_git_status_clean(examples_git_status):
    # Last in this file: all the examples above have run.
    assert git_status_examples() == examples_git_status
