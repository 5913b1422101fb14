"""A real client against a running server: schemathesis fuzzes every operation of
the live OpenAPI spec, as several roles, on both engines; no request may get a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

EXAMPLES = 15


def test_no_request_produces_a_server_error(live_server: tuple[str, dict[str, str]]) -> None:
    base_url, by_user = live_server
    tokens = list(by_user.values())
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    # The command stream never ends by design; it has its own test.
    operations = [op for result in schema.get_all_operations() if (op := result.ok()).path != "/v1/capture/commands"]
    assert len(operations) >= 20
    server_errors: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def exercise(case: schemathesis.Case) -> None:
            for token in tokens:
                response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
                if response.status_code >= 500:
                    server_errors.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                    )

        exercise()
    assert server_errors == []
