"""URL map: admin, the job status pages, the JSON API, /healthz and /metrics. The site
root opens admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from scheduler.healthz import healthz
from scheduler.metrics import metrics

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path("jobs/", include("scheduler.urls")),
    path("api/v1/", include("strategies.urls")),
    path("api/v1/", include("scheduler.api_urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
]
