"""HTML and Markdown injection in what a person writes is rendered inert on every page that shows it."""

from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.urls import reverse

from portal.papers.templatetags.papers_tags import notes_markdown

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "<iframe src='https://evil.example'></iframe>",
    '"><svg onload=alert(1)>',
]


def test_review_lines_with_html_are_escaped_on_the_review_pages(api, owner_client):
    call_command("loadcurriculum", verbosity=0)
    review = {
        "completed": PAYLOADS,
        "problems": [{"problem": PAYLOADS[1], "solution": PAYLOADS[2]}],
        "next_plan": [PAYLOADS[3]],
    }
    assert api.put(
        "/api/curriculum/reviews/3", review, content_type="application/json"
    ).status_code in (
        HTTPStatus.OK,
        HTTPStatus.CREATED,
    )

    pages = {
        url: owner_client.get(url).content.decode()
        for url in [reverse("curriculum:reviews"), reverse("curriculum:review", args=[3])]
    }
    for url, html in pages.items():
        for payload in PAYLOADS:
            assert payload not in html, (url, payload)
    assert "&lt;script&gt;" in pages[reverse("curriculum:review", args=[3])]


@pytest.mark.parametrize(
    ("notes", "forbidden"),
    [
        ("[click](javascript:alert(1))", "javascript:"),
        ("<a href='javascript:alert(1)'>x</a>", "javascript:"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ("<script>alert(1)</script>", "<script"),
        ("<style>body{display:none}</style>", "<style"),
        ('<form action="https://evil.example"><input name=p></form>', "<form"),
        ("![x](data:text/html;base64,PHNjcmlwdD4=)", "data:text/html"),
    ],
)
def test_markdown_notes_are_sanitised(notes, forbidden):
    assert forbidden not in str(notes_markdown(notes))


def test_markdown_notes_keep_their_formatting():
    html = str(notes_markdown("**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html and "<table>" in html
