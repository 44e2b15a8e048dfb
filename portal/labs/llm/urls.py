"""Mounted by portal/labs/urls.py at labs/llm/ (namespace `labs:llm`)."""

from django.urls import path

from portal.labs.llm import views

app_name = "llm"

urlpatterns = [
    path("runs/<int:pk>/report/", views.report, name="report"),
]
