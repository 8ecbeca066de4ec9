"""Pages of the alerts app (mounted at /alerts/ by gongzhi.urls)."""

from django.urls import path

from gongzhi.alerts import views

urlpatterns = [
    path("", views.alarm_list, name="alarms"),
    path("<int:pk>/", views.alarm_detail, name="alarm-detail"),
    path("<int:pk>/sources/", views.alarm_sources, name="alarm-sources"),
    path("<int:pk>/series.json", views.alarm_series, name="alarm-series"),
    path("<int:pk>/acknowledge/", views.alarm_acknowledge, name="alarm-acknowledge"),
    path("<int:pk>/close/", views.alarm_close, name="alarm-close"),
    path("warnings/<int:pk>/acknowledge/", views.warning_acknowledge, name="warning-acknowledge"),
]
