"""`RecommendationEngine`: the three recommendations, in rule-based, neural or ensemble mode.

Used as the deployment guide uses it::

    engine = RecommendationEngine(mode="ensemble")
    engine.mode, engine.nn_model, engine.model_manager.device
    engine.recommend_cleaners_for_job(job, limit=10)   # [{"cleaner", "score", "rule_based_score", ...}]
    engine.recommend_jobs_for_cleaner(cleaner, limit=10)
    engine.suggest_bid(job, cleaner)                   # {"suggested_amount", "low", "high", "confidence"}

Neural and ensemble modes need PyTorch and a trained model; without either the engine falls
back to rule-based with one warning. The neural path imports torch only through the model
store, so this module itself stays importable anywhere.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from app.marketplace.models import CleanerProfile, CleaningJob
from app.recommendations.models import Mode
from workers.recommend import candidates
from workers.recommend import features as F
from workers.recommend.first_stage import first_stage_keep
from workers.recommend.model_manager import ModelManager, torch_available
from workers.recommend.scoring import rule_components, rule_score

logger = logging.getLogger(__name__)

NO_TORCH_WARNING = "Neural mode requested but PyTorch not available. Falling back to rule-based."
NO_MODEL_WARNING = "Neural mode requested but no trained model is active in {dir}. Falling back to rule-based."


@dataclass
class Scored:
    """Scores of one subject against its candidates, best first, cut to the limit."""

    ids: np.ndarray
    external_ids: np.ndarray  # the subjects' `external_id`s (objects), aligned with `ids`
    score: np.ndarray
    rule_based_score: np.ndarray
    neural_score: np.ndarray | None
    components: dict[str, np.ndarray]
    mode: str
    model_version: str
    candidates: int

    def rows(self) -> list[dict]:
        out = []
        for i, subject_id in enumerate(self.ids.tolist()):
            out.append(
                {
                    "id": subject_id,
                    "external_id": self.external_ids[i],
                    "rank": i + 1,
                    "score": round(float(self.score[i]), 6),
                    "rule_based_score": round(float(self.rule_based_score[i]), 6),
                    "neural_score": None if self.neural_score is None else round(float(self.neural_score[i]), 6),
                    "components": {k: round(float(v[i]), 4) for k, v in self.components.items()},
                }
            )
        return out


class RecommendationEngine:
    def __init__(self, mode: str | None = None, model_manager: ModelManager | None = None) -> None:
        requested = mode or settings.RECOMMENDATION_MODE
        if requested not in Mode.values:
            raise ValueError(f"unknown mode {requested!r}; choose one of {', '.join(Mode.values)}")
        self.requested_mode = requested
        self.model_manager = model_manager or ModelManager()
        self.rule_weight = float(settings.RECOMMENDATION_RULE_WEIGHT)
        self.neural_weight = float(settings.RECOMMENDATION_NEURAL_WEIGHT)
        self._warned = False
        if requested != Mode.RULE_BASED and torch_available() and self.model_manager.model is None:
            self.model_manager.refresh()
        self.mode = self._effective_mode()

    @property
    def nn_model(self):  # a torch module, typed loosely to keep torch out of imports
        return self.model_manager.model

    def _effective_mode(self) -> str:
        if self.requested_mode == Mode.RULE_BASED:
            return Mode.RULE_BASED
        if not torch_available():
            self._warn(NO_TORCH_WARNING)
            return Mode.RULE_BASED
        if self.model_manager.model is None:
            self._warn(NO_MODEL_WARNING.format(dir=self.model_manager.directory))
            return Mode.RULE_BASED
        return self.requested_mode

    def _warn(self, message: str) -> None:
        # One warning per engine, not one per request.
        if not self._warned:
            self._warned = True
            logger.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def refresh_model(self) -> None:
        """Pick up a newly activated model version (hot reload); keep serving on failure."""
        self.model_manager.refresh()
        self.mode = self._effective_mode()

    # -- scoring -------------------------------------------------------------------------

    def _neural(
        self, job: dict[str, np.ndarray], cleaner: dict[str, np.ndarray], pair: dict[str, np.ndarray], model
    ) -> np.ndarray:
        from workers.ml.hybrid import InteractionArrays, predict

        data = InteractionArrays(
            client_ids=job["client_id"].astype(np.int64),
            cleaner_ids=cleaner["cleaner_id"].astype(np.int64),
            client_features=F.client_feature_matrix(job),
            cleaner_features=F.cleaner_feature_matrix(cleaner),
            pair_features=F.pair_feature_matrix(pair),
        )
        return predict(model, data).astype(np.float64)

    def score_pairs(
        self,
        job: dict[str, np.ndarray],
        cleaner: dict[str, np.ndarray],
        *,
        mode: str | None = None,
        model_version: str | None = None,
        ids: np.ndarray | None = None,
        first_stage_limit: int = 0,
        distance: np.ndarray | None = None,
        table: dict[str, np.ndarray] | None = None,
        rows: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, np.ndarray], str, str, np.ndarray | None]:
        """Score aligned (job, cleaner) pairs.

        Returns (score, rule, neural, components, mode used, model version used, kept). `model_version`
        pins a version (an A/B variant); by default the active one. Without a usable model the
        mode falls back to rule-based. With a model and more than `first_stage_limit` pairs, only
        the best `first_stage_limit` by rule score (ties: lower `ids` first) reach the model
        (`first_stage`): `kept` holds their row indexes and every returned array is cut to them;
        `kept` is None when no row was cut. `distance`: the pairs' `distance_km`, if already known.
        With `table` and `rows`, `cleaner` need hold only `F.RULE_CLEANER_COLUMNS` of the table's
        `rows`: the other columns are taken from `table` for the rows the model scores.
        """
        mode = self.mode if mode is None else mode
        loaded = None
        if mode != Mode.RULE_BASED:
            loaded = self.model_manager.model_for(model_version) if model_version else self.model_manager.loaded
            if loaded is None:
                mode = Mode.RULE_BASED
        pair = F.pair_columns(job, cleaner, distance)
        components = rule_components(pair, cleaner)
        rule = rule_score(components)
        kept = None
        if loaded is not None and ids is not None:
            kept = first_stage_keep(rule, ids, first_stage_limit)
        if kept is not None:
            job, cleaner, pair, components = (F.take(cols, kept) for cols in (job, cleaner, pair, components))
            rule = rule[kept]
        if table is not None and loaded is not None:
            scored_rows = rows if kept is None else rows.take(kept)
            cleaner = {
                **cleaner,
                **{key: table[key].take(scored_rows) for key in F.CLEANER_COLUMNS if key not in cleaner},
            }
        neural = self._neural(job, cleaner, pair, loaded.model) if loaded is not None and len(rule) else None
        if mode == Mode.NEURAL and neural is not None:
            score = neural
        elif mode == Mode.ENSEMBLE and neural is not None:
            total = self.rule_weight + self.neural_weight
            score = (self.rule_weight * rule + self.neural_weight * neural) / total
        else:
            score = rule
        return score, rule, neural, components, mode, loaded.version if loaded is not None else "", kept

    def _scored(self, job: dict, cleaner: dict, ids: np.ndarray, limit: int, **kwargs) -> tuple:
        """`score_pairs` with the first-stage cut the settings ask for (never below `limit`)."""
        cut = int(settings.RECOMMENDATION_FIRST_STAGE_LIMIT)
        return self.score_pairs(job, cleaner, ids=ids, first_stage_limit=max(cut, limit) if cut > 0 else 0, **kwargs)

    def _top(
        self, ids: np.ndarray, external_ids: np.ndarray, scored: tuple, limit: int, rows: np.ndarray | None = None
    ) -> Scored:
        """The best `limit` of `scored`, ties to the lower id. `rows`, when given, are the candidates'
        rows in `external_ids` (the cleaner table's column: only the answer's few are gathered)."""
        score, rule, neural, components, mode, version, kept = scored
        candidates = len(ids)
        rows = np.arange(candidates) if rows is None else rows
        if kept is not None:
            ids, rows = ids[kept], rows[kept]
        # The best `limit`, ties at the limit to the lower ids as within it: a worker's table holds
        # its rows in the order its catch-ups left them, and every worker must give the same answer.
        part = first_stage_keep(score, ids, limit)
        order = np.lexsort((ids, -score)) if part is None else part[np.lexsort((ids[part], -score[part]))]
        return Scored(
            ids=ids[order],
            external_ids=external_ids[rows[order]],
            score=score[order],
            rule_based_score=rule[order],
            neural_score=None if neural is None else neural[order],
            components={k: v[order] for k, v in components.items()},
            mode=mode,
            model_version=version,
            candidates=candidates,
        )

    def score_cleaners_for_job(
        self, job: CleaningJob, limit: int = 10, *, mode: str | None = None, model_version: str | None = None
    ) -> Scored:
        from workers.recommend.cleaner_table import cleaner_table

        context = candidates.job_context_of(job)
        table = cleaner_table.get()
        rows, distance = candidates.candidate_cleaner_rows(job=job, context=context, cleaners=table)
        # Gathering the candidates' columns costs most at 100,000 cleaners (the reads are spread
        # over the whole table): the rule score's columns for all, the model's for the rows it
        # scores (`score_pairs`), the external ids (objects) for the answer's rows (`_top`).
        cleaners = {key: table[key].take(rows) for key in F.RULE_CLEANER_COLUMNS}
        job_cols = F.broadcast_job(context, len(rows))
        ids = cleaners["cleaner_id"]
        scored = self._scored(
            job_cols,
            cleaners,
            ids,
            limit,
            mode=mode,
            model_version=model_version,
            distance=distance,
            table=table,
            rows=rows,
        )
        return self._top(ids, table["external_id"], scored, limit, rows)

    def score_jobs_for_cleaner(
        self, cleaner: CleanerProfile, limit: int = 10, *, mode: str | None = None, model_version: str | None = None
    ) -> Scored:
        jobs = candidates.open_jobs_for_cleaner(cleaner=cleaner)
        n = len(jobs)
        job_cols = {key: np.array([j[key] for j in jobs], dtype=np.float64) for key in F.JOB_COLUMNS}
        one = candidates.cleaner_columns(cleaner_id=cleaner.pk)
        cleaner_cols = F.take(one, np.zeros(n, dtype=np.int64))
        ids = job_cols["job_id"].astype(np.int64)
        scored = self._scored(job_cols, cleaner_cols, ids, limit, mode=mode, model_version=model_version)
        external_ids = np.array([j["external_id"] for j in jobs], dtype=object)
        return self._top(ids, external_ids, scored, limit)

    # -- the guide's interface -------------------------------------------------------------

    def recommend_cleaners_for_job(self, job: CleaningJob, limit: int = 10) -> list[dict]:
        scored = self.score_cleaners_for_job(job, limit)
        cleaners = CleanerProfile.objects.select_related("user").in_bulk(scored.ids.tolist())
        return [{"cleaner": cleaners[row.pop("id")], **row} for row in scored.rows()]

    def recommend_jobs_for_cleaner(self, cleaner: CleanerProfile, limit: int = 10) -> list[dict]:
        scored = self.score_jobs_for_cleaner(cleaner, limit)
        jobs = CleaningJob.objects.in_bulk(scored.ids.tolist())
        return [{"job": jobs[row.pop("id")], **row} for row in scored.rows()]

    def suggest_bid(self, job: CleaningJob, cleaner: CleanerProfile) -> dict:
        from workers.recommend.bidding import bid_suggestion

        return bid_suggestion(job=job, cleaner=cleaner)
