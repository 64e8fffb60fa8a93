"""Property-based fuzzing of every log format's parser and of `prepare` as a whole.

No input may crash an import (only a named `LogProblem` for a file, or a skipped and counted
line) and no malformed file may cost a good file beside it any message. The CI profile keeps the
suite under a minute; benchmarks/fuzz.py runs the same properties much longer.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_inputs import JSON_FORMATS, SEEDS, check_parser, check_prepare, log_bytes
from trainer.ingest.formats import FORMATS

settings.register_profile("ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")), deadline=None,
                          derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")

ALL_FORMATS = sorted(set(SEEDS) | set(JSON_FORMATS))


def test_every_format_has_fuzz_seeds():
    assert set(ALL_FORMATS) == set(FORMATS)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_parser_survives_malformed_input(fmt):
    @given(log_bytes(fmt))
    def property_(data):
        check_parser(fmt, data)

    property_()


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")) * 2)
@given(st.lists(st.sampled_from(ALL_FORMATS).flatmap(log_bytes), min_size=1, max_size=3))
def test_prepare_keeps_every_good_file_beside_malformed_ones(files):
    check_prepare(files)
