"""The OpenAPI explorer works air-gapped: /schema loads Swagger UI from the server itself, nothing from elsewhere.

Over HTTP, every script, stylesheet and icon the explorer's page names is on the server and
served from the vendored files (api/console/vendor.json). In Debian's Chromium, the explorer
renders every operation of the schema while any request to another host is aborted and
recorded: none may be attempted. On both engines, like every integration test.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.timeout(120)

CONSOLE = Path(__file__).resolve().parents[1] / "api" / "console"
VENDORED = {entry["path"]: entry for entry in json.loads((CONSOLE / "vendor.json").read_text())["files"]}
EXPLORER = "/schema/swagger"
PAGES = ["/schema", EXPLORER]  # the schema's root renders the (only) explorer too
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        url = named.get("src") if tag in ("script", "img") else named.get("href") if tag == "link" else None
        if url:
            self.urls.append(url)

    @classmethod
    def of(cls, html: str) -> list[str]:
        parser = cls()
        parser.feed(html)
        return parser.urls


def operations(base: str) -> set[tuple[str, str]]:
    schema = httpx.get(base + "/schema/openapi.json", timeout=15).raise_for_status().json()
    return {(method, path) for path, item in schema["paths"].items() for method in item if method in METHODS}


def test_every_asset_of_the_explorer_is_a_vendored_file_served_by_the_server(
    live_server: tuple[str, dict[str, str]],
) -> None:
    base, _ = live_server
    for page in PAGES:
        answer = httpx.get(base + page, timeout=15)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), page
        urls = Assets.of(answer.text)
        assert len(urls) == 4, urls  # stylesheet, bundle, standalone preset, favicon
        # Its inline script starts the explorer: the console's CSP (scripts from /static only) is not for it.
        assert "content-security-policy" not in answer.headers

        for url in urls:
            absolute = urljoin(base + page, url)
            assert urlsplit(absolute).netloc == urlsplit(base).netloc, f"{page} loads {url} from elsewhere"
            vendored = urlsplit(absolute).path.removeprefix("/static/")
            assert vendored in VENDORED, f"{url} is not a vendored file"
            asset = httpx.get(absolute, timeout=15)
            assert asset.status_code == 200, url
            assert asset.content == (CONSOLE / "static" / vendored).read_bytes(), url


def test_the_explorer_renders_every_operation_with_no_request_leaving_the_server(
    live_server: tuple[str, dict[str, str]], browser_context: Any
) -> None:
    base, _ = live_server
    here = urlsplit(base).netloc
    elsewhere: list[str] = []
    failed: list[str] = []

    def only_here(route: Any) -> None:
        if urlsplit(route.request.url).netloc == here:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    browser_context.route("**/*", only_here)
    page = browser_context.new_page()
    page.on(
        "response",
        lambda response: failed.append(f"{response.status} {response.url}") if response.status >= 400 else None,
    )
    page.on("requestfailed", lambda request: failed.append(f"{request.failure} {request.url}"))
    expected = operations(base)

    page.goto(base + EXPLORER)
    page.wait_for_function("n => document.querySelectorAll('.opblock').length === n", arg=len(expected))
    page.wait_for_load_state("networkidle")  # whatever the explorer fetches after rendering, it has asked for
    shown = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(block => [
             block.querySelector('.opblock-summary-method').textContent.toLowerCase(),
             block.querySelector('[data-path]').getAttribute('data-path'),
           ])""",
    )

    assert {(method, path) for method, path in shown} == expected
    assert elsewhere == [], f"the explorer asked other hosts for {elsewhere}"
    assert failed == []
