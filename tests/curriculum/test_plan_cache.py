"""The plan's structure is read once per process and reloaded as soon as it changes anywhere."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction

from portal.curriculum.models import Week
from portal.curriculum.plan import VERSION_KEY, plan_structure

# Outside a test transaction: the cache is only used for committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def _rename_week(number: int, title: str) -> None:
    week = Week.objects.get(number=number)
    week.title = title
    week.save()


def test_the_plan_structure_is_kept_until_a_week_changes(plan):
    first = plan_structure()
    assert len(first.weeks) == 16 and first.item_totals
    assert plan_structure() is first  # no database read while it is current

    _rename_week(10, "Renamed week")

    second = plan_structure()
    assert second is not first
    assert second.week(10).title == "Renamed week"


def test_another_process_changing_the_plan_makes_this_one_reload(plan):
    first = plan_structure()
    cache.set(VERSION_KEY, "written-by-another-process", timeout=None)
    assert plan_structure() is not first


def test_loadcurriculum_makes_every_process_reload(plan):
    _rename_week(3, "Edited by hand")
    assert plan_structure().week(3).title == "Edited by hand"
    call_command("loadcurriculum", verbosity=0)
    assert plan_structure().week(3).title != "Edited by hand"


def test_inside_a_transaction_the_plan_is_read_fresh_and_a_rollback_leaves_no_trace(plan):
    before = plan_structure().week(10).title
    with transaction.atomic():
        _rename_week(10, "Not committed")
        assert plan_structure().week(10).title == "Not committed"
        transaction.set_rollback(True)
    assert plan_structure().week(10).title == before


def test_the_plan_page_shows_an_edited_week_at_once(plan, owner_client):
    assert owner_client.get("/curriculum/").status_code == 200  # fills this process's copy
    _rename_week(10, "Fresh title")
    assert "Fresh title" in owner_client.get("/curriculum/").content.decode()
    assert "Fresh title" in owner_client.get("/curriculum/weeks/10/").content.decode()
