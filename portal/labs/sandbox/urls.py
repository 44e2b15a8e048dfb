from django.urls import path

from portal.labs.sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("compare/", views.compare, name="compare"),
    path("rewards/", views.rewards, name="rewards"),
]
