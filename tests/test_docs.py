"""The documentation builds with the example gallery, without a warning, and writes only its output.

The build runs on a copy of docs/ and examples/ (skmx and the test data linked in), so it
runs beside a developer's own ``make docs`` and its checks see exactly what it wrote.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skmx import MXClassifier, MXRegressor

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_TOOLS = ("sphinx", "sphinx_gallery", "matplotlib", "numpydoc")
BUILD_TIMEOUT_S = 600


def _tree(folder):
    """Every file below ``folder`` with its size and mtime, bytecode caches aside."""
    state = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            stat = Path(root, name).stat()
            state[str(Path(root, name).relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return state


def _makefile_docs_requirements():
    text = (REPO_ROOT / "Makefile").read_text()
    line = re.search(r"^DOCS_REQUIREMENTS\s*:=\s*(.+)$", text, re.MULTILINE).group(1)
    return re.findall(r'"([^"]+)"', line)


def test_docs_target_installs_the_docs_extra():
    tomllib = pytest.importorskip("tomllib")
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["docs"]
    assert _makefile_docs_requirements() == extra
    names = {re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower() for req in extra}
    assert {"sphinx", "numpydoc", "sphinx-gallery", "matplotlib"} <= names


def test_ci_builds_the_docs_after_the_tests():
    lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in lines and "make docs" in lines
    assert lines.index("make test") < lines.index("make docs")


def test_docs_marker_is_registered(pytestconfig):
    assert any(m.startswith("docs:") for m in pytestconfig.getini("markers"))


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build the HTML documentation of a copy of the sources; return (source copy, html, log)."""
    missing = [name for name in DOCS_TOOLS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the docs extra is not installed (missing {', '.join(missing)}): "
                    "make docs installs it")
    base = tmp_path_factory.mktemp("docs")
    src = base / "src"
    ignore = shutil.ignore_patterns("_build", "generated", "auto_examples", "__pycache__")
    shutil.copytree(REPO_ROOT / "docs", src / "docs", ignore=ignore)
    shutil.copytree(REPO_ROOT / "examples", src / "examples", ignore=ignore)
    (src / "skmx").symlink_to(REPO_ROOT / "skmx", target_is_directory=True)
    (src / "tests").mkdir()
    (src / "tests" / "data").symlink_to(REPO_ROOT / "tests" / "data", target_is_directory=True)
    cwd, tmpdir = base / "cwd", base / "tmpdir"
    cwd.mkdir()
    tmpdir.mkdir()
    before = _tree(src / "docs"), _tree(src / "examples")
    html = base / "html"
    env = dict(os.environ, SKMX_DOCS_OFFLINE="1", MPLBACKEND="Agg", TMPDIR=str(tmpdir),
               PYTHONPATH=str(src))
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-d", str(base / "doctrees"), str(src / "docs"), str(html)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{log[-6000:]}"
    return {"src": src, "html": html, "log": log, "cwd": cwd, "before": before}


@pytest.mark.docs
def test_docs_build_without_warnings(built_docs):
    assert "WARNING" not in built_docs["log"]
    assert (built_docs["html"] / "index.html").is_file()


@pytest.mark.docs
def test_docs_build_writes_nothing_into_the_sources(built_docs):
    src = built_docs["src"]
    docs_before, examples_before = built_docs["before"]
    assert _tree(src / "examples") == examples_before
    docs_after = {k: v for k, v in _tree(src / "docs").items()
                  if not k.startswith(("generated" + os.sep, "auto_examples" + os.sep))}
    assert docs_after == docs_before
    assert list(built_docs["cwd"].iterdir()) == []


@pytest.mark.docs
def test_gallery_runs_every_example_but_the_demo(built_docs):
    gallery = built_docs["html"] / "auto_examples"
    examples = sorted(p.stem for p in (built_docs["src"] / "examples").glob("*.py"))
    pages = sorted(p.stem for p in gallery.glob("*.html") if p.stem != "index")
    assert pages == [name for name in examples if name != "demo"]
    index = (gallery / "index.html").read_text()
    for name in pages:
        # A gallery title, so the index links the example.
        assert f'href="{name}.html"' in index, name
    checkpoint = (gallery / "load_mxnet_checkpoint.html").read_text()
    assert "matches MXNet: True" in checkpoint
    for name in ("plot_digits_classifier", "plot_regression"):
        assert (built_docs["html"] / "_images" / f"sphx_glr_{name}_001.png").is_file(), name


@pytest.mark.docs
@pytest.mark.parametrize("estimator", [MXClassifier(), MXRegressor()],
                         ids=["MXClassifier", "MXRegressor"])
def test_estimator_doc_link_names_a_built_page(built_docs, estimator):
    link = estimator._get_doc_link()
    page = link.split("/en/", 1)[1].split("/", 1)[1]
    assert (built_docs["html"] / page).is_file(), page
