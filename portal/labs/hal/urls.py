from django.urls import path

from portal.labs.hal import views

app_name = "hal"

urlpatterns = [
    path("", views.index, name="index"),
    path("chips/", views.chips, name="chips"),
    path("compare/", views.compare, name="compare"),
]
