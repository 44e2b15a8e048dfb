"""HNSW vs exact search over N synthetic 384-d vectors in pgvector (the knowledge base's index).

Prints, per ef_search, the p50/p95 query time and recall@10 against exact search measured in
the same run, and the speed-up over exact search. Target: p95 < 20 ms at recall@10 >= 0.95.

    .venv/bin/python bench/feishu_hnsw.py [--n 100000] [--queries 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _feishu_setup import setup_django

TABLE = "feishu_bench_hnsw"
DIM = 384


def synthetic(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    """Clustered unit vectors (topics), like passage embeddings, not uniform noise."""
    labels = rng.integers(0, len(centers), n)
    # Noise of norm ~0.5 around each topic centre: neighbours share a topic, as real
    # passage embeddings do (uniform random 384-d vectors have no meaningful neighbours).
    noise = rng.normal(0, 0.5 / np.sqrt(DIM), (n, DIM)).astype(np.float32)
    vecs = centers[labels] + noise
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    args = parser.parse_args()

    services = setup_django()
    from django.db import connection
    from pgvector.psycopg import register_vector

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(1000, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    data = synthetic(args.n, rng, centers)
    queries = synthetic(args.queries, rng, centers)

    try:
        connection.ensure_connection()
        conn = connection.connection
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.commit()
        register_vector(conn)
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
            cur.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, embedding vector({DIM}))")
            t0 = time.perf_counter()
            with cur.copy(f"COPY {TABLE} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector"])
                for i, vec in enumerate(data):
                    copy.write_row((i, vec))
            load_s = time.perf_counter() - t0
            cur.execute("SET maintenance_work_mem = '2GB'")
            t0 = time.perf_counter()
            # Same parameters as the knowledge base's feishu_chunk_embedding_hnsw index.
            cur.execute(
                f"CREATE INDEX {TABLE}_hnsw ON {TABLE} USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 16, ef_construction = 64)"
            )
            build_s = time.perf_counter() - t0
            cur.execute(f"ANALYZE {TABLE}")
            conn.commit()

            sql = f"SELECT id FROM {TABLE} ORDER BY embedding <=> %s LIMIT 10"

            def run(q: np.ndarray) -> tuple[float, list[int]]:
                start = time.perf_counter()
                cur.execute(sql, (q,))
                ids = [r[0] for r in cur.fetchall()]
                return (time.perf_counter() - start) * 1000, ids

            # Exact search: no index scan, the baseline for recall and for speed.
            cur.execute("SET enable_indexscan = off")
            exact_ms, truth = [], []
            for q in queries:
                ms, ids = run(q)
                exact_ms.append(ms)
                truth.append(set(ids))
            cur.execute("SET enable_indexscan = on")
            cur.execute(
                f"EXPLAIN SELECT id FROM {TABLE} ORDER BY embedding <=> %s LIMIT 10", (queries[0],)
            )
            plan = " ".join(r[0] for r in cur.fetchall())
            assert f"{TABLE}_hnsw" in plan, plan

            rows = []
            exact_p95 = float(np.percentile(exact_ms, 95))
            for ef in args.ef:
                cur.execute(f"SET hnsw.ef_search = {ef}")
                p50s, p95s, recalls = [], [], []
                for _ in range(args.repeats):
                    times, hits = [], 0
                    for q, want in zip(queries, truth, strict=True):
                        ms, ids = run(q)
                        times.append(ms)
                        hits += len(want & set(ids))
                    p50s.append(float(np.percentile(times, 50)))
                    p95s.append(float(np.percentile(times, 95)))
                    recalls.append(hits / (10 * len(queries)))
                rows.append(
                    (
                        ef,
                        statistics.median(p50s),
                        statistics.median(p95s),
                        statistics.median(recalls),
                    )
                )
            cur.execute(f"DROP TABLE {TABLE}")
            conn.commit()
    finally:
        connection.close()
        services.stop()

    print(
        f"pgvector HNSW (m=16, ef_construction=64), {args.n:,} x {DIM}-d cosine, {args.queries} queries, "
        f"median of {args.repeats} runs; load {load_s:.1f} s, index build {build_s:.1f} s"
    )
    print(
        f"{'search':>14} | {'p50 ms':>7} | {'p95 ms':>7} | {'recall@10':>9} | {'p95 speed-up':>12} | target"
    )
    print("-" * 74)
    print(
        f"{'exact (seq)':>14} | {np.percentile(exact_ms, 50):7.2f} | {exact_p95:7.2f} | {1.0:9.3f} | {1.0:11.1f}x |"
    )
    for ef, p50, p95, recall in rows:
        ok = "ok" if p95 < 20 and recall >= 0.95 else "-"
        print(
            f"{'ef_search=' + str(ef):>14} | {p50:7.2f} | {p95:7.2f} | {recall:9.3f} | {exact_p95 / p95:11.1f}x | {ok}"
        )


if __name__ == "__main__":
    main()
