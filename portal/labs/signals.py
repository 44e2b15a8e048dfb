"""Signals of the labs platform, for other apps to connect to from their AppConfig.ready()."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once a run reached a finished status (succeeded, failed, cancelled, lost), after the
# transaction that stored it committed, with `run` (the Run as saved). Receivers run in the
# process that finished the run (usually a worker); their errors are logged, never raised.
run_finished = Signal()
