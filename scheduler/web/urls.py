from django.urls import path

from . import views

app_name = "scheduler"

urlpatterns = [
    path("", views.jobs, name="jobs"),
    path("<str:job_id>/", views.job_detail, name="job-detail"),
    path("<str:job_id>/run-now", views.run_now, name="job-run-now"),
    path("<str:job_id>/pause", views.pause, name="job-pause"),
    path("<str:job_id>/resume", views.resume, name="job-resume"),
]
