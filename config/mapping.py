"""Column mapping for dossier imports: header aliases and value maps (config/mappings/*.yaml).

Officials export dossiers from the portal as Excel/CSV files with Vietnamese headers ("Mã hồ sơ",
"Ngày tiếp nhận", ...) and Vietnamese values ("Đã trả kết quả", "Trực tuyến", ...). A mapping file
says which header means which canonical column and which value means which canonical value.
Headers and values are matched after `normalize_label`: trimmed, case- and diacritic-insensitive,
punctuation folded to single spaces ("Cơ quan / Đơn vị" == "co quan don vi").

Personal-data columns are recognised by `personal_data` patterns *in addition to* a built-in list
that a mapping file cannot switch off (BUILTIN_PERSONAL_DATA below).
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config import default_path
from config.errors import load_yaml_model
from config.vocabulary import CHANNELS, DOSSIER_STATES, EVENT_KINDS, REPORTED_STATUSES, TIME_UNITS

DEFAULT_MAPPING = default_path("mappings", "vi-igate.yaml")

# What an export may say for the 766 scorecard (config/index766.yaml): optional, an export without
# them imports as before and leaves them NULL (not known). Yes/no columns read their words through
# the mapping's `values.boolean`; the rating is a whole number on config.vocabulary's RATING scale.
BOOLEAN_COLUMNS: tuple[str, ...] = ("paid_online", "dossier_digitised", "result_digitised")
RATING_COLUMNS: tuple[str, ...] = ("satisfaction_rating",)
BOOLEAN_VALUES: tuple[str, ...] = ("true", "false")

# Contract (1): canonical dossier columns, in file order.
DOSSIER_COLUMNS: tuple[str, ...] = (
    "dossier_code", "agency_code", "agency_name", "procedure_code", "procedure_name", "field", "channel",
    "received_at", "time_limit", "time_unit", "supplement_requested_at", "supplement_received_at",
    "extended_due_at", "finished_at", "returned_at", "state", "reported_due_at", "reported_status",
    "source_system", "synced_at", "synced_status",
    *BOOLEAN_COLUMNS, *RATING_COLUMNS,
)
# The columns every export has: the optional 766 inputs left out.
CORE_COLUMNS: tuple[str, ...] = tuple(c for c in DOSSIER_COLUMNS if c not in (*BOOLEAN_COLUMNS, *RATING_COLUMNS))
EVENT_COLUMNS: tuple[str, ...] = ("dossier_code", "event", "at", "detail")

# Canonical values of the enumerated columns (config/vocabulary.py).
ENUMS: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS,
    "time_unit": TIME_UNITS,
    "state": DOSSIER_STATES,
    # The vendor's own verdict, kept to audit it; unmapped values are kept as they are.
    "reported_status": REPORTED_STATUSES,
    # Dossier events; unmapped event names are kept (trimmed) as they are.
    "event": EVENT_KINDS,
}
MAPPED_VALUE_COLUMNS = tuple(ENUMS)


def canonical_values(column: str) -> tuple[str, ...]:
    """The canonical values of a mapped value table: an enumerated column's, or `boolean`'s."""
    return BOOLEAN_VALUES if column == "boolean" else ENUMS[column]

_PUNCT = re.compile(r"[^0-9a-z]+")


# Personal data is recognised by these header patterns whatever the mapping file says: the words of
# a pattern appearing consecutively in the normalised header mark the column as personal data.
BUILTIN_PERSONAL_DATA: tuple[str, ...] = (
    # Vietnamese
    "họ tên", "họ và tên", "tên người", "người nộp", "người đứng tên", "chủ hồ sơ", "công dân",
    "cá nhân", "người yêu cầu", "người đề nghị", "người nhận", "người được", "cmnd", "cmt", "cccd",
    "căn cước", "chứng minh", "số giấy tờ", "giấy tờ tùy thân", "giấy tờ tuỳ thân", "định danh",
    "hộ chiếu", "điện thoại", "sđt", "đt", "di động", "địa chỉ", "nơi cư trú", "thường trú", "tạm trú",
    "thư điện tử", "ngày sinh", "năm sinh", "giới tính", "mã số thuế",
    # English
    "applicant", "citizen", "full name", "person", "owner", "id number", "id no", "id card",
    "identity", "national id", "passport", "phone", "telephone", "mobile", "tel", "address",
    "email", "e mail", "birth", "gender", "tax code",
)


def is_personal_header(header: str, extra_patterns: list[str] | tuple[str, ...] = ()) -> bool:
    """True when a header names personal data (built-in patterns + `extra_patterns`)."""
    words = normalize_label(header).split()
    if not words:
        return False
    padded = " " + " ".join(words) + " "
    for pattern in (*BUILTIN_PERSONAL_DATA, *extra_patterns):
        p = normalize_label(pattern)
        if p and f" {p} " in padded:
            return True
    return False


def normalize_label(text: object) -> str:
    """Fold a header or value for matching: no diacritics, lower case, punctuation -> one space.

    >>> normalize_label("  Cơ quan / Đơn vị ")
    'co quan don vi'
    """
    s = str(text).replace("đ", "d").replace("Đ", "D")
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return _PUNCT.sub(" ", s.lower()).strip()


class ColumnMapping(BaseModel):
    """A header/value mapping (type of config/mappings/*.yaml)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    description: str = ""
    # canonical column -> header aliases (the canonical name itself always matches).
    columns: dict[str, list[str]] = Field(default_factory=dict)
    # canonical event-file column -> header aliases.
    event_columns: dict[str, list[str]] = Field(default_factory=dict)
    # Extra header patterns that mark personal data (matched as whole words inside the header).
    personal_data: list[str] = Field(default_factory=list)
    # column -> {source value: canonical value}; columns: channel, time_unit, state, reported_status, event,
    # and `boolean` (the words of every yes/no column, BOOLEAN_COLUMNS: "true" or "false").
    values: dict[Literal["channel", "time_unit", "state", "reported_status", "event", "boolean"], dict[str, str]] = Field(
        default_factory=dict
    )

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(v) - set(DOSSIER_COLUMNS))
        if unknown:
            raise ValueError(f"unknown canonical column(s) {unknown}; known: {', '.join(DOSSIER_COLUMNS)}")
        return v

    @field_validator("event_columns")
    @classmethod
    def _known_event_columns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(v) - set(EVENT_COLUMNS))
        if unknown:
            raise ValueError(f"unknown event column(s) {unknown}; known: {', '.join(EVENT_COLUMNS)}")
        return v

    @field_validator("values")
    @classmethod
    def _known_values(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for col, table in v.items():
            allowed = canonical_values(col)
            bad = sorted({str(t) for t in table.values() if t not in allowed})
            if bad:
                raise ValueError(f"{col}: unknown canonical value(s) {bad}; allowed: {', '.join(allowed)}")
        return v

    @model_validator(mode="after")
    def _no_ambiguity(self) -> "ColumnMapping":
        for kind, table, canon in (("columns", self.columns, DOSSIER_COLUMNS),
                                   ("event_columns", self.event_columns, EVENT_COLUMNS)):
            seen: dict[str, str] = {normalize_label(c): c for c in canon}
            for col, aliases in table.items():
                for alias in aliases:
                    key = normalize_label(alias)
                    if not key:
                        raise ValueError(f"{kind}.{col}: empty alias")
                    if seen.get(key, col) != col:
                        raise ValueError(f"{kind}: alias {alias!r} is given for both {seen[key]} and {col}")
                    seen[key] = col
                    if is_personal_header(key, self.personal_data):
                        raise ValueError(
                            f"{kind}.{col}: alias {alias!r} looks like a personal-data column; "
                            "personal data is never imported"
                        )
        for col, table in self.values.items():
            seen_v: dict[str, str] = {}
            for raw, canon_v in table.items():
                key = normalize_label(raw)
                if seen_v.get(key, canon_v) != canon_v:
                    raise ValueError(f"values.{col}: {raw!r} maps to both {seen_v[key]} and {canon_v}")
                seen_v[key] = canon_v
        return self

    # -- lookups (normalised) ------------------------------------------------------------------
    def header_index(self, kind: Literal["dossiers", "events"] = "dossiers") -> dict[str, str]:
        """normalised header -> canonical column."""
        canon, table = (DOSSIER_COLUMNS, self.columns) if kind == "dossiers" else (EVENT_COLUMNS, self.event_columns)
        out = {normalize_label(c): c for c in canon}
        for col, aliases in table.items():
            for alias in aliases:
                out[normalize_label(alias)] = col
        return out

    def value_index(self, column: str) -> dict[str, str]:
        """normalised source value -> canonical value (canonical values map to themselves)."""
        out = {normalize_label(v): v for v in canonical_values(column)}
        for raw, canon in self.values.get(column, {}).items():  # type: ignore[call-overload]
            out[normalize_label(raw)] = canon
        return out


def load_mapping(path: Path | str | None = None) -> ColumnMapping:
    """Load a mapping file (default: the shipped config/mappings/vi-igate.yaml)."""
    return load_yaml_model(ColumnMapping, path or DEFAULT_MAPPING)
