"""Sync papers from arXiv by hand: the core list and/or every active watch query, with progress."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from portal.papers.arxiv_api import ArxivClient, parse_arxiv_ref
from portal.papers.models import Paper, SyncStatus, WatchQuery
from portal.papers.services import embed_papers, run_watch_queries, sync_papers


class Command(BaseCommand):
    help = (
        "Fetch the core papers (one batched arXiv query) and run every active watch query, "
        "as the periodic job does. Failures are reported and leave stored papers untouched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "ids", nargs="*", help="arXiv ids or URLs to fetch instead of the core list"
        )
        parser.add_argument("--core-only", action="store_true", help="skip watch queries")
        parser.add_argument("--watch-only", action="store_true", help="skip the core list")
        parser.add_argument(
            "--no-embed", action="store_true", help="do not compute embeddings here"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["core_only"] and options["watch_only"]:
            raise CommandError("--core-only and --watch-only exclude each other")
        try:
            ids = [parse_arxiv_ref(ref)[0] for ref in options["ids"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        quiet = options["no_progress"]
        client = ArxivClient()
        failed = 0

        if not options["watch_only"]:
            wanted = ids or list(Paper.objects.core().values_list("arxiv_id", flat=True))
            if not wanted:
                self.stdout.write("no core papers: run `manage.py loadpapers` first")
            else:
                with tqdm(
                    total=len(wanted),
                    desc="arXiv papers",
                    unit="paper",
                    file=sys.stderr,
                    disable=quiet,
                ) as bar:
                    run = sync_papers(
                        arxiv_ids=wanted, client=client, on_record=lambda _r: bar.update(1)
                    )
                if run.status == SyncStatus.FAILED:
                    failed += 1
                    self.stderr.write(
                        self.style.ERROR(
                            f"sync failed at {run.finished_at:%Y-%m-%d %H:%M:%S}: {run.error}"
                        )
                    )
                else:
                    self.stdout.write(
                        f"papers: {run.fetched} fetched, {run.changed} changed, {run.new_versions} new versions"
                        + (f", not on arXiv: {', '.join(run.missing)}" if run.missing else "")
                    )

        if not options["core_only"] and not ids:
            watches = list(WatchQuery.objects.active().select_related("user"))
            with tqdm(
                total=len(watches),
                desc="watch queries",
                unit="query",
                file=sys.stderr,
                disable=quiet,
            ) as bar:

                def report(watch: WatchQuery, run: Any) -> None:
                    bar.update(1)
                    if run.status == SyncStatus.FAILED:
                        self.stderr.write(
                            self.style.ERROR(
                                f"watch {watch.name!r} ({watch.user}) failed: {run.error}"
                            )
                        )
                    else:
                        self.stdout.write(
                            f"watch {watch.name!r} ({watch.user}): {run.fetched} results, {watch.last_new_count} new in inbox"
                        )

                runs = run_watch_queries(watches=watches, client=client, on_done=report)
            failed += sum(run.status == SyncStatus.FAILED for run in runs)

        if not options["no_embed"]:
            embedded = embed_papers()
            self.stdout.write(f"embeddings: {embedded} computed")
        self.stdout.write(f"arXiv requests: {client.requests_made}")
        if failed:
            raise CommandError(f"{failed} sync(s) failed")
