"""The compliance register: Thông tư 22/2019/TT-BTTTT criteria judged from motcua-watch's own
evidence, and agencies' requests with the evidence that each fix was made.

Library surface (every function takes `ops`: a Motcua or a RemoteOps, anything with
`.query(name, **params)`; see docs/ARCHITECTURE.md, "Compliance register"):

    Period.parse(from_, to)                          the chosen period (dates, inclusive)
    register(ops, period, lang='vi')                 the whole register: criteria, requests, summary
    register_rows(ops, period, lang='vi')            one dict per criterion (status, since, numbers)
    request_rows(ops, lang='vi')                     one dict per request (status, evidence, holds)
    briefing_section(ops, period, lang='vi')         title, paragraphs and a table for the monthly briefing
    write_xlsx(ops, period, path, lang='vi')         the register as an XLSX workbook

Writes go through `ops.compliance(action, **params)` (compliance/actions.py), performed by the
store's owner: add_request, update_request, answer_request, attach_check, attach_file,
resolve_request, judge_criterion, import_requests. None of them edits or deletes history.
"""
from compliance.period import Period
from compliance.register import register, register_rows, request_rows

__all__ = ["Period", "register", "register_rows", "request_rows", "briefing_section", "write_xlsx"]


def briefing_section(ops, period, lang: str = "vi"):
    from compliance.export import briefing_section as _b

    return _b(ops, period, lang=lang)


def write_xlsx(ops, period, path, lang: str = "vi"):
    from compliance.export import write_xlsx as _w

    return _w(ops, period, path, lang=lang)
