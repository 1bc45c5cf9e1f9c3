"""The guide's endpoints: POST /api/v1/strategies/<id>/start and /stop."""

import pytest
from django.test import Client

from scheduler.models import Schedule

pytestmark = pytest.mark.django_db


def test_staff_start_and_stop_a_strategy(staff_client, strategy):
    response = staff_client.post(f"/api/v1/strategies/{strategy.pk}/start")
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True and body["changed"] is True
    assert body["job_id"] == f"strategy_{strategy.pk}" and body["next_run_time"]
    assert Schedule.objects.get(job_id=strategy.job_id).enabled

    response = staff_client.post(f"/api/v1/strategies/{strategy.pk}/stop")
    assert response.json() == {
        "strategy_id": strategy.pk,
        "job_id": strategy.job_id,
        "active": False,
        "changed": True,
        "interval_seconds": 1,
        "next_run_time": None,
    }


def test_an_unknown_strategy_is_a_404_with_a_message(staff_client):
    response = staff_client.post("/api/v1/strategies/999/start")
    assert response.status_code == 404
    assert response.json() == {"error": "strategy 999 does not exist"}


def test_anonymous_and_non_staff_users_are_refused(client, django_user_model, strategy):
    assert client.post(f"/api/v1/strategies/{strategy.pk}/start").status_code == 401
    user = django_user_model.objects.create_user(
        "viewer",
        password="pw-for-tests-only",
        is_staff=True,  # staff, but no permission
    )
    client.force_login(user)
    response = client.post(f"/api/v1/strategies/{strategy.pk}/start")
    assert response.status_code == 403
    assert response.json() == {"error": "staff with permission to change strategies only"}
    strategy.refresh_from_db()
    assert not strategy.is_active


def test_get_is_not_allowed(staff_client, strategy):
    assert staff_client.get(f"/api/v1/strategies/{strategy.pk}/start").status_code == 405


def test_a_post_without_the_csrf_token_is_refused(django_user_model, strategy):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("boss", "", "pw-tests-only"))
    assert client.post(f"/api/v1/strategies/{strategy.pk}/start").status_code == 403
    strategy.refresh_from_db()
    assert not strategy.is_active


def test_the_site_root_opens_admin(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
