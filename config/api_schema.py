"""Every response the API can give, in its OpenAPI schema: errors are documented once, here.

drf-spectacular documents what each view declares (its 2xx, and the 404/409 some views name);
this hook adds the error answers that the platform gives on every operation, all in the one JSON
error shape ``{"error": {"code", "message", "details"}}``:

* 401 (no or bad credentials), 403 (not allowed, or a CSRF failure), 429 (throttled) everywhere;
* 400 where there is a parameter or a body to get wrong, 404 where the path names an object
  (or a cursor names a page);
* 413 (body too large) and 415 (not JSON / not multipart) where there is a request body;
* 414 where a query string could outgrow gunicorn's request line.
"""

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of the API.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable reason."},
                "message": {"type": "string", "description": "What went wrong, for a person."},
                "details": {"nullable": True, "description": "Field errors, limits or valid values."},
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}
DESCRIPTIONS = {
    "400": "Invalid input: a parameter, a field or the JSON body.",
    "401": "Not authenticated: no credentials, or a wrong token.",
    "403": "Authenticated but not allowed (writes are for staff), or a failed CSRF check.",
    "404": "No such object.",
    "409": "The object is not in a state that allows this.",
    "413": "The request body is over its size limit.",
    "414": "The request line (path and query string) is longer than the server takes (gunicorn's own page).",
    "415": "Unsupported content type of the request body.",
    "429": "Too many requests (or too many failed authentications); see Retry-After.",
}
ERROR_CONTENT = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
# gunicorn answers an over-long request line itself, before Django: an HTML page.
URI_TOO_LONG_CONTENT = {"text/html": {"schema": {"type": "string"}}}
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def _codes_for(path: str, operation: dict) -> list[str]:
    codes = ["401", "403", "429"]
    if operation.get("parameters") or "requestBody" in operation:
        codes.append("400")
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        codes.append("414")
    cursor = any(p.get("name") == "cursor" for p in operation.get("parameters", []))
    if "{" in path or cursor:  # a cursor the API cannot read names no page: 404
        codes.append("404")
    if "requestBody" in operation:
        codes += ["413", "415"]
    return codes


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the error component and every error response."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for path, item in result.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code in _codes_for(path, operation):
                responses.setdefault(code, {"description": DESCRIPTIONS[code]})
            for code, response in responses.items():
                if str(code) == "414":
                    response["content"] = URI_TOO_LONG_CONTENT
                elif str(code).startswith("4"):
                    response["content"] = ERROR_CONTENT
                    if not response.get("description"):
                        response["description"] = DESCRIPTIONS.get(str(code), "Error.")
    return result
