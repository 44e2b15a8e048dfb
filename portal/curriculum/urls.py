from django.urls import path

from portal.curriculum import views

app_name = "curriculum"

urlpatterns = [
    path("", views.index, name="index"),
    path("start/", views.start, name="start"),
    path("weeks/<int:number>/", views.week_detail, name="week"),
    path("goals/", views.goals, name="goals"),
    path("items/<int:pk>/toggle/", views.toggle_item, name="toggle"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews.md", views.reviews_markdown_view, name="reviews_md"),
    path("reviews/<int:number>/", views.review_edit, name="review"),
    path("reviews/<int:number>.md", views.review_markdown_view, name="review_md"),
    path("skills/", views.skills, name="skills"),
    path("skills.md", views.skills_markdown, name="skills_md"),
    path("guide/", views.guide, name="guide"),
]
