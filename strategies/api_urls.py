from django.urls import path

from . import api_views

app_name = "strategies-api"

urlpatterns = [
    path("strategies", api_views.strategies, name="strategies"),
    path("strategies/<int:strategy_id>", api_views.strategy, name="strategy"),
    path("strategies/<int:strategy_id>/start", api_views.start, name="strategy-start"),
    path("strategies/<int:strategy_id>/stop", api_views.stop, name="strategy-stop"),
]
