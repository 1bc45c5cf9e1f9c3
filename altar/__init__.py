"""Altar Trader Hub's project package. The Celery app loads with it (Celery's Django
convention), so `shared_task`s bind to it in every process."""

from .celery import app as celery_app

__all__ = ("celery_app",)
