"""docs/openapi.yaml documents exactly the routes the app serves, and holds together."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import app

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "trace"}  # OPTIONS is ignored

Route = tuple[str, str]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def app_routes() -> set[Route]:
    return {
        (path, method.upper())
        for path, methods in app.routes.items()
        for method in methods
        if method.upper() != "OPTIONS"
    }


def doc_operations(doc: dict[str, Any]) -> Iterator[tuple[Route, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield (path, method.upper()), operation


def route_differences(routes: set[Route], doc: dict[str, Any]) -> tuple[set[Route], set[Route]]:
    """(served but undocumented, documented but not served)."""
    documented = {route for route, _ in doc_operations(doc)}
    return routes - documented, documented - routes


def client_errors(operation: dict[str, Any]) -> list[str]:
    return [str(status) for status in operation["responses"] if str(status).startswith("4")]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} does not resolve"
        assert key in node, f"{ref} does not resolve"
        node = node[key]
    return node


def test_every_route_is_documented_and_nothing_else(doc: dict[str, Any]) -> None:
    undocumented, unserved = route_differences(app_routes(), doc)
    assert not undocumented, f"routes missing from {DOC_PATH.name}: {sorted(undocumented)}"
    assert not unserved, f"documented routes the app does not serve: {sorted(unserved)}"


def test_route_comparison_reports_both_directions(doc: dict[str, Any]) -> None:
    changed = copy.deepcopy(doc)
    del changed["paths"]["/v1/commit"]
    changed["paths"]["/v1/nowhere"] = {"get": {"responses": {"404": {"description": "x"}}}}
    undocumented, unserved = route_differences(app_routes(), changed)
    assert undocumented == {("/v1/commit", "POST")}
    assert unserved == {("/v1/nowhere", "GET")}


def test_every_operation_declares_a_client_error(doc: dict[str, Any]) -> None:
    without = [route for route, op in doc_operations(doc) if not client_errors(op)]
    assert not without, f"operations with no 4xx response: {without}"


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    found = set(refs(doc))
    assert found, "the document uses $ref"
    for ref in found:
        resolve(doc, ref)


def test_only_signup_and_login_are_public(doc: dict[str, Any]) -> None:
    assert doc["security"] == [{"bearerAuth": []}]
    public = {route for route, op in doc_operations(doc) if op.get("security") == []}
    assert public == {("/v1/auth/signup", "POST"), ("/v1/auth/login", "POST")}
