"""schemathesis against /api/schema/ with a token: no 5xx, and every response matches the schema.

The calls go through Django's WSGI handler in this process, on the test database, with an
operator's token so that the generated ids reach real jobs, cleaners and requests.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories as f


@pytest.fixture
def operator_token(db) -> str:
    # A little of everything, at small ids, so that generated paths hit real rows too.
    job = f.job()
    f.cleaner(home_lat=job.property.lat, home_lng=job.property.lng)
    return f.token(f.operator())


@pytest.fixture
def api_schema(db):
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # As Django's test client does: a real WSGI request would close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def test_it_never_answers_5xx_nor_breaks_its_schema(api_schema, operator_token) -> None:
    # Operation by operation with Hypothesis directly: schemathesis' pytest parametrisation does
    # not run under pytest 9 yet.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10, "the schema lost operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case) -> None:
            if case.query and "wait" in case.query:
                case.query["wait"] = 0  # a long-poll would only make the fuzzing slow
            case.call_and_validate(headers={"Authorization": f"Token {operator_token}"}, checks=CHECKS)

        run()


@pytest.fixture
def integration_secret(db) -> str:
    from tests.factories.integrations import integration_key

    job = f.job(external_id="1")
    f.cleaner(external_id="1", home_lat=job.property.lat, home_lng=job.property.lng)
    return integration_key()[1]


def test_the_sync_api_never_answers_5xx_to_an_integration_key(api_schema, integration_secret) -> None:
    # As above, with the only credential the sync API (and the by-external-id questions) answers.
    operations = [
        result.ok()
        for result in api_schema.get_all_operations()
        if "/marketplace/" in result.ok().path or "by-external-id" in result.ok().path
    ]
    assert len(operations) >= 25, [op.path for op in operations]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {integration_secret}"}, checks=CHECKS)

        run()


def test_the_schema_describes_every_api_url(client) -> None:
    import re

    from django.urls import URLPattern, URLResolver, get_resolver

    def routes(patterns, prefix: str = "") -> list[str]:
        out = []
        for p in patterns:
            if isinstance(p, URLResolver):
                out.extend(routes(p.url_patterns, prefix + str(p.pattern)))
            elif isinstance(p, URLPattern):
                out.append(prefix + str(p.pattern))
        return out

    api = {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r)
        for r in routes(get_resolver().url_patterns)
        if r.startswith("api/v1/")
    }
    documented = set(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"])

    assert api and api <= documented, api - documented


def test_data_outside_the_schema_is_refused_without_a_5xx(api_schema, operator_token) -> None:
    """Negative data (wrong types, values out of range, missing fields, extra ones): a 4xx, never a 5xx."""
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import negative_data_rejection
    from schemathesis.generation import GenerationMode

    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case) -> None:
            if case.query and "wait" in case.query:
                case.query["wait"] = 0
            response = case.call(headers={"Authorization": f"Token {operator_token}"})
            assert response.status_code < 500, (case.method, case.path, case.body, response.text[:500])
            if response.status_code >= 400:
                headers = {k.lower(): v for k, v in response.headers.items()}
                content_type = headers.get("content-type", [""])
                content_type = content_type[0] if isinstance(content_type, list) else content_type
                assert content_type.startswith("application/problem+json"), (response.status_code, content_type)
            case.validate_response(response, checks=[not_a_server_error, negative_data_rejection])

        try:
            run()
        except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters, no body)
            continue
