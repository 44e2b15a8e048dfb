import pytest
from django.contrib.auth.models import User

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_renders_and_a_visitor_can_sign_up(page, asgi_server):
    page.goto(asgi_server + "/")
    assert "AI 芯片求职备战平台" in page.title()

    page.get_by_role("link", name="注册").first.click()
    page.fill("input[name=username]", "browser-user")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("#signup-form button[type=submit]")

    page.wait_for_url(asgi_server + "/dashboard/")
    assert page.locator("h1").inner_text() == "仪表盘"
    assert User.objects.filter(username="browser-user").exists()
    # The vendored htmx loaded (static files are served by the ASGI app).
    assert page.evaluate("typeof htmx") == "object"
