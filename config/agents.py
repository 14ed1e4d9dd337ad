"""Remote probe agents (agents/): the `agents` section of the app config.

The central system (`app.py run`) accepts probe results from agents on other machines when
`enabled`, on host:port. Each location has its own token; the config holds only the token's
SHA-256 (`app.py agent-token LOCATION` makes a token and prints the line to add), so the config
file never holds a secret. A revoked location is refused like an unknown one.

An outage is the portal's only when its probe fails from at least `quorum` locations (the central's
own probes count as the location `central`); with fewer locations reporting, all of them must
fail. A failure seen from fewer places is that location's trouble and reported as such.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

LOCAL_LOCATION = "central"  # the owner's own probes; the store's default (migration 018)
LOCATION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
Location = Annotated[str, StringConstraints(pattern=LOCATION_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


class AgentLocation(_Strict):
    title: str = Field(default="", max_length=120)  # e.g. "Trung tâm dữ liệu Viettel, Hà Nội"
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    revoked: bool = False


class AgentSideConfig(_Strict):
    """Settings of `app.py agent` on the agent's own machine (the `agents.agent` keys of its config)."""

    spool_mb: int = Field(default=200, ge=1, le=100_000)  # the disk buffer's bound; the oldest dropped past it
    batch_results: int = Field(default=1000, ge=1, le=100_000)  # results per request at most
    max_backoff_seconds: float = Field(default=60, gt=0, le=3600)  # retrying a central that is down
    refused_backoff_seconds: float = Field(default=300, gt=0, le=86400)  # retrying a refused token
    timeout_seconds: float = Field(default=15, gt=0, le=600)  # one request to the central
    stop_grace_seconds: float = Field(default=5, ge=0, le=600)  # sending what waits, when stopped


class AgentsConfig(_Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8091, ge=0, le=65535)
    locations: dict[Location, AgentLocation] = {}
    # failures from at least this many reporting locations make an outage the portal's
    quorum: int = Field(default=2, ge=1, le=50)
    # a location counts as reporting while its newest result is at most this old
    fresh_minutes: float = Field(default=10, gt=0, le=1440)
    max_batch_results: int = Field(default=5000, ge=1, le=100_000)
    max_body_kb: int = Field(default=4096, ge=16, le=65536)
    agent: AgentSideConfig = AgentSideConfig()  # read by `app.py agent` only

    @field_validator("locations")
    @classmethod
    def _not_central(cls, v: dict[str, AgentLocation]) -> dict[str, AgentLocation]:
        if LOCAL_LOCATION in v:
            raise ValueError(f"{LOCAL_LOCATION!r} is the central system's own location, not an agent's")
        return v

    def location_of(self, token: str) -> str | None:
        """The location whose token this is, None when none (or revoked). Constant-time per entry."""
        digest = token_digest(token)
        found = None
        for name, loc in self.locations.items():
            if hmac.compare_digest(digest, loc.token_sha256) and not loc.revoked:
                found = name
        return found

    def needed(self, reporting: int) -> int:
        """How many failing locations make an outage the portal's, with `reporting` locations reporting."""
        return max(1, min(self.quorum, reporting))

    def needed_at(self, locations: Collection[str], own: bool = True) -> int:
        """needed() for a check seen from `locations` (those with a recent result for it). For the
        central's own checks (`own`) the central counts even before its first result, so that what
        an agent buffered while the central was down cannot alone make an outage the portal's."""
        return self.needed(len(set(locations) | ({LOCAL_LOCATION} if own else set())))

    def title(self, location: str, lang: str = "vi") -> str:
        if location == LOCAL_LOCATION:
            return "Máy chủ trung tâm" if lang == "vi" else "Central server"
        loc = self.locations.get(location)
        return (loc.title if loc is not None and loc.title else location)
