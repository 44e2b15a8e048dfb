import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_interface_is_chinese_by_default_even_for_an_english_browser(client):
    html = client.get(
        reverse("home"), headers={"Accept-Language": "en-US,en;q=0.9"}
    ).content.decode()
    assert "注册" in html
    assert 'lang="zh-hans"' in html


def test_the_language_switch_turns_the_interface_english(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = client.get(reverse("home")).content.decode()
    assert "Sign up" in html
    assert 'lang="en"' in html
