from __future__ import annotations

from ninja import Schema


class RewardOut(Schema):
    name: str
    description: str
