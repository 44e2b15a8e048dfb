"""The main flow in a real browser: filter the library, open a paper, record reading, see progress."""

from __future__ import annotations

import pytest

from portal.papers.models import Reading
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_person_filters_opens_a_paper_marks_it_read_and_sees_progress(
    page, asgi_server, synced_core, owner
):
    page.goto(asgi_server + "/accounts/login/?next=/papers/")
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(asgi_server + "/papers/")
    assert "已读 0 / 28 篇核心论文，目标 20" in page.locator("#core-progress").inner_text()
    assert page.locator("#paper-list tbody tr").count() == 28

    # Filtering swaps only the list (htmx) and keeps the URL shareable.
    page.select_option("select[name=domain]", "attention")
    page.wait_for_function("document.querySelectorAll('#paper-list tbody tr').length === 5")
    assert "domain=attention" in page.url

    page.get_by_role("link", name="FlashAttention-2: a attention paper").click()
    page.wait_for_url(asgi_server + "/papers/2307.08691/")
    assert page.locator("h1").inner_text() == "FlashAttention-2: a attention paper"
    assert "kernels" in page.content()

    page.select_option("#reading select[name=status]", "read")
    page.select_option("#reading select[name=rating]", "5")
    page.fill("#reading input[name=tags]", "kernels, sram")
    page.fill("#reading textarea[name=notes]", "Tiles of **Q** stay in SRAM.")
    page.click("#reading-form button[type=submit]")
    page.locator("#reading .paper-notes strong").wait_for()
    assert page.locator("#reading .paper-notes strong").inner_text() == "Q"

    reading = Reading.objects.get(user=owner, paper__arxiv_id="2307.08691")
    assert (reading.status, reading.rating, reading.tags) == ("read", 5, ["kernels", "sram"])

    page.goto(asgi_server + "/dashboard/")
    assert "已读 1 / 28 篇核心论文，目标 20" in page.content()
