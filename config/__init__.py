"""Validated configuration types (pydantic) and the YAML files that ship as defaults.

Every concept is a small config type with its own tests, in the manner of Gatus's config tree.
The YAML files next to this module are the embedded defaults.
"""
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


def default_path(*parts: str) -> Path:
    """Path of a file shipped in the config package (rules, calendars, mappings)."""
    return CONFIG_DIR.joinpath(*parts)
