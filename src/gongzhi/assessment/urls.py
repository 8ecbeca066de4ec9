"""Pages of the assessment app (mounted at /assessments/ by gongzhi.urls)."""

from django.urls import path

from gongzhi.assessment import views

urlpatterns = [
    path("", views.landing, name="assessments"),
    path("water/", views.water, name="assessment-water"),
    path("air/", views.air, name="assessment-air"),
    path("rankings/", views.rankings, name="assessment-rankings"),
    path("<slug:page>/export/<slug:table>.<str:fmt>", views.export, name="assessment-export-table"),
    path("<slug:page>/export/", views.export_index, name="assessment-export"),
]
