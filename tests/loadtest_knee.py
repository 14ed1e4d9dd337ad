"""The knee set-up both the load-test runs and the Vendor page's tests use: a test-only portal
profile with 2 workers and 50 ms per search (at most 40 searches/s; users wait 0.2 s, so the pool
saturates at 2 × (0.2 + 0.05) / 0.05 = 10 users) and a step scenario `knee` of 24 users over it."""
from __future__ import annotations

import textwrap
from pathlib import Path

from config.portal import EndpointTiming, PortalProfile, load_profile
from config.probes import DEFAULT_PROBES

SATURATION_USERS = 10


def knee_profile() -> PortalProfile:
    return load_profile("v1.0").model_copy(update={
        "workers": 2, "endpoints": {"procedure_search": EndpointTiming(service_ms=50)}})


def knee_file(tmp: Path, generator: str = "{interval: 0.5}") -> Path:
    """The load-test file holding the scenario `knee`; `generator` is its generator section (YAML)."""
    f = tmp / "knee.yaml"
    f.write_text(textwrap.dedent(f"""
        generator: {generator}
        shapes: {{knee: {{kind: step, duration: 12, steps: 6}}}}
        scenarios:
          knee:
            portal: {DEFAULT_PROBES}
            shape: knee
            users: 24
            user_classes:
              - name: citizen
                wait: {{constant: 0.2}}
                tasks: [{{name: search, check: procedure-search-api}}]
        """), encoding="utf-8")
    return f
