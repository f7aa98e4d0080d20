"""Schemathesis over the app's own ``/openapi.json``, driven through hypothesis (schemathesis' pytest
decorators do not run under this pytest version, so its strategies drive hypothesis directly: same
generation, same checks). Bounded and deterministic: a few examples per operation and mode, derandomized,
no shrinking; every operation's failure is collected, then all are reported at once."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config._auth import AuthConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


def authenticate(schema, token: str):
    """Send the key through the documented bearer scheme: schemathesis then knows requests are authenticated,
    and its negative cases that drop the token expect (and get) a 401."""
    schema.config.auth = AuthConfig(openapi={"bearerAuth": {"bearer": token}})
    return schema


def fuzz_operations(operations, known: dict[str, str], examples: dict, positive_only=frozenset()) -> dict[str, str]:
    """Fuzz each operation; returns ``{label (mode): failure}`` (empty when all conform).

    Path ids are half the time replaced by ``known`` ones, so generated query strings and bodies reach real
    objects, not only 404s. Negative data needs something constrained to violate: a query parameter or a
    body schema (any string is a valid path parameter), and an operation in ``positive_only`` gets none.
    """
    failures: dict[str, str] = {}
    for op in operations:
        negative = (len(op.query) or len(op.body)) and op.label not in positive_only
        for mode in [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negative else []):

            @given(case=op.as_strategy(generation_mode=mode), use_known=st.booleans())
            @settings(max_examples=examples[mode], derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def fuzz(case, use_known):
                if use_known and case.path_parameters:
                    for name in case.path_parameters:
                        if name in known:
                            case.path_parameters[name] = known[name]
                case.call_and_validate(checks=CHECKS)

            try:
                fuzz()
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
                failures[f"{op.label} ({mode.value})"] = f"{type(exc).__name__}: {exc}"[:4000]
    return failures
