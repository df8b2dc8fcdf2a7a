"""Errors outside any one endpoint still speak the contract's error shape."""

import pytest


def test_unknown_api_path(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "method,path", [("put", "/api/v1/cities"), ("get", "/api/v1/auth/register"), ("patch", "/api/v1/holds/x")]
)
def test_wrong_method(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["Allow"]


def test_oversized_body(app, client, make):
    show, fan = make.show(), make.fan()
    body = b'{"seatIds": ["' + b"A" * 70_000 + b'"]}'
    response = client.post(
        f"/api/v1/shows/{show.show_id}/holds", data=body, content_type="application/json", headers=fan.headers
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_database_outage_is_a_503_with_retry_after(make):
    from app import create_app
    from tests.conftest import settings_for_tests

    cut_off = create_app(
        settings_for_tests(
            database_url="postgresql+psycopg://seatline:seatline@127.0.0.1:1/none", db_pool_timeout_seconds=0.5
        )
    )
    response = cut_off.test_client().get("/api/v1/cities")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "DEGRADED"
    assert response.headers["Retry-After"] == "2"
    ready = cut_off.test_client().get("/readyz")
    assert ready.status_code == 503
