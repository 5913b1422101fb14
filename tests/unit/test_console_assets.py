"""The console's static assets: what is vendored is listed, pinned and unchanged; nothing is fetched from elsewhere.

No browser and no server: these read the files under api/console/static and the manifest
api/console/vendor.json that scripts/vendor-frontend writes.
"""

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
STATIC = CONSOLE / "static"
VENDOR = STATIC / "vendor"
MANIFEST = json.loads((CONSOLE / "vendor.json").read_text())
# Each vendored package's licence (as npm declares it) and the title its licence text carries.
LICENCES = {
    "wavesurfer.js": ("BSD-3-Clause", "BSD 3-Clause License"),
    "swagger-ui-dist": ("Apache-2.0", "Apache License"),
}
# Swagger UI's bundle names many URLs (documentation links, JSON Schema ids, its online validator)
# that the explorer's layout never fetches; tests/test_offline_schema.py shows in a browser that
# /schema loads nothing from elsewhere.
SWAGGER_UI = VENDOR / "swagger-ui"
PLAYER = (STATIC / "player.js").read_text()

# URIs that name things rather than fetch them: wavesurfer creates elements in the XHTML namespace.
NAMESPACE_URIS = {"http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg"}
URL = re.compile(r"https?://[^\s\"'`)<>]*")


def static_files() -> list[Path]:
    """The console's own and its player's files, read as text by the origin check below."""
    return sorted(path for path in STATIC.rglob("*") if path.is_file() and not path.is_relative_to(SWAGGER_UI))


def without_comments(text: str) -> str:
    """Drops /* block */ comments and // line comments; a // after a colon (inside a URL) is kept."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(^|\s)//.*$", r"\1", text, flags=re.M)


def import_specifiers(source: str) -> list[str]:
    static_imports = re.findall(r"""(?:^|[;}\s])import\s*(?:[\w*{}\s,]+from\s*)?["']([^"']+)["']""", source)
    dynamic_imports = re.findall(r"""\bimport\s*\(\s*["']([^"']+)["']""", source)
    return static_imports + dynamic_imports


def test_every_vendored_file_is_listed_with_its_sha256() -> None:
    listed = {entry["path"]: entry for entry in MANIFEST["files"]}
    on_disk = {path.relative_to(STATIC).as_posix() for path in VENDOR.rglob("*") if path.is_file()}

    assert on_disk == set(listed), "vendor/ and vendor.json disagree: rerun scripts/vendor-frontend"
    for path, entry in listed.items():
        assert hashlib.sha256((STATIC / path).read_bytes()).hexdigest() == entry["sha256"], path


def test_each_manifest_entry_names_package_version_licence_and_tarball_integrity() -> None:
    for entry in MANIFEST["files"]:
        assert entry["package"] and entry["version"], entry
        assert entry["license"] == LICENCES[entry["package"]][0], entry
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", entry["integrity"]), entry
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), entry


def test_the_licence_text_ships_with_the_code() -> None:
    for package, (_, title) in LICENCES.items():
        licences = [entry for entry in MANIFEST["files"] if entry["package"] == package and "LICENSE" in entry["path"]]

        assert any(title in (STATIC / entry["path"]).read_text() for entry in licences), f"{package}'s LICENSE"
    assert {entry["package"] for entry in MANIFEST["files"]} == set(LICENCES)


@pytest.mark.parametrize("path", static_files(), ids=lambda path: path.relative_to(STATIC).as_posix())
def test_no_static_file_loads_anything_from_another_origin(path: Path) -> None:
    if "LICENSE" in path.name:
        return  # licence text may name its project's site
    urls = set(URL.findall(without_comments(path.read_text(encoding="utf-8"))))

    assert urls <= NAMESPACE_URIS, f"{path.name} references {sorted(urls - NAMESPACE_URIS)}: vendor it instead"


def test_player_imports_only_vendored_modules() -> None:
    specifiers = import_specifiers(PLAYER)
    listed = {entry["path"] for entry in MANIFEST["files"]}

    assert specifiers, "player.js imports wavesurfer and its plugins"
    for specifier in specifiers:
        assert specifier.startswith("./vendor/"), specifier
        assert specifier.removeprefix("./") in listed, specifier


def test_vendored_modules_import_nothing_so_their_flat_layout_works() -> None:
    for path in VENDOR.glob("*.js"):
        assert import_specifiers(path.read_text(encoding="utf-8")) == [], path.name


def test_player_writes_labels_as_text_never_as_html() -> None:
    # Labels carry pause reasons and annotations typed by users.
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", PLAYER)


def test_the_csp_hash_allows_exactly_wavesurfers_shadow_stylesheet() -> None:
    """wavesurfer writes a <style> into its shadow root; the page's CSP allows it by hash (vendor.json "csp").

    The stylesheet is a template in wavesurfer.esm.js whose only variable part (besides a nonce,
    not used) is the waveform's height, which player.js sets.
    """
    core = (VENDOR / "wavesurfer.esm.js").read_text(encoding="utf-8")
    template = re.search(r'<style\$\{i\?` nonce="\$\{i\}"`:""\}>(.*?)</style>', core, re.S)
    height = re.search(r"const WAVEFORM_HEIGHT = (\d+);", PLAYER)
    assert template and height
    text = template.group(1).replace(
        "${this.getHeight(this.options.height,this.options.splitChannels)}", height.group(1)
    )
    assert "${" not in text
    digest = base64.b64encode(hashlib.sha256(text.replace("\\n", "\n").encode()).digest()).decode()

    assert MANIFEST["csp"]["style-src"] == ["'self'", f"'sha256-{digest}'"]
