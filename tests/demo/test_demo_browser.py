"""The demo page in a real headless Chromium (Debian's, driven by Playwright), against a real gateway on
uvicorn with the real preprocessing pool and the fake engine: a person's upload of the astronaut photo, what
the page then shows, and the failures it must explain. Chromium missing is a failure, not a skip."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from devkit.media import astronaut, encode_clip, encode_image, moving_face
from service.preprocess.pool import PreprocessPool
from tests.gateway.fake_engine import FakeEngineState
from tests.gateway.servers import ThreadedServer

CHROMIUM = os.environ.get("FACELLAVA_CHROMIUM", "/usr/bin/chromium")
# As root on a closed network: no sandbox, and no background connections that would only be refused.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(os.environ.get("FACELLAVA_DEMO_SCREENSHOT", "/tmp/facellava-demo-astronaut.png"))
FACE_GREEN = (0x00, 0xE6, 0x76)  # the first face's colour in demo.js
IMAGE_DEFAULT_TASKS = {"expression", "action_units", "attributes", "age"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install -y chromium) "
            "or set FACELLAVA_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pool() -> Iterator[PreprocessPool]:
    real = PreprocessPool(processes=1, max_queue=4)
    yield real
    real.close()


@pytest.fixture
def open_demo(
    browser: Browser,
    pool: PreprocessPool,
    start_demo_gateway: Callable[..., ThreadedServer],
    engine_state: FakeEngineState,
) -> Iterator[Callable[..., Page]]:
    """Open /demo of a fresh gateway (settings overrides as keywords) in a new browser page."""
    engine_state.reset()
    pages: list[Page] = []
    refused: list[str] = []

    def open_page(**overrides: object) -> Page:
        server = start_demo_gateway(preprocessor=pool, **overrides)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        # Chromium reports every load or script the Content-Security-Policy blocked on the console.
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{server.url}/demo")
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()
    assert not refused, f"the demo page broke its own Content-Security-Policy: {refused}"


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "astronaut.png"
    path.write_bytes(encode_image(astronaut(), "PNG"))
    return path


def submit_and_wait(page: Page) -> dict:
    """Click Analyse; return the JSON the page received from POST /analyze."""
    with page.expect_response(lambda r: r.url.endswith("/analyze")) as answer:
        page.get_by_role("button", name="Analyse").click()
    return answer.value.json()


def pixel(page: Page, x: float, y: float) -> tuple[int, int, int]:
    return tuple(
        page.evaluate(
            "([x, y]) => [...document.getElementById('canvas').getContext('2d')"
            ".getImageData(Math.floor(x), Math.floor(y), 1, 1).data].slice(0, 3)",
            [x, y],
        )
    )


def is_face_green(colour: tuple[int, int, int]) -> bool:
    """Anti-aliased strokes blend with the photo a little at sub-pixel positions."""
    return max(abs(a - b) for a, b in zip(colour, FACE_GREEN, strict=True)) <= 40


def test_astronaut_upload_shows_the_face_and_every_answer(
    open_demo: Callable[..., Page], astronaut_png: Path, engine_state: FakeEngineState
) -> None:
    engine_state.delay_s = 0.5  # long enough to see the busy state
    page = open_demo()
    page.get_by_label("Image or video").set_input_files(astronaut_png)
    expect(page.locator("#file-name")).to_contain_text("astronaut.png")
    expect(page.get_by_role("checkbox", name="Deepfake", exact=True)).not_to_be_checked()
    with page.expect_response(lambda r: r.url.endswith("/analyze")) as answer:
        page.get_by_role("button", name="Analyse").click()
        busy = page.locator("#submit")
        expect(busy).to_be_disabled()
        expect(busy).to_have_text("Analysing\u2026")
        expect(page.locator("#status")).to_contain_text("Analysing")
    assert answer.value.status == 200
    result = answer.value.json()
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#submit")).to_be_enabled()
    expect(page.locator("#canvas")).to_have_attribute("data-drawn", "1")

    assert len(result["faces"]) == 1
    face = result["faces"][0]
    assert set(face["tasks"]) == IMAGE_DEFAULT_TASKS
    assert page.locator("section.face").count() == 1
    for task, outcome in face["tasks"].items():
        cells = page.locator(f'section.face tr[data-task="{task}"] td')
        labels = f"{outcome['value']} years" if task == "age" else ", ".join(outcome["labels"]) or "none"
        expect(cells.nth(0)).to_have_text(labels)
        confidence = "unknown" if outcome["confidence"] is None else f"{outcome['confidence'] * 100:.1f} %"
        expect(cells.nth(1)).to_have_text(confidence)
        expect(cells.nth(2)).to_have_text("yes" if outcome["uncertain"] else "no")
        assert cells.nth(3).text_content() == outcome["reasoning"]
    expect(page.locator("#summary")).to_contain_text(result["request_id"])

    # The canvas holds the upload at its own size, with the face's box and landmarks in the first colour.
    assert page.evaluate("(c => [c.width, c.height])(document.getElementById('canvas'))") == [512, 512]
    for x, y in face["landmarks"][::17]:
        assert is_face_green(pixel(page, x, y)), (x, y)
    x0, y0, _, y1 = face["box"]
    assert is_face_green(pixel(page, x0, (y0 + y1) / 2))
    # ... and the photo itself elsewhere (the astronaut's suit is far from green).
    assert not is_face_green(pixel(page, 400, 480))
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_model_text_is_shown_as_text_never_as_html(
    open_demo: Callable[..., Page], astronaut_png: Path, engine_state: FakeEngineState
) -> None:
    engine_state.answer_override = 'The face looks happy. <img src=x id=injected onerror="document.title=1">'
    page = open_demo()
    page.get_by_label("Image or video").set_input_files(astronaut_png)
    page.get_by_role("checkbox", name="Age", exact=True).uncheck()
    result = submit_and_wait(page)
    assert set(result["faces"][0]["tasks"]) == IMAGE_DEFAULT_TASKS - {"age"}
    reasoning = page.locator('tr[data-task="expression"] td.reasoning')
    expect(reasoning).to_have_text(engine_state.answer_override)
    assert page.locator("#injected").count() == 0
    assert page.title() == "Face-LLaVA demo"


def test_api_errors_show_code_and_message(open_demo: Callable[..., Page], astronaut_png: Path, tmp_path: Path) -> None:
    page = open_demo(api_keys=["secret-a"])
    error = page.get_by_role("alert")
    page.get_by_role("button", name="Analyse").click()  # nothing chosen: refused before any request
    expect(error).to_contain_text("no_file")

    page.get_by_label("Image or video").set_input_files(astronaut_png)
    answer = submit_and_wait(page)
    expect(error).to_be_visible()
    expect(page.locator("#error-code")).to_have_text("unauthorized")
    expect(page.locator("#error-message")).to_have_text(answer["error"]["message"])
    expect(page.locator("#error-request-id")).to_have_text(answer["error"]["request_id"])

    page.get_by_label("API key (only if the server asks for one)").fill("secret-a")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    page.get_by_label("Image or video").set_input_files(notes)
    answer = submit_and_wait(page)
    expect(page.locator("#error-code")).to_have_text("unsupported_media")
    expect(page.locator("#error-message")).to_have_text(answer["error"]["message"])

    page.get_by_label("Image or video").set_input_files(astronaut_png)
    submit_and_wait(page)
    expect(error).to_be_hidden()
    expect(page.locator("section.face")).to_have_count(1)


def test_a_dropped_file_is_uploaded_with_the_chosen_landmark_mode(
    open_demo: Callable[..., Page], astronaut_png: Path
) -> None:
    page = open_demo()
    page.get_by_label("Landmarks fed to the model").select_option("off")
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
            const zone = document.getElementById("drop-zone");
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
        }""",
        base64.b64encode(astronaut_png.read_bytes()).decode(),
    )
    expect(page.locator("#file-name")).to_contain_text("dropped.png")
    result = submit_and_wait(page)
    assert len(result["faces"]) == 1
    assert result["landmarks_conditioned"] is False
    expect(page.locator("#summary")).to_contain_text("landmarks fed to the model: no")
    expect(page.locator("#canvas")).to_have_attribute("data-drawn", "1")


def test_video_upload_offers_the_eight_sampled_frames(open_demo: Callable[..., Page], tmp_path: Path) -> None:
    clip = tmp_path / "moving.mp4"
    clip.write_bytes(encode_clip(moving_face(), 30, fps=15))
    page = open_demo()
    page.get_by_label("Image or video").set_input_files(clip)
    expect(page.get_by_role("checkbox", name="Deepfake", exact=True)).to_be_checked()  # the API's video default
    result = submit_and_wait(page)
    face = result["faces"][0]
    assert set(face["tasks"]) == IMAGE_DEFAULT_TASKS | {"deepfake"}
    frame = page.get_by_label("Sampled frame")
    expect(frame).to_be_visible()
    expect(frame).to_have_value(str(face["best_frame"]))
    expect(page.locator("#canvas")).to_have_attribute("data-drawn", "1")
    expect(page.locator("#canvas-caption")).not_to_contain_text("cannot show")  # Chromium decoded the video
    for position in (0, 7):
        frame.fill(str(position))
        expect(page.locator("#frame-label")).to_contain_text(f"{position + 1} of 8")
        x0, y0, x1, y1 = face["frames"][position]["box"]
        assert is_face_green(pixel(page, x0, (y0 + y1) / 2)), position
    # The frame shown is the one seeked to: at frame 0 the face has not yet reached frame 7's place (grey there).
    x0, y0, x1, y1 = face["frames"][7]["box"]
    frame.fill("0")
    expect(page.locator("#frame-label")).to_contain_text("1 of 8")
    assert all(abs(c - 90) <= 12 for c in pixel(page, (x0 + x1) / 2, (y0 + y1) / 2))
    page.screenshot(path=str(SCREENSHOT.with_name("facellava-demo-video.png")), full_page=True)


def test_a_format_the_browser_cannot_show_still_gets_its_faces_drawn(
    open_demo: Callable[..., Page], tmp_path: Path
) -> None:
    tiff = tmp_path / "astronaut.tiff"
    tiff.write_bytes(encode_image(astronaut(), "TIFF"))
    page = open_demo()
    page.get_by_label("Image or video").set_input_files(tiff)
    result = submit_and_wait(page)
    assert result["media"]["format"] == "tiff"
    expect(page.locator("#canvas")).to_have_attribute("data-drawn", "1")
    expect(page.locator("#canvas-caption")).to_contain_text("cannot show")
    x0, y0, _, y1 = result["faces"][0]["box"]
    assert is_face_green(pixel(page, x0, (y0 + y1) / 2))


@pytest.mark.parametrize(
    ("path", "rendered", "cosmetic"),
    [
        ("/docs", ".swagger-ui .opblock-summary-path", set()),
        # ReDoc's "powered by" footer links its logo from its CDN; only that image is missing offline.
        ("/redoc", "button", {"https://cdn.redoc.ly/redoc/logo-mini.svg"}),
    ],
)
def test_api_docs_render_offline(
    browser: Browser, start_demo_gateway: Callable[..., ThreadedServer], path: str, rendered: str, cosmetic: set
) -> None:
    """Swagger UI and ReDoc come from the gateway itself: with every other host unreachable, both pages still
    render the API (the CDN FastAPI loads them from by default is never asked)."""
    server = start_demo_gateway()
    elsewhere: list[str] = []

    def offline(route: Route) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    page = browser.new_page()
    try:
        page.route("**/*", offline)
        page.goto(server.url + path)
        expect(page.locator(rendered).filter(has_text="/analyze").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Face-LLaVA").first).to_be_visible()
    finally:
        page.close()
    assert set(elsewhere) <= cosmetic, f"{path} asked other hosts: {elsewhere}"


def test_a_video_the_browser_cannot_play_is_drawn_on_the_server_frames(
    open_demo: Callable[..., Page], tmp_path: Path
) -> None:
    """Issue 9: an iPhone's HEVC .mov, which Chromium cannot decode, showed a blank canvas and no caption.
    Now the faces are drawn on the server's previews of the very frames they were found in."""
    source = moving_face()
    clip = tmp_path / "IMG_0001.mov"
    clip.write_bytes(encode_clip(source, 30, "mov", "libx265", fps=15))
    page = open_demo()
    page.get_by_label("Image or video").set_input_files(clip)
    result = submit_and_wait(page)
    assert result["media"]["codec"] == "hevc"
    face = result["faces"][0]
    previews = {p["frame_index"] for p in result["media"]["previews"]}
    assert {f["frame_index"] for f in face["frames"]} <= previews
    expect(page.locator("#canvas-caption")).to_contain_text("frames the server decoded")
    frame = page.get_by_label("Sampled frame")
    # The slider walks every frame reported: the clip's sampled ones and each face's own (inside its span).
    own = {f["frame_index"] for answer in result["faces"] for f in answer["frames"]}
    walked = sorted({*result["media"]["sampled_frames"], *own})
    for shown in (face["frames"][0], face["frames"][-1]):
        position = walked.index(shown["frame_index"])
        frame.fill(str(position))
        expect(page.locator("#frame-label")).to_contain_text(f"{position + 1} of {len(walked)}")
        x0, y0, x1, y1 = shown["box"]
        assert is_face_green(pixel(page, x0, (y0 + y1) / 2)), shown
        # Under the face (the astronaut's suit, no strokes there): the picture of that frame (a JPEG of it),
        # not the grey of a missing picture.
        x, y = round((x0 + x1) / 2), 380
        expected = source(shown["frame_index"], 30)[y, x]
        got = pixel(page, x, y)
        assert max(abs(int(a) - int(b)) for a, b in zip(got, expected, strict=True)) <= 40, (got, expected)
