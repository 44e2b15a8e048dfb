from django.urls import path
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView

from portal.labs.hal import views

app_name = "hal"

urlpatterns = [
    path("", views.index, name="index"),
    path("chips/", views.chips, name="chips"),
    # the sandbox comparison moved to the Agent Sandbox (then the labs compare page)
    path(
        "compare/",
        require_GET(RedirectView.as_view(pattern_name="sandbox:compare", query_string=True)),
        name="compare",
    ),
]
