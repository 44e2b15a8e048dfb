from __future__ import annotations

import pytest
from django.core.management import call_command

from portal.curriculum.evidence import reset_providers
from portal.curriculum.models import Item


@pytest.fixture
def plan(db) -> None:
    """The real 16-week plan from the content files."""
    call_command("loadcurriculum", verbosity=0)


@pytest.fixture
def task(plan) -> Item:
    return Item.objects.get(slug="w01-install-python")


@pytest.fixture
def goal(plan) -> Item:
    return Item.objects.get(slug="skill-quantization")


@pytest.fixture(autouse=True)
def _no_leaking_providers():
    """Each test starts with no providers (the apps' own, from ready(), are restored after)."""
    from portal.curriculum import evidence

    saved = (evidence._read_ids, evidence._paper_url, evidence._lab_runs)
    reset_providers()
    yield
    evidence._read_ids, evidence._paper_url, evidence._lab_runs = saved


def review_payload(**overrides) -> dict:
    payload = {
        "completed": ["安装Python 3.10+", "MNIST 模型测试准确率 98.6%"],
        "problems": [
            {"problem": "CUDA 版本与驱动不匹配", "solution": "改装 CPU 版 PyTorch，用 Colab 跑 GPU"}
        ],
        "next_plan": ["装饰器练习", "asyncio 并发请求器"],
        "hours": {"theory": 6, "practice": 8, "papers": 3, "demo": 3},
    }
    payload.update(overrides)
    return payload
