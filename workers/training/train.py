"""Train, evaluate and store a hybrid model from the marketplace tables.

The glue between the data layer (`workers.training.data`, tables to arrays) and
the Django-free ML layer (`workers.ml`). Used by `manage.py train_recommendation_model` and by
the retrain task. Evaluation puts the model, the ensemble, the rule-based scorer and a random
order side by side on the same validation jobs, and measures the ceiling: the R² that the
generator's noise-free expected rating reaches on the same validation slice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from django.conf import settings

from app.recommendations import registry
from app.recommendations.model_pointer import active_version_write
from app.recommendations.models import ModelVersion
from workers.ml.hybrid import EpochStats, HybridModel, InteractionArrays, predict, train_hybrid
from workers.ml.metrics import ranking_metrics, rating_metrics
from workers.ml.store import save_model
from workers.recommend import features as F
from workers.recommend.scoring import rule_components, rule_score
from workers.training import gate, versions
from workers.training.data import Pairs, TrainingSet, expected_ratings, training_set_load
from workers.training.first_stage import first_stage_evaluate

RANDOM_ORDER_SEED = 12345


def to_arrays(pairs: Pairs, *, with_targets: bool = True) -> InteractionArrays:
    pair = F.pair_columns(pairs.job, pairs.cleaner)
    return InteractionArrays(
        client_ids=pairs.job["client_id"].astype(np.int64),
        cleaner_ids=pairs.cleaner["cleaner_id"].astype(np.int64),
        client_features=F.client_feature_matrix(pairs.job),
        cleaner_features=F.cleaner_feature_matrix(pairs.cleaner),
        pair_features=F.pair_feature_matrix(pair),
        targets=pairs.target if with_targets else None,
    )


def rule_scores(pairs: Pairs) -> np.ndarray:
    return rule_score(rule_components(F.pair_columns(pairs.job, pairs.cleaner), pairs.cleaner))


def ensemble(rule: np.ndarray, neural: np.ndarray) -> np.ndarray:
    wr, wn = settings.RECOMMENDATION_RULE_WEIGHT, settings.RECOMMENDATION_NEURAL_WEIGHT
    return (wr * rule + wn * neural) / (wr + wn)


def evaluate(model: HybridModel, data: TrainingSet) -> dict:
    """Rating metrics, the ceiling, and ranking metrics of every scorer on the same jobs."""
    val_pred = predict(model, to_arrays(data.val))
    rating = rating_metrics(val_pred, data.val.target)
    expected = expected_ratings(data.val.group)
    known = ~np.isnan(expected)
    ceiling = rating_metrics(expected[known], data.val.target[known])["r2"] if known.sum() > 1 else None

    bidders = data.val_bidders
    ranking: dict[str, dict] = {}
    if len(bidders):
        neural = predict(model, to_arrays(bidders, with_targets=False)).astype(np.float64)
        rule = rule_scores(bidders)
        rng = np.random.default_rng(RANDOM_ORDER_SEED)
        scorers = {
            "neural": neural,
            "ensemble": ensemble(rule, neural),
            "rule_based": rule,
            "random": rng.random(len(rule)),
        }
        ranking = {name: ranking_metrics(s, bidders.relevance, bidders.group, k=5) for name, s in scorers.items()}
    limit = int(settings.RECOMMENDATION_FIRST_STAGE_LIMIT)
    return {
        **{k: float(v) for k, v in rating.items()},
        "ceiling_r2": None if ceiling is None else float(ceiling),
        "r2_of_ceiling": None if not ceiling else float(rating["r2"] / ceiling),
        "ranking": ranking,
        "first_stage": first_stage_evaluate(data, final_scorers(model), limits=[limit] if limit > 0 else []),
    }


def final_scorers(model: HybridModel):
    """The first stage's score and the final ones, as serving computes them, for `first_stage_evaluate`."""

    def score(pairs: Pairs) -> dict[str, np.ndarray]:
        rule = rule_scores(pairs)
        neural = predict(model, to_arrays(pairs, with_targets=False)).astype(np.float64)
        return {"rule_based": rule, "neural": neural, "ensemble": ensemble(rule, neural)}

    return score


@dataclass
class TrainingReport:
    version: str
    completed_jobs: int
    train_samples: int
    val_samples: int
    history: list[EpochStats]
    train_metrics: dict
    evaluation: dict
    seconds_loading: float
    seconds_training: float
    weights_path: Path | None = None
    model: HybridModel | None = field(default=None, repr=False)
    registered_status: str = ""  # the version's status in the registry, if registered


# Long for its keyword signature (the command's flags, one per line once formatted); the steps are short.
def model_train(
    *,
    version: str,
    epochs: int = 50,
    batch_size: int = 256,
    learning_rate: float = 0.001,
    patience: int = 5,
    seed: int = 42,
    val_fraction: float = 0.2,
    models_dir: Path | None = None,
    save: bool = True,
    activate: bool = True,
    register: bool = False,
    on_loaded: Callable[[TrainingSet], None] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> TrainingReport:
    """Train, evaluate and (with `save`) store a version; `activate` makes it the active one.

    `register` records it in the model registry (the configured models directory only), and
    then activation goes through the registry, which tells every worker.
    """
    torch.set_num_threads(1)
    directory = Path(models_dir or settings.RECOMMENDATION_MODELS_DIR)
    cutoff: dict = {}
    if register:
        if directory != Path(settings.RECOMMENDATION_MODELS_DIR):
            raise ValueError("only versions in RECOMMENDATION_MODELS_DIR can be registered")
        if ModelVersion.objects.filter(version=version).exists():
            raise ValueError(f"model version {version} is already in the registry; choose another version")
        # Before loading: whatever arrives during training is new data for the next retrain.
        cutoff = gate.training_data_cutoff()
    started = time.perf_counter()
    data = training_set_load(val_fraction=val_fraction)
    loaded = time.perf_counter()
    if on_loaded:
        on_loaded(data)
    result = train_hybrid(
        to_arrays(data.train),
        to_arrays(data.val),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=patience,
        seed=seed,
        feature_names=F.FEATURE_SCHEMA,
        on_epoch=on_epoch,
    )
    evaluation = evaluate(result.model, data)
    trained = time.perf_counter()
    report = TrainingReport(
        version=version,
        completed_jobs=data.completed_jobs,
        train_samples=len(data.train),
        val_samples=len(data.val),
        history=result.history,
        train_metrics=result.metrics,
        evaluation=evaluation,
        seconds_loading=loaded - started,
        seconds_training=trained - loaded,
        model=result.model,
    )
    if save:
        _store(
            report,
            result,
            data,
            directory=directory,
            cutoff=cutoff,
            register=register,
            activate=activate,
            options={
                "val_fraction": val_fraction,
                "seed": seed,
                "epochs": epochs,
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "patience": patience,
            },
        )
    return report


def _store(
    report: TrainingReport,
    result,
    data: TrainingSet,
    *,
    directory: Path,
    cutoff: dict,
    register: bool,
    activate: bool,
    options: dict,
) -> None:
    """Save the trained version's files; record it in the registry and activate it, as asked."""
    version = report.version
    summary = {
        "completed_jobs": data.completed_jobs,
        "train_samples": len(data.train),
        "val_samples": len(data.val),
        "val_ranking_rows": len(data.val_bidders),
        "split_at": data.split_at,
        **options,
    }
    report.weights_path, _ = save_model(
        result.model,
        directory,
        version,
        metrics={**result.metrics, **report.evaluation},
        history=result.history,
        extra_metadata={"training_data": summary},
    )
    if register:
        training = {**summary, **{k: v for k, v in result.metrics.items() if not k.startswith("val_")}}
        # The per-epoch curves for /ops/: the web has no models volume to read the metadata from.
        training["history"] = [asdict(stats) for stats in result.history]
        versions.model_version_register(
            version=version, metrics=report.evaluation, training_data=training, cutoff=cutoff
        )
        report.registered_status = registry.Status.CANDIDATE
    if activate and register:
        registry.model_version_activate(
            version=version,
            by=None,
            check_files=versions.model_files_check_local,
            decision={"verdict": "promote", "reason": "activated by the training command"},
        )
        report.registered_status = registry.Status.ACTIVE
    elif activate:
        active_version_write(version, directory)
