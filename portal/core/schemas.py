from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field


class TokenRequest(Schema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=4096)
    name: str = Field(default="api", max_length=100)


class TokenOut(Schema):
    token: str
    token_type: str = "Bearer"
    name: str
    created_at: datetime


class MeOut(Schema):
    id: int
    username: str
    email: str


class ErrorOut(Schema):
    detail: str
