"""The strategy pages (HTML), mounted at /strategies/. The JSON API is in api_urls.py."""

from django.urls import path

from . import views

app_name = "strategies"

urlpatterns = [
    path("<int:strategy_id>/", views.strategy_detail, name="strategy-detail"),
]
