"""A local stand-in for arXiv's query API that speaks its Atom wire format.

It honours `id_list`, `search_query` (field:term clauses joined by AND/OR, quoted
phrases), `start`, `max_results` and reports `totalResults` honestly, so the
real `arxiv` client pages through it as it would through export.arxiv.org.
Scripted faults: a queue of HTTP statuses to answer first (e.g. 503 then
success), or a standing mode: "malformed", "empty", "not_atom", "slow".
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

from portal.core.yamlfiles import read_yaml

CORE_DATA = Path(__file__).resolve().parents[2] / "portal" / "papers" / "data" / "core_papers.yaml"

DOMAIN_ABSTRACTS = {
    "transformer": "We study the Transformer architecture for sequence modelling: self-attention layers, "
    "positional encodings, multi-head attention and large language model pre-training.",
    "attention": "We make exact attention IO-aware: tiling and online softmax keep the attention matrix in "
    "on-chip SRAM, cutting GPU high-bandwidth memory traffic and speeding up attention kernels.",
    "quantization": "We quantize large language model weights and activations to 8-bit and 4-bit integers "
    "with little accuracy loss, reducing memory and accelerating inference.",
    "serving": "We serve large language models with high throughput: KV cache management, batching and "
    "speculative decoding reduce latency of LLM inference systems.",
    "chips": "We describe a domain-specific accelerator chip for neural network inference: a systolic "
    "matrix multiply unit, on-chip memory and a roofline analysis of datacenter workloads.",
}


@dataclass
class FakeEntry:
    arxiv_id: str
    title: str
    summary: str
    authors: list[str]
    published: datetime
    updated: datetime
    version: int = 1
    categories: list[str] = field(default_factory=lambda: ["cs.LG"])
    comment: str = ""

    def to_xml(self) -> str:
        vid = f"{self.arxiv_id}v{self.version}"
        authors = "".join(f"<author><name>{escape(name)}</name></author>" for name in self.authors)
        categories = "".join(
            f'<category term="{escape(cat)}" scheme="http://arxiv.org/schemas/atom"/>'
            for cat in self.categories
        )
        comment = (
            f'<arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">{escape(self.comment)}</arxiv:comment>'
            if self.comment
            else ""
        )
        return (
            "<entry>"
            f"<id>http://arxiv.org/abs/{vid}</id>"
            f"<updated>{self.updated:%Y-%m-%dT%H:%M:%SZ}</updated>"
            f"<published>{self.published:%Y-%m-%dT%H:%M:%SZ}</published>"
            f"<title>{escape(self.title)}</title>"
            f"<summary>  {escape(self.summary)}\n</summary>"
            f"{authors}{comment}"
            f'<link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="http://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"/>'
            f'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{self.categories[0]}" '
            'scheme="http://arxiv.org/schemas/atom"/>'
            f"{categories}"
            "</entry>"
        )


def core_entries() -> list[FakeEntry]:
    """One plausible entry per core paper, with an abstract typical of its domain."""
    raw = read_yaml(CORE_DATA)
    entries = []
    base = datetime(2017, 6, 12, 17, 57, 34, tzinfo=UTC)
    for domain, items in raw.items():
        if domain == "further":  # read in the curriculum, not part of the core list
            continue
        for index, item in enumerate(items):
            published = base + timedelta(days=97 * len(entries))
            entries.append(
                FakeEntry(
                    arxiv_id=item["arxiv_id"],
                    title=f"{item['short']}: a {domain} paper",
                    summary=f"{DOMAIN_ABSTRACTS[domain]} ({item['short']}, part {index}.)",
                    authors=[f"Author{len(entries)} Surname{len(entries)}", "Second Author"],
                    published=published,
                    updated=published + timedelta(days=30),
                    version=2,
                    categories=["cs.AR"] if domain == "chips" else ["cs.LG", "cs.CL"],
                )
            )
    return entries


_CLAUSE = re.compile(r'(?P<field>\w+):(?:"(?P<phrase>[^"]+)"|(?P<word>[^\s()]+))')


class FakeArxiv:
    def __init__(self) -> None:
        self.entries: dict[str, FakeEntry] = {}
        self.statuses: list[int] = []  # answered (and consumed) before any real answer
        self.mode = ""
        self.slow_seconds = 2.0
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- control -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/query"

    def start(self) -> FakeArxiv:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *entries: FakeEntry) -> None:
        for entry in entries:
            self.entries[entry.arxiv_id] = entry

    def reset(self) -> None:
        self.entries.clear()
        self.statuses.clear()
        self.mode = ""
        self.requests.clear()

    # --- the API ---------------------------------------------------------------------------

    def _matches(self, entry: FakeEntry, query: str) -> bool:
        """Evaluate `a AND b OR c` left to right, as a tiny subset of arXiv's query language."""
        tokens = re.split(r"\s+(AND|OR|ANDNOT)\s+", query.strip())
        result = self._clause(entry, tokens[0])
        for op, clause in zip(tokens[1::2], tokens[2::2], strict=False):
            value = self._clause(entry, clause)
            result = (
                result and value
                if op == "AND"
                else result or value
                if op == "OR"
                else result and not value
            )
        return result

    def _clause(self, entry: FakeEntry, clause: str) -> bool:
        match = _CLAUSE.search(clause)
        if not match:
            needle = clause.strip("() ").lower()
            return needle in f"{entry.title} {entry.summary}".lower()
        term = (match["phrase"] or match["word"]).lower()
        fieldname = match["field"]
        if fieldname == "cat":
            return any(cat.lower().startswith(term) for cat in entry.categories)
        haystack = {
            "ti": entry.title,
            "abs": entry.summary,
            "au": " ".join(entry.authors),
        }.get(fieldname, f"{entry.title} {entry.summary}")
        return term in haystack.lower()

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(params)
            if self.statuses:
                return self.statuses.pop(0), b"<html>Service Unavailable</html>"
            mode = self.mode
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if mode == "empty":
            return 200, b""
        if mode == "malformed":
            return (
                200,
                b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv',
            )
        if mode == "not_atom":
            return 200, b"<html><body>maintenance</body></html>"

        ids = [item for item in params.get("id_list", "").split(",") if item]
        query = params.get("search_query", "")
        if ids:
            found = [self.entries[i] for i in ids if i in self.entries]
            if query:
                found = [entry for entry in found if self._matches(entry, query)]
        elif query:
            found = [entry for entry in self.entries.values() if self._matches(entry, query)]
        else:
            found = []
        if params.get("sortBy") == "submittedDate":
            found.sort(
                key=lambda entry: entry.published, reverse=params.get("sortOrder") != "ascending"
            )
        start = int(params.get("start", "0"))
        size = int(params.get("max_results", "10"))
        page = found[start : start + size]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom">'
            '<link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>'
            f'<title type="html">ArXiv Query: {escape(query)}</title>'
            "<id>http://arxiv.org/api/fake</id>"
            f"<updated>{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}</updated>"
            f'<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(found)}</opensearch:totalResults>'
            f'<opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>'
            f'<opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{size}</opensearch:itemsPerPage>'
            + "".join(entry.to_xml() for entry in page)
            + "</feed>"
        )
        return 200, body.encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                if parsed.path != "/api/query":
                    self.send_error(404)
                    return
                params = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
                status, body = fake.answer(params)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
