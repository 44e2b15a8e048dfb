from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field


class SafeguardOut(Schema):
    key: str
    title: str
    explanation: str


class KernelOut(Schema):
    name: str
    title: str
    summary: str
    bytes: str
    flops: str


class ImplOut(Schema):
    name: str
    title: str
    summary: str


class SuiteOut(Schema):
    kernels: list[KernelOut]
    impls: list[ImplOut]
    safeguards: list[SafeguardOut]


class SweepOut(Schema):
    id: int
    source: str
    status: str
    run_id: int | None
    device: str
    device_name: str
    started_at: datetime
    finished_at: datetime | None
    peaks: dict[str, Any]
    notes: list[str]


class SweepDetailOut(SweepOut):
    points: list[dict[str, Any]]


# --- kernel submissions -----------------------------------------------------------------------


class ProblemOut(Schema):
    name: str
    title: str
    signature: str
    shape_names: list[str]
    test_shapes: list[list[int]]
    bench_shapes: dict[str, list[list[int]]]
    dtypes: list[str]
    tolerances: dict[str, dict[str, float]]
    languages: list[str]
    templates: dict[str, str]
    week: int


class SubmissionIn(Schema):
    problem: Literal["vector_add", "softmax", "layer_norm", "matmul", "attention"]
    dtype: Literal["float32", "float16", "bfloat16"]
    language: Literal["pytorch", "triton", "cpp"]
    source: str = Field(min_length=1)


class SubmissionOut(Schema):
    id: int
    run_id: int | None
    problem: str
    dtype: str
    language: str
    verdict: str
    score_ms: float | None
    device: str
    flagged: bool
    review: str
    review_note: str
    created_at: datetime
    graded_at: datetime | None


class SubmissionDetailOut(SubmissionOut):
    source: str
    result: dict[str, Any]


class ReviewIn(Schema):
    decision: Literal["accept", "reject"]
    note: str = Field(default="", max_length=500)


class ReviewOut(SubmissionDetailOut):
    username: str
    reviewed_at: datetime | None

    @staticmethod
    def resolve_username(obj: Any) -> str:
        return obj.owner.get_username()


class LeaderboardRowOut(Schema):
    rank: int | None
    username: str
    score_ms: float
    run_id: int | None
    submission_id: int | None
    language: str
    reference: bool
    created_at: datetime | None


class LeaderboardOut(Schema):
    problem: str
    device: str
    dtype: str
    devices: list[str]
    rows: list[LeaderboardRowOut]
