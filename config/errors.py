"""The project's error base, and turning pydantic/YAML failures into messages an operator can act on."""
from __future__ import annotations

from pathlib import Path

import yaml
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class MotcuaError(Exception):
    """A failure the person running the program can act on, said in one plain message: app.py
    prints "error: <message>" and exits with 2, with no stack trace. Every part's own errors
    derive from it; anything else is unexpected (logged with its stack, exit 1)."""

    message_vi: str = ""  # the same message in Vietnamese, where one was written

    def text(self, lang: str = "en") -> str:
        """The message in `lang` (English when no Vietnamese one was written)."""
        return self.message_vi if lang == "vi" and self.message_vi else str(self)


class ConfigError(MotcuaError):
    """A configuration file is missing, unreadable or invalid. The message is for humans."""


def describe_validation(path: Path | str, err: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  - {loc}: {e['msg']}")
    return "\n".join(lines)


def load_yaml_model(model: type[M], path: Path | str, *, missing_ok: bool = False) -> M:
    """Load a YAML file into a pydantic model, raising ConfigError with file and field names."""
    p = Path(path)
    if not p.exists():
        if missing_ok:
            return model()
        raise ConfigError(f"{p}: file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except ValueError as e:  # e.g. an impossible date such as 2026-13-01 (PyYAML raises ValueError)
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of settings at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(describe_validation(p, e)) from None
