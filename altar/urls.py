"""URL map: admin, and the guide's strategy API. The site root opens admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("strategies.urls")),
    path("strategies/", include("strategies.page_urls")),
]
