"""The vendor's figures against ours: how a dossier counts in the audit and in the sync check.

One home for both rules. The audit's per-dossier listing (store/queries.py) and the recompute's
engine pass (store/sla.py) read them from here: each dossier's audit and sync facts are packed into
two numbers, the audit key beside its SLA result (sla_results.audit_key) and the sync key, which no
rule or as_of changes, in the dossier row (dossiers.fx_sync), and the per-agency month tables the
dashboard adds up (agency_month_audit, agency_month_findings, agency_month_sync) are counted from
those numbers alone, per (agency, key) group, so a refresh never reads the vendor's columns of
every dossier again. What the two numbers take from the dossier row alone (the audit key's head,
the whole sync key) is computed when the row is written and kept in it (store/dossier_facts.py,
stored_facts_sql).

The audit (a dossier counts in the month it was resolved in, or received in when not resolved):
- audited: the engine judged it (status not excluded) and its state is not withdrawn/rejected;
- the kind of disagreement, first that applies (AUDIT_KINDS): the vendor says overdue and we say
  resolved early or on time; the vendor says in time and we say overdue (resolved or pending); the
  vendor gives no due date and we have one; the due dates differ (an office-time deadline to the
  minute, a day-based one by its day); the vendor's status word is known and disagrees with ours;
- the engine's findings (sla_rules.constants FLAGS bits of sla_results.flags), counted in every
  judged dossier, refusals included.
The sync check (resolved dossiers only, in the month of their result): never synced, synced
before the result, or synced with a status other than resolved (SYNC_PROBLEMS).
"""
from __future__ import annotations

import duckdb

from config.vocabulary import EXCLUDED_STATES, RESOLVED_STATES, SLA_STATUSES, quoted_list
from sla_rules.constants import FLAG_NEGATIVE_LATE, FLAGS, month_number_sql, office_time_sql

AUDIT_KINDS = ["reported_overdue_resolved_on_time", "reported_on_time_actually_overdue", "no_reported_due",
               "due_date_differs", "status_differs"]
SYNC_PROBLEMS = ["never_synced", "synced_before_resolution", "status_differs"]
# What the engine found in the vendor's facts (sla_rules.constants.FLAGS: not STOPPED, no finding):
# name -> bit of sla_results.flags. audit_by_agency counts each, audit_findings lists the dossiers.
AUDIT_FINDINGS = {name: bit for bit, (name, _vi, _en) in FLAGS.items()}
FINDINGS_MASK = sum(AUDIT_FINDINGS.values())
AUDIT_COUNTS = ["dossiers", *AUDIT_KINDS, "mismatches", "reported_overdue", "recomputed_overdue"]
FINDING_COUNTS = [*AUDIT_FINDINGS, "findings", "negative_counted_overdue"]
SYNC_COUNTS = ["resolved", "synced_ok", *SYNC_PROBLEMS, "unsynced"]


def _normalised(expr: str) -> str:
    """Status text → '_token_token_': lower case, no diacritics (đ → d), words joined by '_'."""
    return (f"('_' || trim(regexp_replace(strip_accents(replace(lower({expr}), 'đ', 'd')), "
            f"'[^a-z0-9]+', '_', 'g'), '_') || '_')")


# Vendor status wording → our class. First match wins; a pattern matches whole words.
VENDOR_STATUS_CLASSES: list[tuple[str, list[str]]] = [
    ("in_time", ["chua qua han", "khong qua han", "not overdue"]),
    ("overdue", ["qua han", "tre han", "tre hen", "overdue", "late"]),
    ("waiting_supplement", ["bo sung", "supplement"]),
    ("early", ["truoc han", "som han", "early"]),
    ("on_time", ["dung han", "dung hen", "on time", "ontime"]),
    ("in_time", ["trong han", "con han", "chua den han", "in time", "pending", "processing"]),
]
# The dossier's state as sent to the National Public Service Portal → our state class.
SYNC_STATUS_CLASSES: list[tuple[str, list[str]]] = [
    ("processing", ["chua giai quyet", "chua xu ly", "chua tra ket qua", "chua hoan thanh"]),
    ("withdrawn", ["withdrawn", "rut ho so", "da rut", "cong dan rut"]),
    ("rejected", ["rejected", "tu choi", "khong tiep nhan", "khong giai quyet"]),
    ("resolved", ["finished", "returned", "resolved", "completed", "done", "hoan thanh", "da giai quyet",
                  "da xu ly", "tra ket qua", "co ket qua", "da tra"]),
    ("processing", ["processing", "pending", "received", "dang xu ly", "dang giai quyet", "tiep nhan",
                    "bo sung", "dang cho"]),
]


def classify_sql(expr: str, classes: list[tuple[str, list[str]]]) -> str:
    norm = _normalised(expr)
    whens = []
    for cls, patterns in classes:
        cond = " OR ".join(f"contains({norm}, '_{p.replace(' ', '_')}_')" for p in patterns)
        whens.append(f"WHEN {cond} THEN '{cls}'")
    return f"CASE WHEN nullif(trim({expr}), '') IS NULL THEN NULL {' '.join(whens)} ELSE 'unknown' END"


def classes_sql(column: str, classes: list[tuple[str, list[str]]], alias: str, source: str = "dossiers") -> str:
    """Distinct values of <source>.<column> with their class (classify each text once, not per row)."""
    return (f"SELECT status_text, {classify_sql('status_text', classes)} AS {alias} "
            f"FROM (SELECT DISTINCT {column} AS status_text FROM {source})")


# -- the vendor's status word, as bits ------------------------------------------------------------
# Each distinct reported_status text is read as a class (VENDOR_STATUS_CLASSES), numbered 1.. in
# CLASS_NAMES (0: no word). Per class one number: bit i (i an sla_status code) when the vendor's
# word agrees with our status i; then whether it says overdue, says in time (early, on time, in
# time or waiting), and whether it is a word we know at all. No word agrees with everything.
_CODE = {s: i for i, s in enumerate(SLA_STATUSES)}
CLASS_NAMES = ("early", "on_time", "in_time", "overdue", "waiting_supplement", "unknown")
_B_OVERDUE, _B_IN_TIME, _B_KNOWN = 8, 9, 10
_AGREE_ALL = (1 << len(SLA_STATUSES)) - 1
if len(SLA_STATUSES) > _B_OVERDUE or {c for c, _ in VENDOR_STATUS_CLASSES} - set(CLASS_NAMES):
    raise ImportError("store/vendor.py: the vendor classes or our statuses no longer fit the masks")


def _agrees(cls: str, status: str) -> bool:
    if status in ("early", "on_time", "overdue"):
        return cls == status
    if status == "pending_in_time":
        return cls in ("in_time", "on_time")
    if status == "pending_overdue":
        return cls == "overdue"
    if status == "waiting_supplement":
        return cls in ("waiting_supplement", "in_time")
    return True


def _class_mask(cls: str) -> int:
    m = sum(1 << _CODE[s] for s in SLA_STATUSES if _agrees(cls, s))
    m |= (1 << _B_OVERDUE) * (cls == "overdue")
    m |= (1 << _B_IN_TIME) * (cls in ("early", "on_time", "in_time", "waiting_supplement"))
    m |= (1 << _B_KNOWN) * (cls != "unknown")
    return m


def vendor_classes_sql(source: str = "dossiers") -> str:
    """(status_text, reported_class, class_ix) for each distinct reported_status of `source`."""
    whens = " ".join(f"WHEN '{c}' THEN {i + 1}" for i, c in enumerate(CLASS_NAMES))
    return (f"SELECT status_text, reported_class, CAST(CASE reported_class {whens} ELSE 0 END AS INTEGER) AS class_ix "
            f"FROM ({classes_sql('reported_status', VENDOR_STATUS_CLASSES, 'reported_class', source)})")


def class_mask_sql(class_ix: str) -> str:
    """The mask of a class number (0 or NULL: no word, agrees with everything)."""
    whens = " ".join(f"WHEN {i + 1} THEN {_class_mask(c)}" for i, c in enumerate(CLASS_NAMES))
    return f"CASE {class_ix} {whens} ELSE {_AGREE_ALL} END"


# Deadlines compared to the minute (office time) or by the day; µs shifted by a whole number of
# both so that integer division floors for every instant after 1570.
_SHIFT_US = 400 * 365 * 86_400_000_000
MINUTE_US, DAY_US = 60_000_000, 86_400_000_000


def due_bucket_sql(reported_due_us: str, time_unit: str, time_limit: str) -> str:
    """The vendor's due instant as the number of its day (>= 0) or, for an office-time deadline,
    -1 - the number of its minute, of the row alone (NULL when the vendor gave none). Due dates are
    compared to the minute for an office-time deadline, by the day otherwise."""
    return (f"CASE WHEN {office_time_sql(time_unit, time_limit)} "
            f"THEN -1 - ({reported_due_us} + {_SHIFT_US}) // {MINUTE_US} "
            f"ELSE ({reported_due_us} + {_SHIFT_US}) // {DAY_US} END")


def bucket_differs_sql(bucket: str, late_us: str) -> str:
    """The vendor's due instant (its bucket, due_bucket_sql) and ours (the instant before late_from)
    fall in different minutes or days; FALSE when either is missing."""
    ours = f"({late_us} - 1 + {_SHIFT_US})"
    return (f"coalesce(CASE WHEN {bucket} >= 0 THEN {bucket} <> {ours} // {DAY_US} "
            f"ELSE -1 - {bucket} <> {ours} // {MINUTE_US} END, FALSE)")


def audit_facts_sql(mask: str, code: str, no_reported_due: str, has_deadline: str, due_differs: str) -> dict[str, str]:
    """A dossier's audit facts as SQL, from its vendor mask (class_mask_sql), our status (`code`:
    its sla_status code, NULL when not judged) and what is known of the two due dates."""
    def bit(b: int) -> str:
        return f"(({mask} >> {b}) & 1 = 1)"

    in_time = f"{code} IN ({_CODE['early']}, {_CODE['on_time']})"
    our_overdue = f"coalesce({code} IN ({_CODE['overdue']}, {_CODE['pending_overdue']}), FALSE)"
    agrees = f"coalesce((({mask} >> {code}) & 1 = 1), TRUE)"
    kind = f"""CASE
        WHEN {code} IS NULL OR {code} = {_CODE['excluded']} THEN 0
        WHEN {bit(_B_OVERDUE)} AND {in_time} THEN 1
        WHEN {bit(_B_IN_TIME)} AND {our_overdue} THEN 2
        WHEN {no_reported_due} AND {has_deadline} THEN 3
        WHEN {due_differs} THEN 4
        WHEN {bit(_B_KNOWN)} AND NOT {agrees} THEN 5
        ELSE 0 END"""
    return {"our_overdue": our_overdue, "reported_overdue": bit(_B_OVERDUE), "due_differs": due_differs,
            "status_agrees": agrees, "kind_code": kind}


def kind_name_sql(kind_code: str) -> str:
    """AUDIT_KINDS name of a kind code (NULL for 0: no disagreement)."""
    return f"[{', '.join(repr(k) for k in AUDIT_KINDS)}][nullif({kind_code}, 0)]"


# -- audit_key: what the audit needs of a dossier, unclassified ---------------------------------
#   bits 0-4   the findings (flags & FINDINGS_MASK)     bits 5-7   our status's sla_status code
#   bits 8-10  the vendor's class number                bit  11    state withdrawn or rejected
#   bit  12    no reported due date                     bit  13    no deadline of ours
#   bit  14    the due dates differ                     bits 15-30 the audit's month number + 1
# The classification (kind, agreement, audited) is made per (agency, key) group when counting,
# not per dossier: a few hundred thousand groups for ten million dossiers.
_A_CODE, _A_CLASS, _A_EXCL, _A_NO_RDUE, _A_NO_DUE, _A_DIFF, _A_MONTH = 5, 8, 11, 12, 13, 14, 15
if FINDINGS_MASK >= 1 << _A_CODE or len(SLA_STATUSES) > 8 or len(CLASS_NAMES) > 7:
    raise ImportError("store/vendor.py: the audit key's fields no longer fit")


def _audit_decoded(key: str) -> tuple[dict[str, str], str, str, str]:
    """(audit facts, audited, findings, code) of a group's audit_key."""
    def has(b: int) -> str:
        return f"((({key}) >> {b}) & 1 = 1)"

    code = f"((({key}) >> {_A_CODE}) & 7)"
    mask = class_mask_sql(f"((({key}) >> {_A_CLASS}) & 7)")
    f = audit_facts_sql(mask, code, has(_A_NO_RDUE), f"NOT {has(_A_NO_DUE)}", has(_A_DIFF))
    audited = f"({code} <> {_CODE['excluded']} AND NOT {has(_A_EXCL)})"
    return f, audited, f"(({key}) & {FINDINGS_MASK})", code


def audit_counts_sql(groups: str) -> str:
    """SELECT month, agency_code, AUDIT_COUNTS, FINDING_COUNTS from `groups`: (agency_code,
    audit_key, n) rows."""
    f, audited, found, code = _audit_decoded("audit_key")
    # each group's facts decoded once, then summed (the kind's CASE is read by six counts)
    facts = (f"{audited} AS audited, {f['kind_code']} AS kind, {f['reported_overdue']} AS rep_overdue, "
             f"{f['our_overdue']} AS our_overdue, {found} AS found, {code} AS code")
    cols = [("audited", "dossiers"),
            *((f"audited AND kind = {i + 1}", k) for i, k in enumerate(AUDIT_KINDS)),
            ("audited AND kind <> 0", "mismatches"),
            ("audited AND rep_overdue", "reported_overdue"),
            ("audited AND our_overdue", "recomputed_overdue"),
            *((f"(found & {b}) <> 0", name) for name, b in AUDIT_FINDINGS.items()),
            ("found <> 0", "findings"),
            (f"(found & {FLAG_NEGATIVE_LATE}) <> 0 AND code = {_CODE['overdue']}", "negative_counted_overdue")]
    sums = ", ".join(f"CAST(coalesce(sum(n) FILTER (WHERE {c}), 0) AS BIGINT) AS {name}" for c, name in cols)
    return (f"SELECT {_month_of('month_no')} AS month, agency_code, {sums} "
            f"FROM (SELECT agency_code, n, audit_key >> {_A_MONTH} AS month_no, {facts} FROM {groups}) "
            f"GROUP BY month_no, agency_code")


def _month_of(number: str) -> str:
    """DATE of a month number + 1 (0: NULL)."""
    m = f"(nullif({number}, 0) - 1)"
    return f"make_date(CAST({m} // 12 AS INTEGER), CAST({m} % 12 + 1 AS INTEGER), 1)"


# -- sync_key -----------------------------------------------------------------------------------
#   bits 0-1   the problem (0 none, i + 1 for SYNC_PROBLEMS[i])
#   bits 2-21  the source system's number (sla_sources; 0 for none)
#   bits 22-   the result's month number + 1 (0: no result date)
# NULL for a dossier that is not resolved (finished or returned).
_S_SOURCE, _S_MONTH = 2, 22


def sync_problem_sql(synced_at: str, resolved_at: str, synced_resolved: str) -> str:
    """The sync problem code (0 none); `synced_resolved`: the synced status reads as resolved."""
    return (f"CASE WHEN {synced_at} IS NULL THEN 1 WHEN {synced_at} < {resolved_at} THEN 2 "
            f"WHEN NOT coalesce({synced_resolved}, FALSE) THEN 3 ELSE 0 END")


def sync_key_sql(state: str, finished_at: str, returned_at: str, synced_at: str, synced_resolved: str,
                 source_ix: str) -> str:
    resolved_at = f"coalesce({finished_at}, {returned_at})"
    return (f"CASE WHEN {state} IN ({quoted_list(RESOLVED_STATES)}) THEN "
            f"{sync_problem_sql(synced_at, resolved_at, synced_resolved)} "
            f"+ CAST(coalesce({source_ix}, 0) AS BIGINT) * {1 << _S_SOURCE} "
            f"+ CAST(coalesce({month_number_sql(resolved_at)} + 1, 0) AS BIGINT) * {1 << _S_MONTH} END")


def sync_counts_sql(groups: str) -> str:
    """SELECT month, agency_code, source_system, SYNC_COUNTS from `groups`: (agency_code,
    source_system, sync_key, n) rows."""
    problem = "(sync_key & 3)"
    probs = ", ".join(f"CAST(coalesce(sum(n) FILTER (WHERE {problem} = {i + 1}), 0) AS BIGINT) AS {p}"
                      for i, p in enumerate(SYNC_PROBLEMS))
    return (f"SELECT {_month_of(f'(sync_key >> {_S_MONTH})')} AS month, agency_code, source_system, "
            f"CAST(sum(n) AS BIGINT) AS resolved, "
            f"CAST(coalesce(sum(n) FILTER (WHERE {problem} = 0), 0) AS BIGINT) AS synced_ok, {probs}, "
            f"CAST(coalesce(sum(n) FILTER (WHERE {problem} <> 0), 0) AS BIGINT) AS unsynced "
            f"FROM {groups} GROUP BY sync_key >> {_S_MONTH}, agency_code, source_system")


def source_ix_of(key: str) -> str:
    return f"CAST(({key} >> {_S_SOURCE}) & {(1 << (_S_MONTH - _S_SOURCE)) - 1} AS INTEGER)"


# -- the dossier's own facts and the engine pass's columns ------------------------------------------

def classify_words(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Make the TEMP tables that classify the status words of the dossiers in `source` (a relation of
    dossier rows): the vendor's status words and the synced status words, each classified once, and
    number the source systems not numbered yet (sla_sources). WORD_JOINS and WORD_COLUMNS read them
    over `dossiers d`: the vendor's class number, whether the synced status reads resolved, and the
    source system's number."""
    vendor, sync = word_classes_sql(source)
    con.execute(f"CREATE OR REPLACE TEMP TABLE sla_vendor_words AS {vendor}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE sla_sync_words AS {sync}")
    con.execute(f"""INSERT INTO sla_sources
        SELECT coalesce((SELECT max(source_ix) FROM sla_sources), 0) + row_number() OVER (ORDER BY s), s
        FROM (SELECT DISTINCT source_system AS s FROM {source} WHERE source_system IS NOT NULL
              EXCEPT SELECT source_system FROM sla_sources)""")


def word_classes_sql(source: str) -> tuple[str, str]:
    """The SELECTs of classify_words' two tables: the vendor's words with their class number, the
    synced words with whether they read resolved."""
    return (vendor_classes_sql(source),
            f"SELECT status_text, synced_class = 'resolved' AS synced_resolved "
            f"FROM ({classes_sql('synced_status', SYNC_STATUS_CLASSES, 'synced_class', source)})")


# What classify_words gives, over `dossiers d`.
WORD_JOINS = ("LEFT JOIN temp.sla_vendor_words vw ON vw.status_text = d.reported_status "
              "LEFT JOIN temp.sla_sync_words sw ON sw.status_text = d.synced_status "
              "LEFT JOIN sla_sources so ON so.source_system = d.source_system")
WORD_COLUMNS = "vw.class_ix AS vendor_class, sw.synced_resolved, so.source_ix"


def stored_facts_sql() -> dict[str, str]:
    """What both keys need of the dossier row alone, over `d` (a dossiers row with the columns of
    classify_words): the head of audit_key (fx_audit), the vendor's due bucket (fx_rdue) and
    sync_key (fx_sync). Kept in the row
    (store/dossier_facts.py): no rule, calendar or as_of changes them."""
    head = (f"(CAST({month_number_sql('coalesce(d.finished_at, d.returned_at, d.received_at)')} AS INTEGER) + 1) * {1 << _A_MONTH} "
            f"+ coalesce(vendor_class, 0) * {1 << _A_CLASS} "
            f"+ CAST(d.state IN ({quoted_list(EXCLUDED_STATES)}) AS INTEGER) * {1 << _A_EXCL} "
            f"+ CAST(d.reported_due_at IS NULL AS INTEGER) * {1 << _A_NO_RDUE}")
    return {
        "fx_audit": f"CAST({head} AS INTEGER)",
        "fx_rdue": due_bucket_sql("epoch_us(d.reported_due_at)", "d.time_unit", "d.time_limit"),
        "fx_sync": sync_key_sql("d.state", "d.finished_at", "d.returned_at", "d.synced_at", "synced_resolved",
                                "source_ix"),
    }


def early_facts() -> dict[str, str]:
    """The pass's early layer (engine compute_sql `early`, reading the input view as x.*): what
    the audit key needs of the dossier row, from its stored facts."""
    return {"vn_head": "x.fx_audit", "vn_rdue": "x.fx_rdue"}


def audit_key_of_pass() -> str:
    """audit_key over the engine pass's output (status, late_us, flags and the early facts)."""
    return (f"vn_head + (CAST(flags AS INTEGER) & {FINDINGS_MASK}) + CAST(enum_code(status) AS INTEGER) * {1 << _A_CODE} "
            f"+ CAST(late_us IS NULL AS INTEGER) * {1 << _A_NO_DUE} "
            f"+ CAST({bucket_differs_sql('vn_rdue', 'late_us')} AS INTEGER) * {1 << _A_DIFF}")


def write_dashboard_counts(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Rebuild agency_month_audit, agency_month_findings and agency_month_sync from the key counts
    (sla_audit_counts, sla_sync_counts), and mark them as describing run `run_id`."""
    for t in ("agency_month_audit", "agency_month_findings", "agency_month_sync", "dashboard_counts_state"):
        con.execute(f"DELETE FROM {t}")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE audit_month_counts AS {audit_counts_sql(
        "(SELECT a.agency_code, c.audit_key, c.n FROM sla_audit_counts c JOIN sla_agencies a USING (agency_ix))")}""")
    cols, fcols = ", ".join(AUDIT_COUNTS), ", ".join(FINDING_COUNTS)
    con.execute(f"INSERT INTO agency_month_audit (month, agency_code, {cols}) "
                f"SELECT month, agency_code, {cols} FROM temp.audit_month_counts WHERE dossiers > 0")
    con.execute(f"INSERT INTO agency_month_findings (month, agency_code, {fcols}) "
                f"SELECT month, agency_code, {fcols} FROM temp.audit_month_counts WHERE findings > 0")
    con.execute("DROP TABLE temp.audit_month_counts")
    groups = (f"(SELECT a.agency_code, so.source_system, c.sync_key, c.n FROM sla_sync_counts c "
              f"JOIN sla_agencies a USING (agency_ix) "
              f"LEFT JOIN sla_sources so ON so.source_ix = {source_ix_of('c.sync_key')})")
    con.execute(f"INSERT INTO agency_month_sync (month, agency_code, source_system, {', '.join(SYNC_COUNTS)}) "
                f"SELECT month, agency_code, source_system, {', '.join(SYNC_COUNTS)} FROM ({sync_counts_sql(groups)})")
    con.execute("INSERT INTO dashboard_counts_state SELECT $run, count(*), max(dossier_id) FROM dossiers",
                {"run": run_id})
