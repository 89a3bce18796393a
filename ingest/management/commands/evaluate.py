"""`manage.py evaluate --collection NAME --questions FILE [--k 5] [--json]`.

Questions are JSON lines: {"q": ..., "gold": [...], "lang": "zh", "unanswerable": true}. Gold is a
source path (a hit when it is among the first k distinct documents retrieved) or a page of one,
`manual.pdf#p57` (a hit when one of the first k passages covers physical page 57 of it).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assistant.lib.schema import ensure_migrated
from ingest.models import Collection
from ingest.search.evaluation import Place, gold_rank, summarise
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
        evaluator = get_user_model()(is_superuser=True)  # reads everything; scoped below
        rows = []
        for item in items:
            # Twenty passages hold the ten distinct documents that MRR@10 by document needs.
            result = search(item["q"], user=evaluator, collection_ids=[target.pk], k=20)
            places = [Place(h.source_path, h.page_start, h.page_end) for h in result.hits]
            rows.append(
                {
                    **item,
                    "places": places,
                    "ms": result.timings["total_ms"],
                    "not_covered": result.low_confidence,
                }
            )
        report = summarise(rows, k)
        if as_json:
            self.stdout.write(json.dumps(report))
            return
        self._print(report, k)
        if show_misses:
            for row in rows:
                if row.get("gold") and not any(
                    (gold_rank(gold, row["places"]) or k + 1) <= k for gold in row["gold"]
                ):
                    got = [f"{p.path}#p{p.page_start}" for p in row["places"][:k]]
                    self.stdout.write(f"MISS {row['q']}\n  gold {row['gold']}\n  got  {got}")

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
        for group, gate in report["not_covered"].items():
            self.stdout.write(
                f"'may not cover' notice, {group}: fires on {gate['unanswerable_flagged']}/"
                f"{gate['unanswerable']} unanswerable, wrongly on {gate['answerable_flagged']}/"
                f"{gate['answerable']} answerable"
            )
