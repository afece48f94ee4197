"""docs/usage.md's error table against the error catalogue (service/api/error_catalogue.py): the table lists
exactly the catalogue's codes, each with its HTTP status (and, for a preprocessing code, its `facellava faces`
exit status); every code the source raises is catalogued; and the statuses the docs give for malformed uploads are
the ones the gateway answers (the table once said 422 for an empty upload and 400 for a cut-off multipart body,
and neither was true)."""

from __future__ import annotations

import base64
import re

import pytest

from common.child_server import ROOT
from service.api.error_catalogue import CATALOGUE, FRAMEWORK_CODES
from service.api.error_responses import ApiError

USAGE = (ROOT / "docs" / "usage.md").read_text()
SOURCES = "\n".join(path.read_text() for path in (ROOT / "service").rglob("*.py"))
# ApiError("code", ...), error_response("code", ...), self._failure("kind", "code", ...) and fail("code", ...)
RAISED = re.compile(r'(?:ApiError|error_response|fail)\(\s*"([a-z0-9_]+)"|_failure\(\s*"[a-z]+",\s*"([a-z0-9_]+)"')


def error_rows() -> list[tuple[int, list[str], str]]:
    """(HTTP status, the codes a row names, its text) for each row of the table."""
    section = USAGE.split("## Errors", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d{3}) \| ([^|]+) \| (.*)\|$", section, flags=re.MULTILINE)
    return [(int(status), re.findall(r"`([a-z0-9_]+)`", codes), text) for status, codes, text in rows]


def error_table() -> dict[str, set[int]]:
    """code -> the HTTP statuses the table gives it (a row may name several codes)."""
    table: dict[str, set[int]] = {}
    for status, codes, _ in error_rows():
        for code in codes:
            table.setdefault(code, set()).add(status)
    return table


def test_the_docs_table_lists_exactly_the_catalogue_with_its_statuses():
    assert len(CATALOGUE) > 30  # the catalogue, not an empty table
    assert error_table() == {code: {entry.http_status} for code, entry in CATALOGUE.items()}


def test_the_docs_give_each_preprocessing_code_its_exit_status():
    exits = {code: set(map(int, re.findall(r"\bexit (\d+)\b", text))) for _, codes, text in error_rows()
             for code in codes}
    expected = {code: {entry.exit_status} for code, entry in CATALOGUE.items() if entry.exit_status is not None}
    assert {code: exits[code] for code in expected} == expected


def test_every_code_the_service_raises_is_in_the_catalogue():
    raised = {code for pair in RAISED.findall(SOURCES) for code in pair if code}
    assert len(raised) > 25  # the scan found the service's raise sites, not nothing
    assert raised - set(CATALOGUE) == set()
    # the old form, a status written at the raise site (a branch merged from before the catalogue)
    assert not re.findall(r"(?:ApiError|error_response)\(\s*\d{3}", SOURCES)


def test_a_status_is_read_from_the_catalogue_and_an_unknown_code_is_refused():
    assert ApiError("reserved_token", "x").status_code == CATALOGUE["reserved_token"].http_status
    with pytest.raises(ValueError, match="not in the catalogue"):
        ApiError("no_such_code", "x")


def test_each_framework_status_has_one_catalogued_code():
    framework = [entry for entry in CATALOGUE.values() if entry.framework]
    assert len(FRAMEWORK_CODES) == len(framework) >= 10
    assert all(CATALOGUE[code].http_status == status for status, code in FRAMEWORK_CODES.items())


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
