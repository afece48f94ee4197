"""docs/usage.md's error table against the service: every code the code base can answer with is listed with its
HTTP status, every listed code exists, and the statuses the docs give for malformed uploads are the ones the
gateway answers (the table once said 422 for an empty upload and 400 for a cut-off multipart body, and neither
was true)."""

from __future__ import annotations

import base64
import re

import pytest

from common.child_server import ROOT
from service.preprocess.error_codes import ERRORS

USAGE = (ROOT / "docs" / "usage.md").read_text()
SOURCES = "\n".join(path.read_text() for path in (ROOT / "service").rglob("*.py"))
# ApiError(400, "code", ...) and error_response(503, "code", ...), possibly over several lines
RAISED = re.compile(r'(?:ApiError|error_response)\(\s*(\d{3}),\s*"([a-z0-9_]+)"')


def error_table() -> dict[str, set[int]]:
    """code -> the HTTP statuses the table gives it (a row may name several codes)."""
    section = USAGE.split("## Errors", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[int]] = {}
    for status, codes in re.findall(r"^\| (\d{3}) \| ([^|]+) \|", section, flags=re.MULTILINE):
        for code in re.findall(r"`([a-z0-9_]+)`", codes):
            table.setdefault(code, set()).add(int(status))
    return table


def test_every_code_the_service_raises_is_listed_with_its_status():
    table = error_table()
    raised = {(int(status), code) for status, code in RAISED.findall(SOURCES)}
    raised |= {(spec.http_status, code) for code, spec in ERRORS.items()}
    assert len(raised) > 20  # the scan found the service's codes, not nothing
    missing = sorted((status, code) for status, code in raised if status not in table.get(code, set()))
    assert not missing, f"raised but not in docs/usage.md's table with that status: {missing}"


def test_every_listed_code_exists_in_the_service():
    stale = sorted(code for code in error_table() if f'"{code}"' not in SOURCES)
    assert not stale, f"in docs/usage.md's error table but never answered: {stale}"


def documented(code: str) -> int:
    (status,) = error_table()[code]
    return status


MULTIPART = "multipart/form-data; boundary=xyz"
PART = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", PART + b"x\r\n--xyz--\r\n"),  # no boundary parameter
        (MULTIPART, b"not multipart at all"),
        (MULTIPART, PART + b"x"),  # cut off before the closing boundary
        (MULTIPART, b""),
        (MULTIPART, b"--xyz\r\nno header\r\n\r\nx\r\n--xyz--\r\n"),
    ],
    ids=["no-boundary", "garbage", "cut-off", "empty-body", "bad-part-header"],
)
def test_a_malformed_multipart_body_gets_the_documented_answer(gateway, content_type, body):
    response = gateway.post("/analyze", content=body, headers={"Content-Type": content_type})
    assert (response.status_code, response.json()["error"]["code"]) == (documented("bad_multipart"), "bad_multipart")


@pytest.mark.parametrize(
    "send",
    [
        lambda client: client.post("/analyze", files={"file": ("a.png", b"")}),
        lambda client: client.post("/analyze", json={"media": {"base64": ""}}),
        lambda client: client.post("/analyze", json={"media": {"base64": "\n"}}),
        lambda client: client.post("/v1/chat/completions", json={"model": "facellava", "messages": [{
            "role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}]}]}),
    ],
    ids=["upload", "base64", "base64-newline", "chat-data-url"],
)
def test_empty_media_gets_the_documented_answer(gateway, send):
    response = send(gateway)
    assert (response.status_code, response.json()["error"]["code"]) == (documented("empty_media"), "empty_media")


def test_a_chat_data_url_that_is_not_base64_names_the_field_the_client_sent(gateway):
    bad = "data:image/png;base64," + base64.b64encode(b"x" * 30).decode()[:-3] + "!!!"
    message = {"role": "user", "content": [{"type": "text", "text": "hi"},
                                           {"type": "image_url", "image_url": {"url": bad}}]}
    response = gateway.post("/v1/chat/completions", json={"model": "facellava", "messages": [message]})
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (documented("invalid_base64"), "invalid_base64")
    assert error["message"].startswith("messages[0].content[1].image_url.url"), error
    assert "media.base64" not in error["message"], error
