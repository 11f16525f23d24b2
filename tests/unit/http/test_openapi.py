"""The OpenAPI document is served locally and describes every route and error in our shapes."""

from __future__ import annotations

from typing import Any, Final

from litestar import Litestar
from litestar.testing import TestClient

from tests.unit.http.conftest import Api

ROUTES: Final = {
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("post", "/auth/verify-email"),
    ("get", "/auth/verify-email"),
    ("post", "/auth/password-reset"),
    ("post", "/auth/password-reset/confirm"),
    ("get", "/me"),
    ("patch", "/me"),
    ("delete", "/me"),
    ("get", "/me/export"),
    ("post", "/me/verification"),
    ("get", "/artists/{artist_id}"),
    ("patch", "/artists/{artist_id}"),
    ("get", "/artists"),
    ("put", "/artists/{artist_id}/tiers"),
    ("put", "/artists/{artist_id}/tiers/{tier}"),
    ("post", "/artists/{artist_id}/tracks"),
    ("get", "/artists/{artist_id}/tracks"),
    ("get", "/tracks/{track_id}"),
    ("patch", "/tracks/{track_id}"),
    ("delete", "/tracks/{track_id}"),
    ("get", "/tracks/{track_id}/stream"),
    ("get", "/tracks/{track_id}/waveform"),
    ("get", "/artists/{artist_id}/messages"),
    ("get", "/media/artists/{artist_id}/tracks/{track_id}/hls/{rung}/{filename}"),
    ("post", "/artists/{artist_id}/live"),
    ("get", "/artists/{artist_id}/live"),
    ("get", "/live/{session_id}"),
    ("post", "/live/{session_id}/key"),
    ("post", "/live/{session_id}/end"),
    ("get", "/live/{session_id}/stream"),
    ("get", "/media/artists/{artist_id}/live/{session_id}/hls/{rung}/{filename}"),
    ("post", "/artists/{artist_id}/subscription"),
    ("patch", "/artists/{artist_id}/subscription"),
    ("delete", "/artists/{artist_id}/subscription"),
    ("get", "/me/subscriptions"),
    ("post", "/artists/{artist_id}/follow"),
    ("post", "/tracks/{track_id}/like"),
    ("post", "/tracks/{track_id}/plays"),
    ("post", "/artists/{artist_id}/messages"),
    ("get", "/me/conversations/{artist_id}"),
    ("get", "/artists/{artist_id}/conversations"),
    ("get", "/artists/{artist_id}/conversations/{fan_id}"),
    ("post", "/artists/{artist_id}/conversations/{fan_id}/replies"),
    ("delete", "/artists/{artist_id}/follow"),
    ("delete", "/tracks/{track_id}/like"),
    ("get", "/me/following"),
    ("get", "/me/history"),
    ("get", "/me/notifications"),
    ("post", "/me/notifications/read"),
    ("get", "/me/notification-email"),
    ("put", "/me/notification-email"),
    ("get", "/me/likes"),
    ("post", "/artists/{artist_id}/qa"),
    ("get", "/artists/{artist_id}/qa"),
    ("get", "/qa/{qa_id}"),
    ("post", "/qa/{qa_id}/close"),
    ("post", "/qa/{qa_id}/questions"),
    ("post", "/qa/{qa_id}/questions/{question_id}/votes"),
    ("put", "/qa/{qa_id}/questions/{question_id}/answer"),
    ("put", "/qa/{qa_id}/questions/{question_id}/hidden"),
    ("put", "/artists/{artist_id}/image"),
    ("get", "/artists/{artist_id}/image"),
    ("post", "/artists/{artist_id}/backstage"),
    ("get", "/artists/{artist_id}/backstage"),
    ("get", "/backstage/{post_id}"),
    ("patch", "/backstage/{post_id}"),
    ("delete", "/backstage/{post_id}"),
    ("get", "/backstage/{post_id}/comments"),
    ("post", "/backstage/{post_id}/comments"),
    ("delete", "/backstage/{post_id}/comments/{comment_id}"),
    ("get", "/artists/{artist_id}/backstage/blocks"),
    ("put", "/artists/{artist_id}/backstage/blocks/{fan_id}"),
    ("delete", "/artists/{artist_id}/backstage/blocks/{fan_id}"),
    ("get", "/media/artists/{artist_id}/backstage/{post_id}/images/{filename}"),
    ("get", "/media/artists/{artist_id}/backstage/{post_id}/clip/hls/{rung}/{filename}"),
    ("get", "/artists/{artist_id}/dashboard"),
    ("post", "/payouts/run"),
    ("get", "/artists/{artist_id}/payouts"),
    ("post", "/admin/billing/run"),
    ("get", "/health"),
}
PUBLIC: Final = {
    ("get", "/artists"),
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/verify-email"),
    ("get", "/auth/verify-email"),
    ("post", "/auth/password-reset"),
    ("post", "/auth/password-reset/confirm"),
    ("get", "/media/artists/{artist_id}/tracks/{track_id}/hls/{rung}/{filename}"),
    ("get", "/media/artists/{artist_id}/live/{session_id}/hls/{rung}/{filename}"),
    ("get", "/artists/{artist_id}/live"),
    ("get", "/live/{session_id}"),
    ("get", "/artists/{artist_id}/image"),
    ("get", "/health"),
}
#: Public, but what they show depends on who asks when a token is sent.
OPTIONAL_AUTH: Final = {
    ("get", "/artists/{artist_id}"),
    ("get", "/artists/{artist_id}/tracks"),
    ("get", "/tracks/{track_id}"),
    ("get", "/tracks/{track_id}/waveform"),
    # Signed backstage media: a token, when sent, must be the signature's holder's.
    ("get", "/media/artists/{artist_id}/backstage/{post_id}/images/{filename}"),
    ("get", "/media/artists/{artist_id}/backstage/{post_id}/clip/hls/{rung}/{filename}"),
}


def _schema(client: TestClient[Litestar]) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    }


def test_the_schema_lists_every_route(client: TestClient[Litestar]) -> None:
    """/schema/openapi.json documents exactly the API's routes."""
    assert set(_operations(_schema(client))) == ROUTES


def test_schema_is_json_at_schema_too(client: TestClient[Litestar]) -> None:
    """/schema itself serves the JSON document, no CDN-backed UI page."""
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_routes_declare_whether_the_bearer_token_is_required(client: TestClient[Litestar]) -> None:
    """Signed-in routes require the bearer scheme, caller-aware public ones accept it, the rest ignore it."""
    document = _schema(client)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    for key, operation in _operations(document).items():
        expected: list[dict[str, list[str]]] | None
        if key in PUBLIC:
            expected = None
        elif key in OPTIONAL_AUTH:
            expected = [{}, {"bearer": []}]
        else:
            expected = [{"bearer": []}]
        assert operation.get("security") == expected, key


def test_error_responses_are_documented_in_our_body_shape(client: TestClient[Litestar]) -> None:
    """Every documented 4xx answers {error, detail}, not Litestar's default shape."""
    document = _schema(client)
    for key, operation in _operations(document).items():
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (key, status)
    assert sorted(document["components"]["schemas"]["ErrorBody"]["required"]) == ["detail", "error"]


def test_the_upload_documents_its_multipart_body(client: TestClient[Litestar]) -> None:
    """The streamed upload still shows its form fields and its 413."""
    operation = _operations(_schema(client))[("post", "/artists/{artist_id}/tracks")]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]) == {"file", "title", "release_at", "exclusive"}
    assert form["required"] == ["file", "title"]
    assert "413" in operation["responses"]
    assert "202" in operation["responses"]


def test_health_is_ok(api: Api) -> None:
    """GET /health answers {"status": "ok"}."""
    response = api.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_request_bodies_say_they_refuse_undeclared_fields(client: TestClient[Litestar]) -> None:
    """Every request body's schema closes its properties, as the API does (an extra field is 422)."""
    schemas = _schema(client)["components"]["schemas"]
    bodies = {name for name in schemas if name.endswith("In")}
    assert {"RegisterIn", "LoginIn", "LogoutIn", "TierIn", "MessageIn"} <= bodies
    closed = {name: schemas[name].get("additionalProperties") for name in bodies}
    assert closed == dict.fromkeys(bodies, False)
    refused = client.post("/auth/login", json={"email": "a@example.com", "password": "x" * 12, "extra": 1})
    assert refused.status_code == 422


def test_only_optional_request_bodies_may_be_left_out(client: TestClient[Litestar]) -> None:
    operations = _operations(_schema(client))
    assert operations[("post", "/auth/logout")]["requestBody"]["required"] is False
    assert operations[("post", "/auth/register")]["requestBody"]["required"] is True
