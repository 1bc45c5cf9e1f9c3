from django.urls import path

from . import api_views

app_name = "scheduler-api"

urlpatterns = [
    path("jobs", api_views.jobs, name="jobs"),
    path("jobs/<str:job_id>/run-now", api_views.run_now, name="job-run-now"),
    path("jobs/<str:job_id>/pause", api_views.pause, name="job-pause"),
    path("jobs/<str:job_id>/resume", api_views.resume, name="job-resume"),
]
