from django.contrib.auth import views as auth_views
from django.urls import path

from gongzhi.web import ingest_status, review_views, views

urlpatterns = [
    path("", views.map_page, name="home"),
    path("map/", views.map_page, name="map"),
    path("overview/", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("joint-zones/<slug:code>/", views.joint_zone, name="joint-zone"),
    path("sites/<slug:code>/", views.site_page, name="site"),
    path("sites/<slug:code>/table/", views.site_table, name="site-table"),
    path("sites/<slug:code>/export.<str:fmt>", views.site_export, name="site-export"),
    path("review/", review_views.review_page, name="review"),
    path("review/revise/", review_views.review_revise, name="review-revise"),
    path("review/approve/", review_views.review_approve, name="review-approve"),
    path("status/", ingest_status.status_page, name="ingest-status"),
    # JSON the pages' scripts fetch (page data; the public REST API is under /api/v1/)
    path("web-api/map/layers.json", views.map_layers, name="map-layers"),
    path("web-api/map/sites.json", views.map_sites, name="map-sites"),
    path("web-api/sites/<slug:code>/series.json", views.site_series_view, name="site-series"),
]
