"""docs/usage.md's examples against the real service (real engine, real gateway): every documented
`$ curl -s ...` example with its answer is run as written (with curl, `$B` the gateway) and must get the documented
status and body; the `curl -s -i` examples (API keys, CORS) run against a gateway with the settings they show
and must get the documented status line, headers and body; and the documented /analyze response must have exactly
the fields a real one has. Values that depend on the run (request ids, timings, sizes, limits of this test
gateway) are compared as shapes: every number is a number, every other character is equal. The 429 example ("while
a video analysis is running") runs while a video analysis holds the one in-flight slot of its gateway.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from common.child_server import ROOT, ChildServer
from devkit.media import astronaut, encode_clip, encode_image, moving_face
from service.gateway_process import Gateway
from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.engine

USAGE = (ROOT / "docs" / "usage.md").read_text()
# "$ [... |] curl -s ... # 422" (the status; 200 without one), then the JSON answer on the next line
EXAMPLE = re.compile(r"^\$ ([^\n]*curl -s (?!-i)[^\n]*?)(?:#\s*(\d{3}))?[ \t]*\n(\{.*\})[ \t]*$", re.MULTILINE)


def shape(body: object) -> str:
    """The body with request ids dropped and every number replaced by N."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = {"error": {k: v for k, v in body["error"].items() if k != "request_id"}}
    return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", json.dumps(body, sort_keys=True))


@pytest.fixture(scope="module")
def media_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the examples upload: the astronaut as a JPEG, the same JPEG cut in half, an empty file."""
    folder = tmp_path_factory.mktemp("docs")
    (folder / "empty.jpg").write_bytes(b"")
    jpeg = encode_image(astronaut(), "jpeg")
    (folder / "astronaut.jpg").write_bytes(jpeg)
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    return folder


def run_curl(command: str, gateway: Gateway, folder: Path) -> tuple[int, object]:
    """The documented command as written, in a shell where $B is the gateway and curl sends the API key."""
    script = (f'B={shlex.quote(gateway.url)}; curl() {{ command curl -H "Authorization: Bearer {API_KEY}" '
              f'-w "\\n%{{http_code}}" "$@"; }}; {command}')
    done = subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=300, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


EXAMPLES = EXAMPLE.findall(USAGE)


def test_the_docs_have_examples_to_check() -> None:
    assert len(EXAMPLES) >= 10, EXAMPLES


@pytest.mark.parametrize(("command", "status", "answer"), EXAMPLES, ids=[c[:60] for c, _, _ in EXAMPLES])
def test_documented_curl_example(gateway: Gateway, media_folder: Path, command: str, status: str, answer: str):
    got_status, got = run_curl(command, gateway, media_folder)
    assert got_status == int(status or 200), (command, got)
    assert shape(got) == shape(json.loads(answer)), command


def fields(documented: object, real: object, where: str = "") -> list[str]:
    """Where the documented example's fields differ from the real response's ("..." marks an elision)."""
    if isinstance(documented, dict) and isinstance(real, dict):
        if "..." in documented:  # a partial object: what it shows must exist
            missing = set(documented) - set(real) - {"..."}
            return [f"{where}.{key}: not in the real response" for key in sorted(missing)]
        diff = [f"{where}.{key}: documented, not real" for key in sorted(set(documented) - set(real))]
        diff += [f"{where}.{key}: real, not documented" for key in sorted(set(real) - set(documented))]
        for key in sorted(set(documented) & set(real)):
            diff += fields(documented[key], real[key], f"{where}.{key}")
        return diff
    if isinstance(documented, list) and isinstance(real, list) and documented and real:
        return fields(documented[0], real[0], f"{where}[0]") if documented[0] != "..." else []
    return []


def test_documented_analyze_response_has_the_real_fields(client, media_folder: Path) -> None:
    command = re.search(r"```bash\n(curl -s -H 'X-Request-ID: docs-example-1'.*?)\n```", USAGE, re.DOTALL)
    assert command, "the /analyze curl example is gone"
    documented = json.loads(USAGE.split("Real response of the curl command above", 1)[1].split("```json\n", 1)[1]
                            .split("\n```", 1)[0])
    form = dict(re.findall(r"-F (\w+)=([^\s\\]+)", command.group(1)))
    upload = (media_folder / form.pop("file").lstrip("@")).read_bytes()
    real = client.post("/analyze", files={"file": ("astronaut.jpg", upload)}, data=form).json()
    assert set(real["faces"][0]["tasks"]) == set(form["tasks"].split(","))
    assert fields(documented, real) == []


def headed_examples(while_busy: bool = False) -> list[tuple[str, list[str]]]:
    """(command, output lines) of every `$ curl -s -i` example in a text block, continuation lines joined: those
    run on an idle gateway, or with `while_busy` those after a `$ # while ...` line (a request in flight)."""
    found = []
    for block in re.findall(r"```text\n(.*?)```", USAGE, re.DOTALL):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            busy = bool(i) and lines[i - 1].startswith("$ # while")
            if not lines[i].startswith("$ curl -s -i") or busy != while_busy:
                i += 1
                continue
            command = lines[i][2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            end = i + 1
            while end < len(lines) and not lines[end].startswith("$ "):
                end += 1
            found.append((command, lines[i + 1 : end]))
            i = end
    return found


def split_response(lines: list[str]) -> tuple[int, dict[str, str], str]:
    """(status, headers by lower-case name, body) of `curl -i` output."""
    blank = lines.index("") if "" in lines else len(lines)
    headers = dict(line.split(": ", 1) for line in lines[1:blank])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, "\n".join(lines[blank + 1 :])


HEADED = headed_examples()


@pytest.fixture(scope="module")
def keyed_cors_gateway(engine: ChildServer, tmp_path_factory: pytest.TempPathFactory):
    """The gateway the API-key and CORS examples were taken from: key `secret-a`, origin https://app.example."""
    server = Gateway(engine.url, tmp_path_factory.mktemp("docs-gw") / "gateway.log", api_keys="secret-a",
                     cors_origins="https://app.example", preprocess_workers="1")
    server.start_and_wait()
    yield server
    server.stop()


def test_the_docs_have_header_examples_to_check() -> None:
    assert len(HEADED) >= 4, HEADED


@pytest.mark.parametrize(("command", "output"), HEADED, ids=[c[:60] for c, _ in HEADED])
def test_documented_curl_example_with_headers(keyed_cors_gateway: Gateway, command: str, output: list[str]):
    script = f"B={shlex.quote(keyed_cors_gateway.url)}; {command}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, check=True)
    status, headers, body = split_response(done.stdout.replace("\r\n", "\n").splitlines())
    documented_status, documented_headers, documented_body = split_response(output)
    assert status == documented_status, (command, done.stdout)
    for name, value in documented_headers.items():
        got = headers.get(name)
        assert got is not None and (name == "x-request-id" or got == value), (command, name, value, got)
    if documented_body:
        assert shape(json.loads(body)) == shape(json.loads(documented_body)), command


def in_flight(gateway: Gateway) -> float:
    metrics = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": "Bearer secret-a"}, timeout=10).text
    return float(re.search(r"^facellava_in_flight_requests (\S+)$", metrics, re.MULTILINE).group(1))


def test_documented_429_while_a_video_analysis_runs(engine: ChildServer, media_folder: Path, tmp_path: Path):
    """The overloaded example, with the settings it was taken on (one request in flight), while a video analysis
    of all five tasks holds that slot."""
    (example,) = headed_examples(while_busy=True)
    command, output = example
    server = Gateway(engine.url, tmp_path / "gateway.log", api_keys="secret-a", max_in_flight="1",
                     preprocess_workers="1")
    server.start_and_wait()
    clip = encode_clip(moving_face(), 48)
    busy = threading.Thread(target=lambda: httpx.post(
        f"{server.url}/analyze", headers={"Authorization": "Bearer secret-a"}, files={"file": ("clip.mp4", clip)},
        data={"max_tokens": "256"}, timeout=300))
    try:
        busy.start()
        deadline = time.monotonic() + 60
        while in_flight(server) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert in_flight(server) == 1, "the video analysis never took the slot"
        done = subprocess.run(["bash", "-c", f"B={shlex.quote(server.url)}; {command}"], cwd=media_folder,
                              capture_output=True, text=True, timeout=120, check=True)
        status, headers, body = split_response(done.stdout.replace("\r\n", "\n").splitlines())
        documented_status, documented_headers, documented_body = split_response(output)
        assert status == documented_status == 429, done.stdout
        assert set(documented_headers) <= set(headers), (documented_headers, headers)
        assert int(headers["retry-after"]) > 0
        assert shape(json.loads(body)) == shape(json.loads(documented_body))
    finally:
        busy.join()
        server.stop()
