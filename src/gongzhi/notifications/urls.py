"""Pages of the notifications app (mounted by gongzhi.urls at /notifications/)."""

from django.urls import path

from gongzhi.notifications import views

urlpatterns = [
    path("", views.notification_list, name="notifications"),
    path("badge/", views.badge, name="notifications-badge"),
    path("read/", views.mark_read, name="notifications-read"),
    path("<int:pk>/open/", views.open_notification, name="notifications-open"),
    path("settings/", views.settings_page, name="notifications-settings"),
]
