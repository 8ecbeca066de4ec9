from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("gongzhi.api.urls")),
    path("assessments/", include("gongzhi.assessment.urls")),
    path("alerts/", include("gongzhi.alerts.urls")),
    path("notifications/", include("gongzhi.notifications.urls")),
    path("", include("gongzhi.web.urls")),
]
