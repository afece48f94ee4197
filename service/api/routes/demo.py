"""GET /demo: a one-page browser client of POST /analyze, so a person can try the model without writing code.

The page is three static files shipped in the package (service/api/static). They are served from a fixed list,
never from a path taken from the URL, and under a Content-Security-Policy that allows only this origin's script,
style and API: the page shows model text, and the policy is a second line of defence behind its own escaping.
The page needs no API key (it holds no secret); the key a user types is sent only with the /analyze call.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)

_FILES = {
    "demo.html": "text/html; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}


@cache
def _read(name: str) -> bytes:
    return resources.files("service.api").joinpath("static", name).read_bytes()


def _static(name: str) -> Response:
    return Response(
        _read(name),
        media_type=_FILES[name],
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/demo")
async def demo_page() -> Response:
    return _static("demo.html")


@router.get("/demo/demo.js")
async def demo_script() -> Response:
    return _static("demo.js")


@router.get("/demo/demo.css")
async def demo_style() -> Response:
    return _static("demo.css")
