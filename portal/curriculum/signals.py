"""Signals other apps may listen to without the curriculum importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by `load_content` inside its transaction, with `content` (the validated Content):
# the papers app re-derives each paper's curriculum weeks from the readings.
content_loaded = Signal()
