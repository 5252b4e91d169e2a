"""What the operator page shows, gathered from the selectors and drawn into charts."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from django.conf import settings

from app.ops import selectors
from app.ops.charts import Chart, Series, line_chart
from app.webhooks.receivers import receivers_tripped

ACCEPTANCE_DAYS = 30


def _percent(value: float) -> str:
    return f"{value * 100:g}%"


def training_charts(history: list[dict[str, Any]]) -> tuple[Chart, Chart]:
    epochs = [h for h in history if isinstance(h, dict) and "epoch" in h]
    loss = line_chart(
        chart_id="loss",
        title="Training and validation loss",
        x_label="epoch",
        y_label="loss (MSE)",
        series=[
            Series("train loss", [(h["epoch"], h.get("train_loss")) for h in epochs]),
            Series("validation loss", [(h["epoch"], h.get("val_loss")) for h in epochs], dashed=True),
        ],
    )
    alpha = line_chart(
        chart_id="alpha",
        title="Blend weight α per epoch",
        x_label="epoch",
        y_label="α",
        series=[Series("alpha", [(h["epoch"], h.get("alpha")) for h in epochs])],
    )
    return loss, alpha


def acceptance_chart(by_day: list[dict[str, Any]]) -> Chart:
    """Rates per day, x = days since the first day shown (labelled with the date)."""
    days = [(date.fromisoformat(row["day"]), row) for row in by_day]
    first = days[0][0] if days else date.today()
    x_names = {float((d - first).days): d.strftime("%b %d") for d, _ in days}

    def points(key: str) -> list[tuple[float, float | None]]:
        return [(float((d - first).days), row.get(key)) for d, row in days]

    return line_chart(
        chart_id="acceptance",
        title="Job recommendations per day",
        x_label="day",
        y_label="rate",
        series=[
            Series("acceptance rate (accepted / bid)", points("acceptance_rate")),
            Series("bid rate (bid / viewed)", points("bid_rate"), dashed=True),
            Series("view rate (viewed / shown)", points("view_rate"), dashed=True),
        ],
        x_names=x_names,
        y_format=_percent,
        y_floor=0.0,
        width=1120,
        max_x_ticks=12,
    )


def _ratio(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def dashboard_context() -> dict[str, Any]:
    model = selectors.model_overview()
    loss, alpha = training_charts(model["history"] if model else [])
    by_day = selectors.acceptance_by_day(days=ACCEPTANCE_DAYS)
    metrics = model["metrics"] if model else {}
    mse = _ratio(metrics.get("mse"))
    return {
        "model": model,
        "rating": {
            "r2": _ratio(metrics.get("r2")),
            "ceiling_r2": _ratio(metrics.get("ceiling_r2")),
            "r2_of_ceiling": _ratio(metrics.get("r2_of_ceiling")),
            "rmse": math.sqrt(mse) if mse is not None and mse >= 0 else None,
            "mae": _ratio(metrics.get("mae")),
        },
        "loss_chart": loss,
        "alpha_chart": alpha,
        "acceptance_chart": acceptance_chart(by_day),
        "acceptance_days": ACCEPTANCE_DAYS,
        "acceptance_rows": by_day,
        "ab": selectors.ab_results(days=ACCEPTANCE_DAYS),
        "ab_enabled": settings.RECOMMENDATION_AB_TEST_ENABLED,
        "versions": selectors.model_versions_recent(limit=10),
        "dead_letters": selectors.feedback_dead_letters(limit=10),
        "webhook_receivers": receivers_tripped(),
        "breaker_failures": settings.WEBHOOK_BREAKER_FAILURES,
        "flower_url": settings.FLOWER_URL,
    }
