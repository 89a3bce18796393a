"""`manage.py evaluate --collection NAME --questions FILE [--k 5] [--answers] [--json]`.

Questions are JSON lines: {"q": ..., "gold": [...], "lang": "zh", "unanswerable": true,
"reviewed": true}. Gold is a
source path (a hit when it is among the first k distinct documents retrieved) or a page of one,
`manual.pdf#p57` (a hit when one of the first k passages covers physical page 57 of it).

Without `--answers` it scores retrieval (recall@k, MRR@10, nDCG@10, latency, and how often the
offline "may not cover" notice fires); with it, every question goes through the whole answer
pipeline with the configured provider (see assistant/chat/evaluation.py). Each run is stored as
an EvaluationRun, which the admin lists side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assistant.chat.evaluation import answer_row, evaluator, summarise_answers
from assistant.chat.models import EvaluationRun
from assistant.lib.schema import ensure_migrated
from assistant.llm.prompts import Tier
from assistant.llm.providers import get_provider
from ingest.models import Collection
from ingest.search.evaluation import Location, gold_rank, summarise
from ingest.search.rerankers import get_reranker
from ingest.search.retrieval import search


class Command(BaseCommand):
    help = "Score retrieval (or, with --answers, whole answers) on a question set."

    def add_arguments(self, parser):
        parser.add_argument("--collection", required=True)
        parser.add_argument("--questions", required=True)
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument(
            "--answers",
            action="store_true",
            help="run each question through the answer pipeline with the configured provider",
        )
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--show-misses", action="store_true")

    def handle(self, *args, collection: str, questions: str, k: int, answers: bool, **options):
        ensure_migrated(self.stdout)
        try:
            target = Collection.objects.get(name=collection)
        except Collection.DoesNotExist:
            raise CommandError(f"No collection named {collection!r}.") from None
        try:
            lines = Path(questions).read_text().splitlines()
        except OSError as error:
            raise CommandError(f"Cannot read {questions}: {error}") from None
        items = [json.loads(line) for line in lines if line.strip()]
        if answers:
            user = evaluator()
            rows = [answer_row(item, target, user) for item in items]
            report = summarise_answers(rows)
        else:
            reader = get_user_model()(is_superuser=True)  # reads everything; scoped to the target
            rows = [self._retrieval_row(item, target, reader) for item in items]
            report = summarise(rows, k)
        self._store(answers, target, questions, len(items), report)
        if options["as_json"]:
            self.stdout.write(json.dumps(report))
        elif answers:
            self._print_answers(report)
        else:
            self._print(report, k)
            if options["show_misses"]:
                self._print_misses(rows, k)

    def _retrieval_row(self, item: dict, target: Collection, reader) -> dict:
        # Twenty passages hold the ten distinct documents that MRR@10 by document needs.
        found = search(item["q"], user=reader, collection_ids=[target.pk], k=20)
        return {
            **item,
            "locations": [Location(h.source_path, h.page_start, h.page_end) for h in found.hits],
            "ms": found.timings["total_ms"],
            "not_covered": found.low_confidence,
        }

    def _store(self, answers: bool, target, questions: str, count: int, report: dict) -> None:
        provider = get_provider()
        reranker = get_reranker()
        EvaluationRun.objects.create(
            kind=EvaluationRun.Kind.ANSWERS if answers else EvaluationRun.Kind.RETRIEVAL,
            collection_name=target.name,
            questions_file=questions[:500],
            questions=count,
            provider=provider.name if answers else "",
            model=provider.model_for(Tier.DEFAULT) if answers else "",
            embedder=f"{settings.EMBEDDING_PROVIDER}: {settings.EMBEDDING_MODEL}",
            reranker=reranker.model if reranker else "",
            figures=report,
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
        self._print_gate("'may not cover' notice", report["not_covered"])

    def _print_gate(self, label: str, rates: dict) -> None:
        for group, gate in rates.items():
            self.stdout.write(
                f"{label}, {group}: fires on {gate['unanswerable_flagged']}/"
                f"{gate['unanswerable']} unanswerable, wrongly on {gate['answerable_flagged']}/"
                f"{gate['answerable']} answerable"
            )

    def _print_answers(self, report: dict) -> None:
        first = report["first_token_ms"]
        self.stdout.write(
            f"answers: {report['questions']} questions, {report['answered_share']:.1%} of the "
            f"answerable answered, {report['gold_cited_share']:.1%} of those cite a gold "
            f"passage, {report['failed']} failed\n"
            f"first token: p50 {first['p50']:.0f} ms, p95 {first['p95']:.0f} ms\n"
            f"tokens: {report['tokens']} ({report['tokens_per_question']:.0f} a question), "
            f"cost ${report['cost_usd']:.4f}\n"
            f"draft -> final: {report['upgrade_rate']:.1%} of the answers upgraded; cost per "
            f"answer ${report['cost_per_answer_usd']:.6f}, "
            f"${report['cost_per_answer_without_upgrade_usd']:.6f} without the upgrades"
        )
        reviewed = report["reviewed_answers"]
        self.stdout.write(
            f"reviewed answers: served {reviewed['served']}; paraphrases "
            f"{reviewed['true_matches']}/{reviewed['paraphrases']} matched, near misses "
            f"{reviewed['false_matches']}/{reviewed['near_misses']} wrongly matched"
        )
        self._print_gate("'not covered'", report["not_covered"])

    def _print_misses(self, rows: list[dict], k: int) -> None:
        for row in rows:
            if row.get("gold") and not any(
                (gold_rank(gold, row["locations"]) or k + 1) <= k for gold in row["gold"]
            ):
                got = [f"{p.path}#p{p.page_start}" for p in row["locations"][:k]]
                self.stdout.write(f"MISS {row['q']}\n  gold {row['gold']}\n  got  {got}")
