"""The short schemathesis run of `make fuzz` (harness/fuzz.py): every operation of the JSON API, as an
agent and as a clerk, valid and invalid requests, against a served county hub."""

from __future__ import annotations

from harness.fuzz import fuzz, served_county


def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_openapi_document(tmp_path):
    with served_county(tmp_path) as url:
        figures = fuzz(url, max_examples=12, derandomize=True)
    assert figures.operations == 12 and figures.cases > 150, figures
    assert figures.server_errors == 0 and not figures.failures, "\n".join(figures.failures)
