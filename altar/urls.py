"""URL map: admin, and the guide's strategy API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("strategies.urls")),
]
