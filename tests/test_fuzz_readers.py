"""Seeded fuzzing of the two checkpoint readers: ``-symbol.json`` and ``.params``.

The cases (``fuzz_cases_symbol.py``, ``fuzz_cases_params.py``) mutate the reference
files under ``tests/data/mxnet_reference`` and run in child processes (``_fuzz.py``),
so that a crash or a hang is seen rather than suffered. Every case must end normally
or with the reader's documented error, :class:`skmx.exceptions.MXNetError`, and no
case may grow the process by 64 MB. A ``-symbol.json`` case must also finish in under
a second. The default runs take a few thousand cases per reader; the ``slow`` ones
100,000.
"""

import pytest
from _fuzz import assert_clean, run_fuzz_split

SYMBOL_CASES = "fuzz_cases_symbol:case"
PARAMS_CASES = "fuzz_cases_params:case"
DOCUMENTED = {"MXNetError"}  # what skmx.symbol.load and skmx.nd.load document
MAX_RSS_GROWTH_MB = 64.0


def _check(report, n_cases, max_case_s=None):
    assert_clean(report, n_cases, DOCUMENTED, MAX_RSS_GROWTH_MB, max_case_s)


def test_symbol_json_reader_survives_mutations():
    _check(run_fuzz_split(SYMBOL_CASES, 3000, seed=20240611), 3000, max_case_s=1.0)


def test_params_reader_survives_mutations():
    _check(run_fuzz_split(PARAMS_CASES, 3000, seed=20240612), 3000)


@pytest.mark.slow
def test_symbol_json_reader_survives_many_mutations():
    _check(run_fuzz_split(SYMBOL_CASES, 100_000, seed=7, batch_size=2000), 100_000,
           max_case_s=1.0)


@pytest.mark.slow
def test_params_reader_survives_many_mutations():
    _check(run_fuzz_split(PARAMS_CASES, 100_000, seed=8, batch_size=2000), 100_000)
