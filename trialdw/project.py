"""Where the project lives and what every part of it shares: the repository root,
the site-export domains of the input spec, and the one YAML reader for the
configuration files people edit (study files, data contracts, readiness contract).
"""

from __future__ import annotations

from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The domains of ../shared/spec/site-exports.md, in spec order.
ALL_DOMAINS = ("DM", "SC", "EX", "AE", "TU", "TR", "RS", "LB", "DS", "SS", "CP", "GF")


# libyaml's parser when PyYAML was built with it (the wheels are): the same safe
# constructor, ~10x faster than the pure-Python one on the dbt ymls a night reads.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str):
    """``yaml.safe_load`` of ``text``, with libyaml's parser when there is one."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # a safe loader (CSafeLoader or SafeLoader)


def read_yaml(path: Path, error: type[Exception], what: str):
    """A YAML file's content; a missing or malformed file raises ``error`` with
    a one-line message naming the file (configuration is data a person edits)."""
    try:
        return parse_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read {what} ({' '.join(str(exc).split())})") from exc
