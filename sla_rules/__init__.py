"""SLA engine: working-day calendar, rule set and the set-based SQL deadline computation.

    engine = SlaEngine.from_files(rule_set_path, calendar_override_paths)
    engine.install(con)
    sql = engine.compute_sql("relation", as_of)

See sla_rules/engine.py for the rules and sla_rules/explain.py for `sla explain`.
"""
from sla_rules.engine import OUTPUT_COLUMNS, STATUSES, SlaEngine

__all__ = ["OUTPUT_COLUMNS", "STATUSES", "SlaEngine"]
