"""YAML content files, parsed with libyaml where PyYAML was built with it.

The pure-Python parser takes about half a second for the 16-week plan and several seconds
for the knowledge base's question set; libyaml's safe loader reads the same documents to
the same values in a tenth of that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, with libyaml's parser when it is there."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader


def read_yaml(path: Path) -> Any:
    return load_yaml(path.read_text(encoding="utf-8"))
