"""Packaging basics: license, changelog, README, the version from a source folder, doc links."""

import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import skmx
from skmx import MXClassifier, MXRegressor
from skmx._version import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_license_is_the_apache_license_2_0():
    text = (REPO_ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'Licensed under the Apache License, Version 2.0 (the "License");' in text
    # All nine sections of the terms.
    for n, title in enumerate(["Definitions", "Grant of Copyright License",
                               "Grant of Patent License", "Redistribution",
                               "Submission of Contributions", "Trademarks",
                               "Disclaimer of Warranty", "Limitation of Liability",
                               "Accepting Warranty or Additional Liability"], start=1):
        assert f"{n}. {title}." in text, title
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert 'license = "Apache-2.0"' in pyproject


def test_changelog_has_an_unreleased_section():
    text = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog")
    assert "https://keepachangelog.com/en/1.1.0/" in text
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    for word in ("FeedForward", "optimizer", "checkpoint", "MXClassifier", "MXRegressor",
                 "Convolution", "pickle", "tests/data/mxnet_reference"):
        assert word in unreleased, word
    assert re.search(r"^### Added$", unreleased, re.MULTILINE)
    assert re.search(r"^### Fixed$", unreleased, re.MULTILINE)


def test_readme_install_lines_and_estimator_example():
    text = (REPO_ROOT / "README.md").read_text()
    assert "pip install .\n" in text
    for extra in ("gpu", "dask", "tqdm", "docs", "test"):
        assert f'pip install ".[{extra}]"' in text, extra
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    estimator = [b for b in blocks if "MXClassifier(" in b]
    assert estimator, "no MXClassifier example in the README"
    assert len(estimator[0].strip().splitlines()) <= 10


def test_readme_estimator_example_runs(tmp_path):
    text = (REPO_ROOT / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.DOTALL)
                if "MXClassifier(" in b)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.split()[-1]) >= 0.9


def _site_without_skmx(folder):
    """Links to everything installed in site-packages except skmx's metadata and finder."""
    folder.mkdir()
    seen = set()
    for sp in site.getsitepackages() + [sysconfig.get_paths()["purelib"]]:
        sp = Path(sp)
        if not sp.is_dir():
            continue
        for entry in sp.iterdir():
            name = entry.name.lower()
            if name in seen or name.startswith(("skmx", "__editable__")) or name.endswith(".pth"):
                continue
            seen.add(name)
            (folder / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return folder


def test_show_versions_from_a_source_folder(tmp_path):
    # PYTHONPATH names the source folder, and no installed metadata of skmx is visible.
    deps = _site_without_skmx(tmp_path / "site")
    code = ("import importlib.metadata as md\n"
            "try:\n"
            "    md.version('skmx')\n"
            "    print('metadata found')\n"
            "except md.PackageNotFoundError:\n"
            "    pass\n"
            "import skmx\n"
            "print('skmx from', skmx.__file__)\n"
            "skmx.show_versions()\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO_ROOT}:{deps}"}
    proc = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "metadata found" not in proc.stdout
    assert f"skmx from {REPO_ROOT / 'skmx' / '__init__.py'}" in proc.stdout
    assert re.search(rf"^\s*skmx: {re.escape(__version__)}$", proc.stdout, re.MULTILINE), \
        proc.stdout


def test_show_versions_reports_the_imported_version(capsys):
    skmx.show_versions()
    out = capsys.readouterr().out
    assert re.search(rf"^\s*skmx: {re.escape(skmx.__version__)}$", out, re.MULTILINE)


@pytest.mark.parametrize("estimator", [MXClassifier(), MXRegressor()],
                         ids=["MXClassifier", "MXRegressor"])
def test_html_repr_links_to_the_api_page(estimator):
    name = type(estimator).__name__
    link = estimator._get_doc_link()
    slug = "latest" if ".dev" in __version__ else __version__
    assert link == f"https://skmx.readthedocs.io/en/{slug}/generated/skmx.estimators.{name}.html"
    assert f'href="{link}"' in estimator._repr_html_()
    # The page that docs/api.rst generates for the estimator.
    api = (REPO_ROOT / "docs" / "api.rst").read_text()
    section = api.split(".. currentmodule:: skmx.estimators", 1)[1]
    assert re.search(rf"^\s+{name}$", section, re.MULTILINE)


def test_import_skmx_leaves_scikit_learn_for_the_estimators():
    # An MXNet script that only does `import skmx as mx` does not pay for scikit-learn; the
    # estimators, and their scikit-learn warning classes, load on first use.
    code = ("import sys, skmx, skmx.model, skmx.exceptions\n"
            "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
            "from skmx import MXClassifier\n"
            "import sklearn.exceptions as e, skmx._sklearn_compat as compat\n"
            "assert issubclass(compat.DivergenceWarning, e.ConvergenceWarning)\n"
            "assert MXClassifier.__module__ == 'skmx.estimators._classifier'\n"
            "assert {'MXClassifier', 'from_mlp'} <= set(dir(skmx))\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_import_skmx_loads_neither_scipy_sparse_nor_blas_nor_joblib():
    # Each of them takes longer to import than the rest of skmx. They load when first
    # needed: scipy.sparse for sparse data, the BLAS kernels at the first bind, joblib for
    # the CPU count.
    code = ("import sys, skmx\n"
            "heavy = ('scipy.sparse', 'scipy.linalg', 'joblib', 'skmx._kernels._dense',\n"
            "         'skmx._kernels._mlp', 'skmx._kernels._conv')\n"
            "loaded = [m for m in heavy if m in sys.modules]\n"
            "assert not loaded, loaded\n"
            "import numpy as np\n"
            "d = skmx.sym.var('data')\n"
            "net = skmx.sym.FullyConnected(d, num_hidden=1)\n"
            "net = skmx.sym.LinearRegressionOutput(net, name='o')\n"
            "m = skmx.model.FeedForward(net, num_epoch=1, numpy_batch_size=4)\n"
            "m.fit(np.ones((8, 3), np.float32), np.ones(8, np.float32))\n"
            "assert 'skmx._kernels._mlp' in sys.modules and 'joblib' in sys.modules\n"
            "assert 'scipy.sparse' not in sys.modules\n"
            "from skmx._sparse import issparse\n"
            "assert not issparse(np.ones(2))\n"
            "import scipy.sparse as sp\n"
            "assert issparse(sp.csr_matrix(np.eye(2)))\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
