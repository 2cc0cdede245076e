"""The MXNet reference data shipped in tests/data is complete and, where the source is beside
the checkout, identical to it."""

import hashlib
import json

import pytest

from conftest import REFERENCE_DIR, SHARED_REFERENCE_DIR

# The prose files describe the data; only the data itself is copied into the repository.
PROSE_SUFFIXES = (".md",)


def data_files(root):
    """Relative paths of every data file under ``root`` (prose excluded)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not p.name.endswith(PROSE_SUFFIXES))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_copy_matches_its_manifest():
    manifest = json.loads((REFERENCE_DIR / "MANIFEST.json").read_text())
    expected = {name: size for name, size in manifest["files"].items()
                if not name.endswith(PROSE_SUFFIXES)}
    present = {name: (REFERENCE_DIR / name).stat().st_size
               for name in data_files(REFERENCE_DIR) if name != "MANIFEST.json"}
    assert present == expected


@pytest.mark.skipif(not (SHARED_REFERENCE_DIR / "MANIFEST.json").is_file(),
                    reason="no shared/mxnet-reference beside the checkout")
def test_copy_is_identical_to_the_shared_reference():
    shared = data_files(SHARED_REFERENCE_DIR)
    assert data_files(REFERENCE_DIR) == shared
    for name in shared:
        assert digest(REFERENCE_DIR / name) == digest(SHARED_REFERENCE_DIR / name), name
