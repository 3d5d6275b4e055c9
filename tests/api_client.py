"""Calling /api/v1/ in tests with a role's API key, every request and response validated against
the OpenAPI document the app serves (openapi-core)."""

from __future__ import annotations

import json

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request


def openapi_of(app):
    """The served /api/v1/openapi.json, checked as an OpenAPI 3.1 document and ready to validate with."""
    from openapi_core import Config, OpenAPI

    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(spec, config=config)


class ApiClient:
    """A test client calling the API with one key; `validate=False` for a request the document
    must not describe (garbage on purpose)."""

    def __init__(self, client, openapi, key: str | None, language: str | None = None):
        self.client, self.openapi, self.key, self.language = client, openapi, key, language

    def headers(self, extra=None) -> dict:
        headers = {}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        if self.language:
            headers["Accept-Language"] = self.language
        headers.update(extra or {})
        return headers

    def call(self, method: str, url: str, json_body=None, *, headers=None, validate: bool = True):
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

        headers = self.headers(headers)
        response = self.client.open(url, method=method, json=json_body, headers=headers)
        if validate:
            builder = EnvironBuilder(
                path=url, method=method, json=json_body, headers=headers, base_url="http://localhost"
            )
            request = Request(builder.get_environ())
            if response.status_code < 400:
                self.openapi.validate_request(WerkzeugOpenAPIRequest(request))
            self.openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
        return response

    def get(self, url, **kwargs):
        return self.call("GET", url, **kwargs)

    def post(self, url, json_body=None, **kwargs):
        return self.call("POST", url, json_body, **kwargs)

    def patch(self, url, json_body=None, **kwargs):
        return self.call("PATCH", url, json_body, **kwargs)

    def delete(self, url, **kwargs):
        return self.call("DELETE", url, **kwargs)
