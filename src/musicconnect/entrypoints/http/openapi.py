"""The OpenAPI document, completed where Litestar 2 leaves out what the API does.

Litestar builds component schemas from a pydantic model's fields but not from its config, so it
never says that a request body refuses fields it does not declare (every ``_In`` model forbids
extras), and it marks a request body required even when the handler's body is optional. Clients
generated from the document, and schemathesis, would then send what the API refuses.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import OpenAPI, Operation, Reference, RequestBody, Schema
from pydantic import BaseModel

from musicconnect.entrypoints.http.schemas import input_models


def complete_openapi(app: Litestar) -> None:
    """Complete the app's OpenAPI document in place (on start-up, before it is first served)."""
    openapi = app.openapi_schema
    _close_input_schemas(openapi, input_models())
    _let_optional_bodies_be_left_out(openapi)


def _close_input_schemas(openapi: OpenAPI, models: list[type[BaseModel]]) -> None:
    names = {model.__name__ for model in models}
    schemas = openapi.components.schemas if openapi.components else None
    for name, schema in (schemas or {}).items():
        if name in names:
            schema.additional_properties = False


def _let_optional_bodies_be_left_out(openapi: OpenAPI) -> None:
    for path_item in (openapi.paths or {}).values():
        operations = (path_item.post, path_item.put, path_item.patch, path_item.delete)
        for operation in operations:
            body = _request_body(operation)
            if body is not None and _accepts_null(body):
                body.required = False


def _request_body(operation: Operation | None) -> RequestBody | None:
    body = operation.request_body if operation is not None else None
    return body if isinstance(body, RequestBody) else None


def _accepts_null(body: RequestBody) -> bool:
    for media in body.content.values():
        schema = media.schema
        if isinstance(schema, Schema) and any(
            not isinstance(choice, Reference) and choice.type == "null" for choice in (schema.one_of or [])
        ):
            return True
    return False
