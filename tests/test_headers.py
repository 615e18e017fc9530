"""Response headers: security policy on every response, CORS on the API."""

import pytest

from app.headers import CORS_HEADERS, SECURITY_HEADERS


@pytest.mark.parametrize("path", ["/", "/healthz", "/openapi.json", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_the_policy_forbids_inline_script_and_framing(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_predict_allows_any_origin_without_credentials(client):
    response = client.post("/predict", data=b"", content_type="image/png",
                           headers={"Origin": "https://example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_predict_answers_a_cors_preflight(client):
    response = client.options("/predict", headers={
        "Origin": "https://example.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type",
    })
    assert response.status_code == 200
    for name, value in CORS_HEADERS.items():
        assert response.headers[name] == value


def test_the_page_is_not_shared_across_origins(client):
    assert "Access-Control-Allow-Origin" not in client.get("/").headers
