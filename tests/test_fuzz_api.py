"""Property-based fuzzing of the live API from its own OpenAPI schema (schemathesis): no 5xx, responses
conform to the schema. The number of cases that ran is written to test-artifacts/fuzz-cases.txt."""

import hypothesis
import pytest
import schemathesis
from conftest import ARTIFACTS, running_server, served_copy
from schemathesis.checks import positive_data_acceptance

EXAMPLES_PER_OPERATION = 30  # the default run: about 100 cases
SLOW_EXAMPLES_PER_OPERATION = 400  # `pytest -m slow`: at least 1,000 cases


@pytest.fixture(scope="module")
def fuzzed_server(seed_index_dir, tmp_path_factory):
    """A server of the fuzzer's own: it sends uploads and removals, which must not change what other tests ask."""
    yield from running_server(
        served_copy(seed_index_dir, tmp_path_factory, "fuzzed"), tmp_path_factory.mktemp("logs") / "fuzzed.log"
    )


def test_api_never_fails_and_matches_its_schema(fuzzed_server):
    _fuzz(fuzzed_server, EXAMPLES_PER_OPERATION, "fuzz-cases.txt")


@pytest.mark.slow
def test_api_never_fails_over_a_thousand_cases(fuzzed_server):
    assert _fuzz(fuzzed_server, SLOW_EXAMPLES_PER_OPERATION, "fuzz-cases-slow.txt") >= 1000


def _fuzz(server, examples_per_operation: int, report: str) -> int:
    """Every operation of the live schema with up to `examples_per_operation` generated cases; the total run."""
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    counts: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails the test here
        label = f"{operation.method.upper()} {operation.path}"
        counts[label] = 0

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=examples_per_operation,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def check(case):
            counts[label] += 1  # noqa: B023 -- check() runs within this iteration
            # The service checks questions beyond what JSON Schema can say (no control characters, at least one
            # letter or digit, the configured length), so a schema-valid question may get a 422 with a reason.
            # Every other check stays on: no 5xx, documented status codes, conforming bodies and headers.
            case.call_and_validate(base_url=server.url, timeout=60, excluded_checks=[positive_data_acceptance])

        check()
    assert counts and all(n > 0 for n in counts.values())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / report).write_text(
        f"{sum(counts.values())} cases\n" + "".join(f"{k}: {v}\n" for k, v in sorted(counts.items()))
    )
    return sum(counts.values())
