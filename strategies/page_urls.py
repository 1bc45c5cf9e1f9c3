"""The strategy pages (HTML), mounted at /strategies/. The JSON API lives in urls.py."""

from django.urls import path

from . import pages

app_name = "strategy-pages"

urlpatterns = [
    path("<int:strategy_id>/", pages.strategy_detail, name="strategy-detail"),
]
