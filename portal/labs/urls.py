from django.urls import include, path

from portal.labs import views

app_name = "labs"

urlpatterns = [
    path("", views.index, name="index"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/artifacts/<str:name>", views.run_artifact, name="run_artifact"),
    path("compare/", views.compare, name="compare"),
    # lab-specific pages (the LLM labs' performance reports)
    path("llm/", include("portal.labs.llm.urls")),
    # not "<slug>/": labs/hal/ and labs/kernels/ are other apps mounted after this one
    path("lab/<slug:lab_id>/", views.lab_detail, name="lab"),
]
