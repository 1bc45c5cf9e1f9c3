from django.urls import path

from . import views

app_name = "strategies"

urlpatterns = [
    path("strategies/<int:strategy_id>/start", views.start, name="strategy-start"),
    path("strategies/<int:strategy_id>/stop", views.stop, name="strategy-stop"),
]
