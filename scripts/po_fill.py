#!/usr/bin/env python
"""Fill empty msgstr entries of a .po file from a JSON mapping {msgid: msgstr}.

Usage: scripts/po_fill.py path/to/django.po translations.json
Existing translations are kept; the header's "fuzzy" flag is removed so the
catalogue compiles. Then run `make messages` (compilemessages).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path


def _unquote(lines: list[str]) -> str:
    return "".join(ast.literal_eval(line) for line in lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fill(po_path: Path, mapping: dict[str, str]) -> int:
    text = re.sub(
        r'^("[^\n]*"|msgstr .*)\n(#)', r"\1\n\n\2", po_path.read_text(encoding="utf-8"), flags=re.M
    )
    blocks = text.split("\n\n")
    count = 0
    out = []
    for block in blocks:
        lines = block.split("\n")
        if (
            'msgid ""' in lines
            and "#, fuzzy" in lines
            and lines.index("#, fuzzy") < lines.index('msgid ""')
        ):
            lines.remove("#, fuzzy")  # the header: not fuzzy once we translate
        try:
            i = next(n for n, line in enumerate(lines) if line.startswith("msgid "))
            j = next(n for n, line in enumerate(lines) if line.startswith("msgstr "))
        except StopIteration:
            out.append("\n".join(lines))
            continue
        msgid = _unquote([lines[i][len("msgid ") :], *lines[i + 1 : j]])
        end = j + 1
        while end < len(lines) and lines[end].startswith('"'):
            end += 1
        msgstr = _unquote([lines[j][len("msgstr ") :], *lines[j + 1 : end]])
        if msgid and not msgstr and msgid in mapping:
            lines = lines[:j] + ["msgstr " + _quote(mapping[msgid])] + lines[end:]
            lines = [line for line in lines if line != "#, fuzzy"]
            count += 1
        out.append("\n".join(lines))
    po_path.write_text("\n\n".join(out), encoding="utf-8")
    return count


if __name__ == "__main__":
    po, table = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    print(f"{fill(po, table)} entries filled in {po}")
