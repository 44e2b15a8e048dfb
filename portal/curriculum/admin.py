from __future__ import annotations

from django.contrib import admin

from portal.curriculum.models import (
    GuideEntry,
    Item,
    ItemProgress,
    Phase,
    StudyPlan,
    Week,
    WeeklyReview,
)


@admin.register(Phase)
class PhaseAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "focus", "first_week", "last_week", "archived"]


@admin.register(Week)
class WeekAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "phase", "archived"]
    list_filter = ["phase", "archived"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["slug", "kind", "week", "group", "title", "category", "archived"]
    list_filter = ["kind", "category", "archived", "week"]
    search_fields = ["slug", "title", "detail"]


@admin.register(GuideEntry)
class GuideEntryAdmin(admin.ModelAdmin):
    list_display = ["slug", "section", "title", "order", "archived"]
    list_filter = ["section", "archived"]


@admin.register(ItemProgress)
class ItemProgressAdmin(admin.ModelAdmin):
    list_display = ["user", "item", "done", "done_at"]
    list_filter = ["done"]
    raw_id_fields = ["user", "item"]


@admin.register(StudyPlan)
class StudyPlanAdmin(admin.ModelAdmin):
    list_display = ["user", "start_date"]


@admin.register(WeeklyReview)
class WeeklyReviewAdmin(admin.ModelAdmin):
    list_display = ["user", "week", "updated_at"]
    raw_id_fields = ["user"]
