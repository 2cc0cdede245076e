"""The skmx version, and the address of the documentation that goes with it."""

__version__ = "0.1.0.dev0"


def _docs_url(version=__version__):
    """Root of the online documentation for ``version``: ``latest`` for development builds."""
    slug = "latest" if ".dev" in version else version
    return f"https://skmx.readthedocs.io/en/{slug}/"
