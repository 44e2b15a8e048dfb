from django.urls import path

from portal.feishu import views

app_name = "feishu"

urlpatterns = [
    path("", views.index, name="index"),
    path("settings/", views.notification_settings, name="settings"),
    path("settings/bind/", views.bind_code, name="bind"),
    path("settings/unbind/", views.unbind, name="unbind"),
    path("settings/test/", views.test_notification, name="test_notification"),
    path("events", views.events, name="events"),
]
