"""Shared fixtures: the MXNet reference folder, dtypes and thread counts."""

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The golden data recorded from MXNet 1.9.1 ships with the tests, so a bare clone tests itself.
REFERENCE_DIR = REPO_ROOT / "tests" / "data" / "mxnet_reference"
# Where the data was copied from; present only beside a development checkout.
SHARED_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "mxnet-reference"


def reference_dir():
    """Return the MXNet 1.9.1 golden-data folder, failing clearly if it is missing."""
    if not (REFERENCE_DIR / "MANIFEST.json").is_file():
        pytest.fail(f"MXNet reference data not found at {REFERENCE_DIR}")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def refdir():
    return reference_dir()


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def n_threads(request):
    return request.param
