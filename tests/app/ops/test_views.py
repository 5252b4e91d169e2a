"""/ops/ through Django's test client: who may see it, and what it shows in every state."""

from __future__ import annotations

import re

import pytest

from app.accounts.models import User
from app.common.redis_client import client as redis_client
from app.recommendations.model_pointer import ACTIVE_KEY
from tests import factories as f
from tests.app.ops import builders as b

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_published_model(settings, tmp_path):
    """This test's own models directory, and no version published in Redis by another test."""
    settings.RECOMMENDATION_MODELS_DIR = tmp_path
    r = redis_client()
    saved = r.get(ACTIVE_KEY)
    r.delete(ACTIVE_KEY)
    yield tmp_path
    if saved is not None:
        r.set(ACTIVE_KEY, saved)


def _polylines(html: str, chart: str) -> list[list[str]]:
    svg = re.search(rf'<svg class="chart" id="chart-{chart}".*?</svg>', html, re.DOTALL)
    assert svg, f"no {chart} chart"
    return [p.split() for p in re.findall(r'<polyline [^>]*points="([^"]+)"', svg.group(0))]


def test_it_sends_anonymous_visitors_to_the_admin_login(client) -> None:
    response = client.get("/ops/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/ops/"


@pytest.mark.parametrize("role", [User.Role.CLIENT, User.Role.CLEANER])
def test_it_refuses_non_operators_with_a_403_page(client, role: str) -> None:
    client.force_login(f.user(role, is_staff=True))
    response = client.get("/ops/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"403 Forbidden" in response.content and b"not an operator" in response.content
    assert b"R\xc2\xb2" not in response.content, "no model numbers on the refusal"


def test_it_lets_superusers_in(client) -> None:
    client.force_login(f.user(User.Role.CLIENT, is_staff=True, is_superuser=True))
    assert client.get("/ops/").status_code == 200


def test_it_answers_get_only(client) -> None:
    client.force_login(f.operator())
    assert client.post("/ops/").status_code == 405


def test_it_explains_an_empty_service(client) -> None:
    client.force_login(f.operator())
    response = client.get("/ops/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "No model is active" in html
    assert "A/B testing is off" in html
    assert "No model version has been registered yet" in html
    assert html.count("no data yet") == 3
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_shows_the_active_model_its_curves_and_the_retrains(client, _no_published_model) -> None:
    b.metadata_write(_no_published_model, "1.0", epochs=8)
    b.registry_rows("1.0")
    b.recommendations_over_days(days=5)
    client.force_login(f.operator())
    html = client.get("/ops/").content.decode()

    assert re.search(r'id="active-version">1\.0<', html)
    assert "0.610" in html and "0.740" in html and "82.0%" in html  # R², ceiling, R² of the ceiling
    ranking = re.search(r'<table id="ranking">.*?</table>', html, re.DOTALL).group(0)
    assert [m for m in re.findall(r"<td>(\w+)</td>", ranking)] == ["neural", "ensemble", "rule_based", "random"]
    assert "0.710" in ranking and "0.830" in ranking

    train, val = _polylines(html, "loss")
    assert len(train) == len(val) == 8
    [alpha] = _polylines(html, "alpha")
    assert len(alpha) == 8
    acceptance = _polylines(html, "acceptance")
    assert len(acceptance) == 3 and all(len(line) == 5 for line in acceptance)
    # Accepted / bid rises every day (1 of 6, 2 of 6, ...): the line climbs (SVG y grows downwards).
    ys = [float(p.split(",")[1]) for p in acceptance[0]]
    assert ys == sorted(ys, reverse=True)

    assert "worse than 1.0: pairwise 0.60 &lt; 0.71" in html
    assert 'class="badge rejected"' in html and 'class="badge active"' in html
    assert 'href="http://127.0.0.1:5555/"' in html and 'href="/admin/"' in html


def test_it_reads_the_active_file_for_a_model_trained_before_the_registry(client, _no_published_model) -> None:
    from app.recommendations.model_pointer import active_version_write

    b.metadata_write(_no_published_model, "0.5", epochs=4)
    active_version_write("0.5", _no_published_model)
    client.force_login(f.operator())
    html = client.get("/ops/").content.decode()
    assert re.search(r'id="active-version">0\.5<', html)
    assert len(_polylines(html, "loss")[0]) == 4


def test_it_says_when_there_is_no_training_history(client, _no_published_model) -> None:
    b.registry_rows("1.0")
    (_no_published_model / "hybrid_recommendation_v1.0_metadata.json").write_text("{not json")
    client.force_login(f.operator())
    response = client.get("/ops/")
    assert response.status_code == 200
    assert "No training history for 1.0" in response.content.decode()
    assert "0.610" in response.content.decode(), "the registry's metrics still show"


def test_it_draws_the_registrys_copy_of_the_history_without_the_models_volume(client) -> None:
    from app.recommendations.models import ModelVersion

    ModelVersion.objects.create(
        version="2.0",
        status=ModelVersion.Status.ACTIVE,
        metrics=b.METRICS,
        training_data={"train_samples": 10, "history": b.history(6)},
    )
    client.force_login(f.operator())
    html = client.get("/ops/").content.decode()
    assert "No training history" not in html
    assert [len(line) for line in _polylines(html, "loss")] == [6, 6]


def test_it_never_reads_outside_the_models_directory(client, _no_published_model) -> None:
    from app.ops.selectors import model_metadata_read

    (_no_published_model.parent / "hybrid_recommendation_v..x_metadata.json").write_text("{}")
    assert model_metadata_read("../x", _no_published_model) is None
    assert model_metadata_read("a/b", _no_published_model) is None


def test_it_shows_the_ab_test_when_it_is_on(client, settings) -> None:
    settings.RECOMMENDATION_AB_TEST_ENABLED = True
    client.force_login(f.operator())
    html = client.get("/ops/").content.decode()
    assert "A/B testing is off" not in html
    assert "<code>mode:ensemble</code>" in html and "<code>mode:neural</code>" in html
    assert "acceptance_rate" in html


def test_it_lists_the_webhook_receivers_whose_breaker_is_open(client, settings) -> None:
    from app.webhooks import receivers

    settings.WEBHOOK_BREAKER_FAILURES = 2
    origin = "http://203.0.113.77:8080"
    r = redis_client()
    r.delete(*receivers._keys(origin)[:5])
    client.force_login(f.operator())
    assert b"Every webhook receiver is being tried" in client.get("/ops/").content
    try:
        for _ in range(2):
            receivers.receiver_release(
                origin, receivers.receiver_admit(origin), answered=False, error="timed out after 10 s"
            )

        html = client.get("/ops/").content.decode()
        section = re.search(r'<section class="card" id="webhook-receivers">.*?</section>', html, re.DOTALL).group(0)
        assert origin in section and "open" in section and "timed out after 10 s" in section
    finally:
        r.delete(*receivers._keys(origin)[:5])
        r.srem(receivers.TRIPPED, origin)
