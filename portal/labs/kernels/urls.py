from django.urls import path

from portal.labs.kernels import views

app_name = "kernels"

urlpatterns = [
    path("", views.index, name="index"),
]
