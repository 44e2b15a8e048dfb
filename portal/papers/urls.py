from django.urls import path, register_converter

from portal.papers import views
from portal.papers.arxiv_api import ARXIV_ID_URL_REGEX


class ArxivIdConverter:
    """New-style (2307.08691) and old-style (hep-th/9901001) arXiv ids, without version."""

    regex = ARXIV_ID_URL_REGEX

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ArxivIdConverter, "arxiv")

app_name = "papers"

urlpatterns = [
    path("", views.index, name="index"),
    path("add/", views.add, name="add"),
    path("sync/", views.sync, name="sync"),
    path("sync/status/", views.sync_status, name="sync_status"),
    path("export.bib", views.export, name="export"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/accept/", views.inbox_accept, name="inbox_accept"),
    path("inbox/<int:pk>/dismiss/", views.inbox_dismiss, name="inbox_dismiss"),
    path("watches/", views.watches, name="watches"),
    path("watches/<int:pk>/delete/", views.watch_delete, name="watch_delete"),
    path("watches/<int:pk>/run/", views.watch_run, name="watch_run"),
    path("recommendations/", views.recommendations, name="recommendations"),
    path("<arxiv:arxiv_id>/", views.detail, name="detail"),
    path("<arxiv:arxiv_id>/reading/", views.reading, name="reading"),
]
