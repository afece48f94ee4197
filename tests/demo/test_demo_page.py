"""GET /demo and its two static files: served with the right types and a strict CSP, self-contained (nothing
fetched from another origin), with the form controls the page promises, and a script that never inserts API
text as HTML."""

from __future__ import annotations

import re

import httpx
import pytest

TASKS = ["expression", "action_units", "attributes", "age", "deepfake"]


def test_page_has_every_control(demo_client: httpx.Client) -> None:
    response = demo_client.get("/demo")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert re.search(r'<input type="file" id="file"[^>]*accept="image/\*,video/\*"', page)
    assert 'id="drop-zone"' in page
    for task in TASKS:
        assert re.search(rf'<input type="checkbox" name="tasks" value="{task}"( checked)?>', page), task
    # The API's image defaults: every task but deepfake.
    assert re.findall(r'name="tasks" value="(\w+)" checked', page) == TASKS[:4]
    assert re.findall(r'<option value="(\w+)"', page) == ["auto", "on", "off"]
    assert '<option value="auto" selected>' in page
    assert '<input type="password" id="api-key"' in page
    assert '<button type="submit" id="submit">' in page
    assert '<canvas id="canvas"' in page
    assert 'role="alert"' in page and 'role="status"' in page


def test_every_input_has_a_label(demo_client: httpx.Client) -> None:
    page = demo_client.get("/demo").text
    for control in re.findall(r'<(?:input|select)[^>]*\bid="([\w-]+)"', page):
        assert f'for="{control}"' in page, control
    # Checkboxes are labelled by the <label> wrapped around them.
    assert len(re.findall(r'<label><input type="checkbox"', page)) == len(TASKS)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/demo", "text/html"), ("/demo/demo.js", "text/javascript"), ("/demo/demo.css", "text/css")],
)
def test_files_are_self_contained_and_locked_down(demo_client: httpx.Client, path: str, content_type: str) -> None:
    response = demo_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert "http://" not in response.text and "https://" not in response.text
    assert not re.search(r'(?:src|href)="//|url\(', response.text)  # no protocol-relative or CSS-loaded URL
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_page_loads_only_its_own_files(demo_client: httpx.Client) -> None:
    page = demo_client.get("/demo").text
    assert re.findall(r'<script src="([^"]+)"', page) == ["demo/demo.js"]
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) == ["demo/demo.css"]
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP would block it


def test_script_posts_multipart_to_analyze(demo_client: httpx.Client) -> None:
    script = demo_client.get("/demo/demo.js").text
    assert re.search(r'fetch\("analyze", \{ method: "POST", body, headers \}\)', script)
    assert "new FormData()" in script
    for field in ("file", "tasks", "landmarks"):
        assert f'body.append("{field}"' in script
    assert "Authorization = `Bearer ${key}`" in script
    assert "localStorage" not in script and "sessionStorage" not in script and "cookie" not in script


def test_script_never_writes_html(demo_client: httpx.Client) -> None:
    script = demo_client.get("/demo/demo.js").text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_demo_needs_no_key_and_is_not_in_the_api_schema(start_demo_gateway) -> None:
    server = start_demo_gateway(api_keys=["secret-a"])
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/demo").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        assert not any(path.startswith("/demo") for path in client.get("/openapi.json").json()["paths"])
        assert client.post("/analyze").status_code == 401  # the API itself stays locked


def test_unknown_demo_file_is_a_json_404(demo_client: httpx.Client) -> None:
    response = demo_client.get("/demo/secret.py")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
