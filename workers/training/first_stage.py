"""The ranking quality of two-stage scoring on the validation jobs: with the first-stage cut and without.

The bidders-only ranking (`train.evaluate`) never has more than a handful of rows per job, so
it cannot show what the cut costs. Here each validation job with several bidders is ranked
against its whole candidate pool, as serving ranks it: every cleaner who offers the service,
works then and lives within their own radius (`candidates.eligible_cleaner_index`), plus its
bidders. By default the hired cleaner is the relevant one (relevance 1), every other
candidate 0; `relevance_of` may give a graded truth for every pair instead.

"Without the cut" orders the pool by each final score; "with the cut" keeps the best `limit`
by rule score (`first_stage.first_stage_keep`, as the engine does), orders them by the final
score and puts the cut ones below them, in rule order. NDCG@5 looks at the top of that order,
pairwise accuracy at all of it (mostly at the cut rows, when the pools are large); the paired
NDCG difference per job, with its standard error, and how often the top 10 stays the same
tell whether the answer a client sees changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from workers.ml.metrics import ndcg_per_group, ranking_metrics
from workers.recommend.candidates import eligible_cleaner_index
from workers.recommend.features import JOB_COLUMNS, take
from workers.recommend.first_stage import first_stage_keep
from workers.training.data import Pairs, TrainingSet

GROUPS_PER_CHUNK = 50  # pools of 50 jobs at a time: about 200,000 pairs at 20,000 cleaners
TOP = 10  # the answer's default length
Scorers = Callable[[Pairs], dict[str, np.ndarray]]  # pairs -> {"rule_based": ..., other final scores}
Relevance = Callable[[Pairs], np.ndarray]  # pairs -> relevance of each (>= 0)


def candidate_pools(bidders: Pairs, cleaners: dict[str, np.ndarray], job_rows: np.ndarray) -> Pairs:
    """The pools of the jobs whose first bidder row is in `job_rows`, one contiguous block per job."""
    row_of_cleaner = {pk: i for i, pk in enumerate(cleaners["cleaner_id"].tolist())}
    pair_job, pair_cleaner, relevance = [], [], []
    for r0 in job_rows.tolist():
        context = {k: bidders.job[k][r0] for k in JOB_COLUMNS}
        mine = np.flatnonzero(bidders.group == bidders.group[r0])
        bidder_rows = np.array([row_of_cleaner[x] for x in bidders.cleaner["cleaner_id"][mine].tolist()], np.int64)
        pool = np.union1d(eligible_cleaner_index(context, cleaners), bidder_rows)
        rel = np.zeros(len(pool), np.float32)
        rel[np.searchsorted(pool, bidder_rows)] = bidders.relevance[mine]
        pair_job.append(np.full(len(pool), r0))
        pair_cleaner.append(pool)
        relevance.append(rel)
    jobs, pool_rows = np.concatenate(pair_job), np.concatenate(pair_cleaner)
    return Pairs(
        job=take(bidders.job, jobs),
        cleaner=take(cleaners, pool_rows),
        target=np.zeros(len(jobs), np.float32),
        relevance=np.concatenate(relevance),
        group=bidders.group[jobs],
    )


def _with_cut(rule: np.ndarray, final: np.ndarray, ids: np.ndarray, limit: int) -> np.ndarray:
    """One job's order key with the cut: the kept above every cut one, each part in its own order."""
    kept = first_stage_keep(rule, ids, limit)
    if kept is None:
        return final
    mask = np.zeros(len(rule), bool)
    mask[kept] = True
    return np.where(mask, final + (rule.max() - final[kept].min() + 1.0), rule)


def _same_top(a: np.ndarray, b: np.ndarray, ids: np.ndarray) -> bool:
    return np.array_equal(np.lexsort((ids, -a))[:TOP], np.lexsort((ids, -b))[:TOP])


class _Tally:
    """Scores of every pool row, per scorer and per cut, gathered chunk by chunk."""

    def __init__(self, limits: Sequence[int]) -> None:
        self.limits = list(limits)
        self.final: dict[str, list] = {}
        self.cut: dict[tuple[int, str], list] = {}
        self.same_top: dict[tuple[int, str], int] = {}
        self.relevance: list = []
        self.groups: list = []
        self.sizes: list[int] = []

    def add(self, pools: Pairs, scores: dict[str, np.ndarray], relevance: np.ndarray) -> None:
        rule, ids = scores["rule_based"], pools.cleaner["cleaner_id"]
        bounds = np.flatnonzero(np.r_[True, pools.group[1:] != pools.group[:-1], True])
        spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        for name, final in scores.items():
            if name == "rule_based":
                continue
            self.final.setdefault(name, []).append(final)
            for limit in self.limits:
                keys = [_with_cut(rule[a:b], final[a:b], ids[a:b], limit) for a, b in spans]
                self.cut.setdefault((limit, name), []).append(np.concatenate(keys))
                same = sum(_same_top(key, final[a:b], ids[a:b]) for key, (a, b) in zip(keys, spans, strict=True))
                self.same_top[(limit, name)] = self.same_top.get((limit, name), 0) + int(same)
        self.relevance.append(relevance)
        self.groups.append(pools.group)
        self.sizes.extend(b - a for a, b in spans)

    def summary(self, k: int) -> dict:
        rel, grp = np.concatenate(self.relevance), np.concatenate(self.groups)
        final = {name: np.concatenate(v) for name, v in self.final.items()}
        cuts = []
        for limit in self.limits:
            per_scorer = {}
            for name, full in final.items():
                cut = np.concatenate(self.cut[(limit, name)])
                loss = ndcg_per_group(full, rel, grp, k) - ndcg_per_group(cut, rel, grp, k)
                per_scorer[name] = {
                    **ranking_metrics(cut, rel, grp, k=k),
                    f"ndcg_at_{k}_loss": float(loss.mean()) if loss.size else 0.0,
                    f"ndcg_at_{k}_loss_se": float(loss.std(ddof=1) / np.sqrt(loss.size)) if loss.size > 1 else 0.0,
                    "jobs_same_top_10": self.same_top[(limit, name)],
                }
            cuts.append({"limit": limit, "jobs_cut": sum(s > limit for s in self.sizes), "with_cut": per_scorer})
        return {
            "jobs": len(self.sizes),
            "candidates_median": float(np.median(self.sizes)),
            "without_cut": {name: ranking_metrics(full, rel, grp, k=k) for name, full in final.items()},
            "cuts": cuts,
        }


def first_stage_evaluate(
    data: TrainingSet,
    scorers: Scorers,
    *,
    limits: Sequence[int],
    k: int = 5,
    relevance_of: Relevance | None = None,
) -> dict:
    """Ranking metrics of each final score on the validation pools without the cut and with each of `limits`."""
    bidders = data.val_bidders
    if not len(bidders) or not data.cleaners or not limits:
        return {}
    firsts = np.flatnonzero(np.r_[True, bidders.group[1:] != bidders.group[:-1]])
    tally = _Tally(limits)
    for start in range(0, len(firsts), GROUPS_PER_CHUNK):
        pools = candidate_pools(bidders, data.cleaners, firsts[start : start + GROUPS_PER_CHUNK])
        tally.add(pools, scorers(pools), pools.relevance if relevance_of is None else relevance_of(pools))
    return tally.summary(k)
