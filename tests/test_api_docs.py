"""The OpenAPI document and the interactive docs, which must work without internet access."""
from __future__ import annotations

import re


def test_openapi_document_is_3_1_and_lists_the_api(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] == "Encore API"
    assert "problem+json" in spec["info"]["description"]
    paths = spec["paths"]
    for path in (
        "/api/v1/listings",
        "/api/v1/listings/{listing_id}",
        "/api/v1/listings/{listing_id}/cover",
        "/api/v1/listings/{listing_id}/submit",
        "/api/v1/listings/{listing_id}/reject",
        "/api/v1/tokens",
        "/api/v1/me",
        "/api/v1/live-rooms",
        "/api/v1/creators/{handle}",
    ):
        assert path in paths, path
    assert {"get", "post"} <= paths["/api/v1/listings"].keys()
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


def test_openapi_document_describes_the_listing_body_types(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]

    assert {"kind", "title", "prices"} <= set(schemas["ListingIn"]["required"])
    assert schemas["PriceIn"]["properties"]["amount"]["type"] == "integer"
    assert not [name for name in schemas if re.search(r"\d$", name)], "a schema was registered twice"


def test_docs_page_loads_its_assets_from_this_server(client):
    page = client.get("/api/docs")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert assets, html
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))]
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data
    assert "/api/v1/openapi.json" in html


def test_docs_assets_include_swagger_ui_that_renders_openapi_3_1(client):
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js").get_data(as_text=True)

    assert "isOAS31" in bundle  # swagger-ui 5: 4.x refuses "openapi: 3.1.0" documents
    assert client.get("/api/docs/assets/../../../etc/passwd").status_code == 404
    assert client.get("/api/docs/assets/no-such-file.js").status_code == 404


def test_every_operation_is_filed_under_a_described_tag(client):
    spec = client.get("/api/v1/openapi.json").get_json()

    described = {tag["name"] for tag in spec["tags"] if tag.get("description")}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert set(operation.get("tags", [])) & described, f"{method.upper()} {path}"
