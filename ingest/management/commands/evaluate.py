"""`manage.py evaluate --collection NAME --questions FILE [--k 5] [--json]`.

Questions are JSON lines: {"q": ..., "gold": [source paths], "lang": "zh", "unanswerable": true}.
A hit is a gold document among the first k distinct documents retrieved.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assistant.lib.schema import ensure_migrated
from ingest.models import Collection, Document
from ingest.search.evaluation import summarise
from ingest.search.retrieval import search


class Command(BaseCommand):
    help = "Score retrieval on a question set: recall@k, MRR@10, nDCG@10, latency, coverage signal."

    def add_arguments(self, parser):
        parser.add_argument("--collection", required=True)
        parser.add_argument("--questions", required=True)
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--show-misses", action="store_true")

    def handle(
        self,
        *args,
        collection: str,
        questions: str,
        k: int,
        as_json: bool,
        show_misses: bool,
        **options,
    ):
        ensure_migrated(self.stdout)
        try:
            target = Collection.objects.get(name=collection)
        except Collection.DoesNotExist:
            raise CommandError(f"No collection named {collection!r}.") from None
        items = [
            json.loads(line) for line in Path(questions).read_text().splitlines() if line.strip()
        ]
        paths = dict(
            Document.objects.filter(collection=target, status="ready").values_list(
                "pk", "source_path"
            )
        )
        evaluator = get_user_model()(is_superuser=True)  # reads everything; scoped below
        rows = []
        for item in items:
            result = search(
                item["q"], user=evaluator, collection_ids=[target.pk], k=10, per_document=1
            )
            ranked = [paths.get(doc_id, "") for doc_id in result.documents()]
            rows.append(
                {
                    **item,
                    "ranked": ranked,
                    "ms": result.timings["total_ms"],
                    "low_confidence": result.low_confidence,
                    "best_similarity": result.best_similarity,
                }
            )
        report = summarise(rows, k)
        if as_json:
            self.stdout.write(json.dumps(report))
            return
        self._print(report, k)
        if show_misses:
            for row in rows:
                if row.get("gold") and not set(row["gold"]) & set(row["ranked"][:k]):
                    self.stdout.write(
                        f"MISS {row['q']}\n  gold {row['gold']}\n  got  {row['ranked'][:k]}"
                    )

    def _print(self, report: dict, k: int) -> None:
        for group, scores in report["groups"].items():
            self.stdout.write(
                f"{group:>14}: n={scores['n']:>3}  recall@{k}={scores['recall']:.3f}  "
                f"MRR@10={scores['mrr']:.3f}  nDCG@10={scores['ndcg']:.3f}"
            )
        latency = report["latency_ms"]
        self.stdout.write(
            f"latency: p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms "
            "(query embedding included)"
        )
        signal = report["low_confidence"]
        self.stdout.write(
            f"low-confidence signal: fires on {signal['unanswerable_flagged']}/"
            f"{signal['unanswerable']} unanswerable, wrongly on {signal['answerable_flagged']}/"
            f"{signal['answerable']} answerable"
        )
