"""The process table, read from /proc: what a test checks to say nothing was left running."""

from __future__ import annotations

from pathlib import Path


def processes() -> list[dict]:
    """The process table from /proc: pid, parent, process group, state and command line."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # it ended while we looked
            continue
        # the command name in parentheses may hold spaces: split after the last ")"
        state, ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        table.append(
            {
                "pid": int(entry.name),
                "ppid": int(ppid),
                "pgrp": int(pgrp),
                "state": state,
                "cmd": cmdline,
            }
        )
    return table


def live_in_group(pgrp: int) -> list[dict]:
    return [p for p in processes() if p["pgrp"] == pgrp and p["state"] != "Z"]
