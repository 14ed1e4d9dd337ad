"""Synthetic canonical dossier files, for tests and benchmarks (not demo data: see testbed/).

    python -m imports.sample OUT.csv ROWS [--seed N]

writes a CSV with the canonical columns every export has (config/mapping.py CORE_COLUMNS) of ROWS dossiers, fast enough for a million rows.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

from config.mapping import CORE_COLUMNS
from config.vocabulary import CHANNELS, RESOLVED_STATES

AGENCIES = [("STP", "Sở Tư pháp"), ("SXD", "Sở Xây dựng"), ("STNMT", "Sở Tài nguyên và Môi trường"),
            ("SKHDT", "Sở Kế hoạch và Đầu tư"), ("UBND-TP", "UBND thành phố Quảng Ngãi"),
            ("UBND-BS", "UBND huyện Bình Sơn"), ("SGTVT", "Sở Giao thông vận tải"), ("SYT", "Sở Y tế")]
PROCEDURES = [("1.001", "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", 10, "working_days"),
              ("1.002", "Cấp giấy phép xây dựng", "Hoạt động xây dựng", 15, "working_days"),
              ("1.003", "Đăng ký doanh nghiệp", "Thành lập doanh nghiệp", 3, "working_days"),
              ("1.004", "Chứng thực bản sao", "Chứng thực", 0, "same_day"),
              ("1.005", "Cấp đổi giấy phép lái xe", "Đường bộ", 5, "working_days"),
              ("1.006", "Cấp chứng chỉ hành nghề", "Y tế", 8, "working_hours")]


def dossier_rows(n: int, *, seed: int = 0, start: dt.datetime = dt.datetime(2024, 1, 2, 7, 30),
                 prefix: str = "HS") -> list[list[str]]:
    """`n` valid canonical rows (as text), deterministic for a seed."""
    return list(iter_dossier_rows(n, seed=seed, start=start, prefix=prefix))


def iter_dossier_rows(n: int, *, seed: int = 0, start: dt.datetime = dt.datetime(2024, 1, 2, 7, 30),
                      prefix: str = "HS"):
    rnd = random.Random(seed)
    minutes = 365 * 24 * 60
    fmt = "%Y-%m-%d %H:%M:%S"
    for i in range(n):
        agency = AGENCIES[rnd.randrange(len(AGENCIES))]
        proc = PROCEDURES[rnd.randrange(len(PROCEDURES))]
        received = start + dt.timedelta(minutes=rnd.randrange(minutes))
        state = rnd.choice(("processing", "finished", "returned", "returned", "returned", "withdrawn"))
        finished = returned = ""
        if state in RESOLVED_STATES:
            f = received + dt.timedelta(hours=rnd.randrange(1, 24 * 25))
            finished = f.strftime(fmt)
            if state == "returned":
                returned = (f + dt.timedelta(hours=rnd.randrange(0, 72))).strftime(fmt)
        req = rec = ""
        if rnd.random() < 0.05:
            r1 = received + dt.timedelta(days=rnd.randrange(1, 5))
            req = r1.strftime(fmt)
            rec = (r1 + dt.timedelta(days=rnd.randrange(1, 5))).strftime(fmt)
        yield [
            f"{prefix}{i:09d}", agency[0], agency[1], proc[0], proc[1], proc[2],
            rnd.choice(CHANNELS), received.strftime(fmt), str(proc[3]), proc[4],
            req, rec, "", finished, returned, state,
            (received + dt.timedelta(days=proc[3] + 2)).strftime("%Y-%m-%d"),
            rnd.choice(("on_time", "early", "overdue", "")), rnd.choice(("1.0", "2.0")), "", "",
        ]


def write_dossier_csv(path: Path | str, n: int, *, seed: int = 0, encoding: str = "utf-8",
                      start: dt.datetime = dt.datetime(2024, 1, 2, 7, 30), prefix: str = "HS") -> Path:
    """Write `n` canonical rows (header = the columns every export has)."""
    p = Path(path)
    with p.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CORE_COLUMNS)
        w.writerows(iter_dossier_rows(n, seed=seed, start=start, prefix=prefix))
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("rows", type=int)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    write_dossier_csv(a.out, a.rows, seed=a.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
