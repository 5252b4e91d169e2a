"""`manage.py train_recommendation_model`: train the hybrid model and print how it did."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Train the hybrid recommendation model on completed jobs and store it as a new version."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--epochs", type=int, default=50)
        parser.add_argument("--batch-size", type=int, default=256)
        parser.add_argument(
            "--learning-rate", type=float, default=0.001, help="of the MLP; embeddings learn 10x faster"
        )
        parser.add_argument("--patience", type=int, default=5, help="epochs without improvement before stopping")
        parser.add_argument(
            "--model-version", required=True, help="e.g. 1.0; files are hybrid_recommendation_v<version>.pt"
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--val-fraction", type=float, default=0.2, help="latest share of completed jobs held out")
        parser.add_argument("--no-activate", action="store_true", help="store the model without making it active")

    def handle(self, *args, **opts) -> None:
        try:
            from workers.training.train import model_train
        except ImportError as exc:
            raise CommandError(f"training needs the worker's dependencies (PyTorch): {exc}") from exc
        from app.recommendations.registry import ModelFilesUnusable
        from workers.ml.store import ModelStoreError

        out = self.stdout
        epochs = opts["epochs"]

        def loaded(data) -> None:
            out.write(f"Found {data.completed_jobs} completed jobs with reviews")
            out.write(f"Training samples: {len(data.train)}")
            out.write(f"Validation samples: {len(data.val)} (jobs from {data.split_at[:10]} on)")

        def epoch(stats) -> None:
            out.write(
                f"Epoch {stats.epoch}/{epochs} - Train Loss: {stats.train_loss:.4f}, "
                f"Val Loss: {stats.val_loss:.4f}, Alpha: {stats.alpha:.3f}"
            )

        out.write("Loading training data...")
        try:
            report = model_train(
                version=opts["model_version"],
                epochs=epochs,
                batch_size=opts["batch_size"],
                learning_rate=opts["learning_rate"],
                patience=opts["patience"],
                seed=opts["seed"],
                val_fraction=opts["val_fraction"],
                activate=not opts["no_activate"],
                register=True,
                on_loaded=loaded,
                on_epoch=epoch,
            )
        except (ValueError, ModelStoreError, ModelFilesUnusable) as exc:
            raise CommandError(str(exc)) from exc
        tm, ev = report.train_metrics, report.evaluation
        if tm.get("stopped_early"):
            out.write(f"Early stopping at epoch {tm['epochs_run']} (best epoch {tm['best_epoch']})")
        out.write("")
        out.write("Validation metrics (rating on a 0-1 scale):")
        out.write(f"  MSE: {ev['mse']:.4f}  MAE: {ev['mae']:.4f}  R²: {ev['r2']:.4f}")
        if ev["ceiling_r2"] is not None:
            out.write(
                f"  Ceiling R² (noise-free expected rating): {ev['ceiling_r2']:.4f}"
                f"  -> model reaches {100 * ev['r2_of_ceiling']:.1f}% of it"
            )
        if ev["ranking"]:
            groups = next(iter(ev["ranking"].values()))["groups"]
            out.write(f"Ranking of bidders on {groups} validation jobs with several bidders:")
            out.write(f"  {'scorer':<12}{'NDCG@5':>9}{'pairwise':>10}")
            for name, m in ev["ranking"].items():
                out.write(f"  {name:<12}{m['ndcg_at_5']:>9.4f}{m['pairwise_accuracy']:>10.4f}")
        self._first_stage(out, ev.get("first_stage") or {})
        out.write(f"Loading {report.seconds_loading:.2f}s, training and evaluation {report.seconds_training:.2f}s")
        if report.weights_path:
            out.write(self.style.SUCCESS(f"Model saved: {report.weights_path}"))
            out.write(f"Registered as {report.registered_status}")

    def _first_stage(self, out, fs: dict) -> None:
        """Two-stage scoring on each validation job's whole candidate pool, the hired cleaner relevant."""
        if not fs:
            return
        out.write(
            f"Two-stage scoring on the whole candidate pools of {fs['jobs']} validation jobs "
            f"(median {fs['candidates_median']:.0f} candidates; the hired cleaner relevant):"
        )
        out.write(f"  {'scorer/pool':<22}{'NDCG@5':>9}{'pairwise':>10}  top 10 unchanged")
        for name, m in fs["without_cut"].items():
            out.write(f"  {name + '/all':<22}{m['ndcg_at_5']:>9.4f}{m['pairwise_accuracy']:>10.4f}")
        for cut in fs["cuts"]:
            for name, m in cut["with_cut"].items():
                label = f"{name}/top-{cut['limit']}"
                same = f"{m['jobs_same_top_10']}/{fs['jobs']} jobs ({cut['jobs_cut']} cut)"
                out.write(f"  {label:<22}{m['ndcg_at_5']:>9.4f}{m['pairwise_accuracy']:>10.4f}  {same}")
