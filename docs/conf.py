"""Sphinx configuration of the skmx documentation."""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir)))

import skmx  # noqa: E402

project = "skmx"
author = "the skmx developers"
copyright = "the skmx developers"
release = skmx.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

# The example gallery is built only where sphinx-gallery (which needs matplotlib)
# is installed; without it the rest of the documentation builds unchanged.
if all(importlib.util.find_spec(name) is not None for name in ("sphinx_gallery", "matplotlib")):
    extensions.append("sphinx_gallery.gen_gallery")
    sphinx_gallery_conf = {
        "examples_dirs": "../examples",
        "gallery_dirs": "auto_examples",
        # Every gallery example runs at build time (all of them take seconds), and
        # runs again on each build, so a build always shows what the code prints now.
        "filename_pattern": r"\.py$",
        "run_stale_examples": True,
        # demo.py is the ``make demo`` script, not a gallery page. sphinx-gallery
        # matches ignore_pattern against the bare file name, not the path.
        "ignore_pattern": r"^demo\.py$",
        "download_all_examples": False,
        # The per-build timing tables would land in the source tree (docs/).
        "write_computation_times": False,
    }
    HAS_GALLERY = True
else:
    HAS_GALLERY = False
    # index.rst names the gallery inside ``.. only:: gallery``; Sphinx still
    # resolves that toctree entry, which does not exist without the gallery.
    suppress_warnings = ["toc.not_readable"]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Links to the NumPy, SciPy and scikit-learn docs need their inventories from the
# network; SKMX_DOCS_OFFLINE=1 builds without them.
intersphinx_mapping = {} if os.environ.get("SKMX_DOCS_OFFLINE") == "1" else {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
}

templates_path = ["_templates"]
exclude_patterns = ["_build"]
if not HAS_GALLERY:
    exclude_patterns.append("auto_examples")
tags.add("gallery" if HAS_GALLERY else "nogallery")  # noqa: F821 (provided by Sphinx)

html_theme = "alabaster"
html_title = f"skmx {release}"


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods (metadata routing)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
