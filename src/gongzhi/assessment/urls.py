"""Pages of the assessment app (mounted by gongzhi.urls)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
