"""URL map: admin, the job status pages, the JSON API, /healthz and /metrics. The site
root opens admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from scheduler.web.healthz import healthz
from scheduler.web.metrics import metrics

handler404 = "scheduler.web.http.not_found"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="scheduler/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("jobs/", include("scheduler.web.urls")),
    path("api/v1/", include("strategies.api_urls")),
    path("api/v1/", include("scheduler.web.api_urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("strategies/", include("strategies.urls")),
]
