"""Schemathesis over every operation of the JSON API, as an agent and as a clerk, against a county hub served
by `onetrip serve` on loopback: no answer may be a 5xx or lie outside the OpenAPI document.

`make fuzz` runs it long (`python -m harness.fuzz`, a few minutes); tests/e2e/test_fuzz.py runs it
short inside `make test`. Both generate valid and invalid requests (schemathesis's positive and negative
modes) and count every case, so that the figures can be quoted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.cases import item
from harness.servers import free_port, start, stop
from harness.tree import open_node, provision_county
from harness.web import intake, logged_in
from storage.database import db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ACCOUNTS = {"agent": ("li", "李代办", "agent-pass-1"), "clerk": ("zhou", "周科员", "clerk-pass-1")}
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@dataclass
class Figures:
    operations: int = 0
    cases: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)  # the first few, to read

    def __str__(self) -> str:
        return (
            f"{self.operations} operations × {len(ACCOUNTS)} roles, {self.cases} cases, "
            f"{self.server_errors} × 5xx, {len(self.failures)} schema violations"
        )


@contextmanager
def served_county(base: Path) -> Iterator[str]:
    """A provisioned county hub (enrolled to its city) with an agent and a clerk, served on loopback."""
    from provisioning.operators import create_operator

    tree = provision_county(base)
    node = open_node(tree.county)
    for username, name, password in ACCOUNTS.values():
        role = next(r for r, account in ACCOUNTS.items() if account[0] == username)
        create_operator(node.events, node.identity.station, username=username, name=name, role=role, password=password)
    db.close()
    port = free_port()
    server = start(["serve", "--data", str(tree.county.data_dir)], port, within_s=60, log=base / "serve.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)


def session_of(base_url: str, role: str) -> requests.Session:
    """Logged in through the login form, with the CSRF token every write needs in its header."""
    username, _, password = ACCOUNTS[role]
    session = logged_in(base_url, username, password)
    session.headers["X-CSRFToken"] = session.get(f"{base_url}/api/v1/csrf", timeout=5).json()["token"]
    return session


def fuzz(base_url: str, max_examples: int, *, derandomize: bool = False, keep: int = 5) -> Figures:
    """Every operation, as each role, in both modes; failures are collected, not raised, so that the
    figures cover the whole run. `derandomize`: the same cases every run (the short run in `make test`)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    figures = Figures(operations=len(operations))
    real = _filed(base_url)
    for role in ACCOUNTS:
        session = session_of(base_url, role)
        for operation in operations:
            for mode in MODES:
                _run(operation, mode, base_url, session, real, max_examples, derandomize, figures, keep)
    return figures


def _filed(base_url: str) -> str:
    """An application filed by the agent: half the cases that name an application name this one, so that
    steps, documents and detail are fuzzed on a real case, not only answered 404."""
    agent = session_of(base_url, "agent")
    filed = agent.post(f"{base_url}/api/v1/applications", json=intake(item(), request_token="f" * 32), timeout=30)
    assert filed.status_code == 201, filed.text
    return filed.json()["numbers"][0]


def _run(operation, mode, base_url, session, real, max_examples, derandomize, figures: Figures, keep: int) -> None:
    @settings(
        max_examples=max_examples,
        derandomize=derandomize,
        verbosity=Verbosity.quiet,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is recorded as it came
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), on_real=st.booleans())
    def one(case, on_real: bool) -> None:
        if on_real and "number" in (case.path_parameters or {}):
            case.path_parameters["number"] = real
        response = case.call(base_url=base_url, session=session, timeout=30)
        figures.cases += 1
        figures.server_errors += response.status_code >= 500
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:  # what the case did, what came back and which checks it broke
            if len(figures.failures) < keep:
                figures.failures.append(f"{operation.label} ({mode}): {str(exc)[:600]}")
            else:
                figures.failures.append(operation.label)

    try:
        one()
    except Unsatisfiable:  # negative mode on an operation that takes nothing: no invalid request to make
        assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=300, help="cases per operation, role and mode")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="onetrip-fuzz-") as base, served_county(Path(base)) as url:
        figures = fuzz(url, args.max_examples)
    for failure in dict.fromkeys(figures.failures):
        print(failure, file=sys.stderr)
    print(f"schemathesis: {figures} in {time.monotonic() - started:.0f} s")
    return 0 if figures.server_errors == 0 and not figures.failures else 1


if __name__ == "__main__":
    sys.exit(main())
