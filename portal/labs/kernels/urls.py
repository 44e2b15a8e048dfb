from django.urls import path

from portal.labs.kernels import submission_views, views

app_name = "kernels"

urlpatterns = [
    path("", views.index, name="index"),
    path("submit/", submission_views.submit, name="submit"),
    path("submissions/", submission_views.submissions, name="submissions"),
    path("submissions/<int:pk>/", submission_views.submission, name="submission"),
    path("leaderboard/", submission_views.leaderboard, name="leaderboard"),
    path("review/", submission_views.review_queue, name="review"),
    path("review/<int:pk>/", submission_views.review_submission, name="review_submission"),
]
