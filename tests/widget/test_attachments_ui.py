"""Files both ways in Debian's Chromium against a real ``python -m handoff serve``
(Rasa on a closed port: the gateway hands ``/request_human`` off by itself):
the shopper attaches a phone photo with the paperclip, the agent sees it in
the console and downloads it (its GPS EXIF gone); the agent sends a PDF and the
shopper gets a download link; an HTML page named ``.png`` is refused in the
widget with the gateway's plain sentence and nothing is sent."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest
import yaml
from playwright.sync_api import expect

from tests.handoff import files
from tests.handoff.helpers import GatewayProcess
from tests.ops.conftest import migrate
from tests.ops.gateways import PASSWORD, create_agent, running
from tests.ops.seed import STAFFED_OPS

from .conftest import watch
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def files_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("attach-gateway")
    url = f"sqlite:///{tmp / 'gateway.db'}"
    migrate(url)
    create_agent(url, "kemi", "Kemi Ade")
    ops_file = tmp / "ops.yml"
    ops_file.write_text(yaml.safe_dump(STAFFED_OPS), encoding="utf-8")  # queues at any hour the tests run
    yield from running(url, tmp / "gateway.log", ops_file, "--attachments-dir", str(tmp / "files"))


def pick(page, button_name: str, name: str, mime: str, data: bytes) -> None:
    """Press the attach button and choose a file in the browser's file chooser."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=button_name).click()
    chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def test_photos_and_documents_both_ways(files_gateway: GatewayProcess, new_context, screenshots_dir: Path,
                                        tmp_path: Path) -> None:
    agent_page = new_context(viewport={"width": 1366, "height": 800}, accept_downloads=True).new_page()
    errors: List[str] = []
    watch(agent_page, errors)
    console = Console(agent_page).login(files_gateway.url, "kemi", PASSWORD)
    shopper_page = new_context(accept_downloads=True).new_page()
    watch(shopper_page, errors)
    widget = Widget(shopper_page).goto(files_gateway.url).open()
    widget.send("/request_human")
    panel = console.claim(console.queues.locator(".c-entry").first)
    widget.expect_message("system", "Kemi Ade joined the chat")

    # the shopper sends a photo of the damaged item, taken with GPS on
    pick(shopper_page, "Attach a photo or PDF", "damaged-box.jpg", "image/jpeg", files.photo_with_gps((320, 240)))
    thumb = shopper_page.get_by_role("img", name="Photo: damaged-box.jpg")
    expect(thumb).to_be_visible()
    photo = panel.get_by_role("img", name="Photo: damaged-box.jpg")
    expect(photo).to_be_visible()
    agent_page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=photo.element_handle())
    with agent_page.expect_download() as got:
        panel.get_by_role("button", name="Download damaged-box.jpg").click()
    saved = tmp_path / "from-shopper.jpg"
    got.value.save_as(saved)
    assert got.value.suggested_filename == "damaged-box.jpg"
    assert not files.has_metadata(saved.read_bytes())  # no GPS position, no camera

    # the agent sends a return form; the shopper downloads it
    document = files.pdf("Return form")
    pick(agent_page, "Attach a photo or PDF for the shopper", "Return form.pdf", "application/pdf", document)
    kb = max(1, round(len(document) / 1024))
    link = shopper_page.get_by_role("link", name=f"Download Return form.pdf (PDF, {kb} KB)")
    expect(link).to_be_visible()
    with shopper_page.expect_download() as got:
        link.click()
    got.value.save_as(tmp_path / "form.pdf")
    assert (tmp_path / "form.pdf").read_bytes() == document
    expect(panel.get_by_role("button", name="Download Return form.pdf")).to_be_visible()
    agent_page.screenshot(path=str(screenshots_dir / "console-attachments.png"))
    shopper_page.screenshot(path=str(screenshots_dir / "widget-attachments.png"))
    assert errors == []


def test_a_file_that_lies_about_its_type_is_refused_in_the_widget(files_gateway: GatewayProcess,
                                                                  new_context) -> None:
    page = new_context().new_page()
    errors: List[str] = []
    watch(page, errors)
    widget = Widget(page).goto(files_gateway.url).open()
    widget.send("hello")
    widget.expect_message("shopper", "hello")
    pick(page, "Attach a photo or PDF", "prescription.png", "image/png", files.HTML_AS_PNG)
    status = page.get_by_role("status").filter(has_text="Only photos")
    expect(status).to_have_text("Only photos (JPEG, PNG or WebP) and PDF documents can be sent. "
                                "This file is none of those, whatever its name says, so it was not sent.")
    expect(page.locator(".kw-file")).to_have_count(0)  # nothing was sent
    assert errors == []
