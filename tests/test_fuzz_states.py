"""Seeded fuzzing of the optimizer ``.states`` reader.

The cases (``fuzz_cases_states.py``) damage valid ``.states`` archives, as bytes and member by
member, header by header and JSON value by JSON value, including deflated bombs and pickles,
and read them through ``Updater.check_states``, ``Updater.set_states`` (with and without the
parameters) and ``FeedForward.load_optimizer_states``. They run in child processes
(``_fuzz.py``), so that a crash or a hang is seen rather than suffered. Every case must end
normally or with :class:`skmx.exceptions.MXNetError` (a ``ValueError``), no pickle may ever be
loaded, and no case may grow the process by 64 MB. The default run takes a few thousand cases;
the ``slow`` one 100,000.
"""

import pytest
from _fuzz import assert_clean, run_fuzz_split

CASES = "fuzz_cases_states:case"
DOCUMENTED = {"MXNetError", "ValueError"}
MAX_RSS_GROWTH_MB = 64.0
MAX_CASE_S = 2.0


def _check(report, n_cases):
    assert_clean(report, n_cases, DOCUMENTED, MAX_RSS_GROWTH_MB, MAX_CASE_S)


def test_states_reader_survives_mutations():
    _check(run_fuzz_split(CASES, 3000, seed=20240613), 3000)


@pytest.mark.slow
def test_states_reader_survives_many_mutations():
    _check(run_fuzz_split(CASES, 100_000, seed=9, batch_size=2000), 100_000)
