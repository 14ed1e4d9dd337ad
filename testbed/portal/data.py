"""In-memory data of the simulated portal: procedures, accounts, dossiers (seeded, deterministic).

Nothing here is a real person: accounts are fictional user names, and submissions keep only the
uploaded file's size and SHA-256, never its content or any applicant's personal data.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
import threading
from dataclasses import dataclass, field

from config.vocabulary import CHANNELS, TimeUnit

# The day v2.0 went live (06/2022): seeded dossiers received before it were received under v1.0.
UPGRADE_AT = dt.datetime(2022, 6, 1, 0, 0)
SEED = 20220601


def _object_id(code: str) -> str:
    """A 24-hex id in the manner of iGate's MongoDB ids, derived from the procedure code."""
    return hashlib.sha1(code.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    field: str
    agency_code: str
    agency_name: str
    time_limit: float
    time_unit: TimeUnit
    online_level: str  # full | partial | none
    fee_vnd: int = 0

    @property
    def id(self) -> str:
        return _object_id(self.code)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "code": self.code, "name": self.name, "field": self.field,
            "agency_code": self.agency_code, "agency_name": self.agency_name,
            "time_limit": self.time_limit, "time_unit": self.time_unit,
            "online_level": self.online_level, "fee_vnd": self.fee_vnd,
        }


# Real procedure names (codes as in testbed/reference/quang_ngai.yaml; 'QNG-...' are local demo codes).
PROCEDURES: tuple[Procedure, ...] = (
    Procedure("QNG-LLTP-001", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
              "Lý lịch tư pháp", "QNG.STP", "Sở Tư pháp", 10, "calendar_days", "full", 200_000),
    Procedure("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp hoặc chứng nhận",
              "Chứng thực", "QNG.STP", "Sở Tư pháp", 1, "same_day", "partial", 2_000),
    Procedure("1.001193", "Đăng ký khai sinh", "Hộ tịch", "QNG.P.CAMTHANH", "UBND phường Cẩm Thành",
              1, "same_day", "full"),
    Procedure("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch", "QNG.P.CAMTHANH", "UBND phường Cẩm Thành",
              3, "working_days", "full"),
    Procedure("QNG-HKD-001", "Đăng ký thành lập hộ kinh doanh", "Đăng ký kinh doanh", "QNG.P.CAMTHANH",
              "UBND phường Cẩm Thành", 3, "working_days", "full", 100_000),
    Procedure("QNG-DN-001", "Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên", "Đăng ký kinh doanh",
              "QNG.STC", "Sở Tài chính", 3, "working_days", "full", 50_000),
    Procedure("QNG-DD-003", "Cấp đổi Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
              "Đất đai", "QNG.SNNMT", "Sở Nông nghiệp và Môi trường", 7, "working_days", "partial"),
    Procedure("QNG-DD-005", "Đăng ký thế chấp quyền sử dụng đất, tài sản gắn liền với đất", "Đất đai",
              "QNG.SNNMT", "Sở Nông nghiệp và Môi trường", 8, "working_hours", "full", 80_000),
    Procedure("QNG-XD-001", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "Xây dựng", "QNG.SXD",
              "Sở Xây dựng", 15, "working_days", "partial", 75_000),
    Procedure("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", "Chứng thực", "QNG.STP", "Sở Tư pháp",
              1, "same_day", "none", 10_000),
)
PROCEDURES_BY_ID = {p.id: p for p in PROCEDURES}


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str  # citizen | officer
    registered_under: str  # release the account was registered under: v1.0 | v2.0
    agency_code: str | None = None  # officers only


# Fictional accounts (no personal data). Tests and load scripts log in with these.
ACCOUNTS: tuple[Account, ...] = (
    Account("congdan.v1", "MatKhau@2021", "citizen", "v1.0"),
    Account("congdan2.v1", "MatKhau@2021", "citizen", "v1.0"),
    Account("congdan.v2", "MatKhau@2022", "citizen", "v2.0"),
    Account("congdan2.v2", "MatKhau@2022", "citizen", "v2.0"),
    Account("canbo.stp", "CanBo@2022", "officer", "v2.0", "QNG.STP"),
    Account("canbo.camthanh", "CanBo@2022", "officer", "v1.0", "QNG.P.CAMTHANH"),
)
ACCOUNTS_BY_NAME = {a.username: a for a in ACCOUNTS}

# The states as the simulated vendor's pages word them: its own words, not the monitor's.
STATE_LABELS = {
    "processing": ("Đang xử lý", "Processing"),
    "finished": ("Đã có kết quả", "Finished"),
    "returned": ("Đã trả kết quả", "Returned"),
    "withdrawn": ("Đã rút hồ sơ", "Withdrawn"),
    "rejected": ("Từ chối tiếp nhận", "Rejected"),
}


@dataclass
class Dossier:
    code: str
    procedure_id: str
    agency_code: str
    channel: str  # online | direct | postal
    received_at: dt.datetime
    received_release: str
    state: str = "processing"
    due_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    owner: str | None = None  # account user name for online submissions
    file_sha256: str | None = None
    file_size: int | None = None

    @property
    def procedure(self) -> Procedure:
        return PROCEDURES_BY_ID[self.procedure_id]

    def to_dict(self) -> dict:
        p = self.procedure
        return {
            "dossier_code": self.code, "procedure_id": p.id, "procedure_code": p.code,
            "procedure_name": p.name, "agency_code": self.agency_code, "agency_name": p.agency_name,
            "channel": self.channel, "received_at": _iso(self.received_at),
            "received_release": self.received_release, "state": self.state,
            "state_label": STATE_LABELS[self.state][0], "due_at": _iso(self.due_at),
            "finished_at": _iso(self.finished_at),
        }


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat(sep=" ", timespec="seconds") if t else None


def dossier_code(agency_code: str, received_at: dt.datetime, seq: int) -> str:
    """iGate-like code: H48 is Quảng Ngãi's prefix in the national agency codes."""
    unit = hashlib.sha1(agency_code.encode()).hexdigest()[:2].upper()
    return f"000.00.{unit}.H48-{received_at:%y%m%d}-{seq:04d}"


def seed_dossiers(n: int = 60, seed: int = SEED) -> list[Dossier]:
    """Deterministic dossiers from 05/2022 to 07/2022, about a third received under v1.0."""
    rng = random.Random(seed)
    start = dt.datetime(2022, 5, 2, 7, 30)
    out: list[Dossier] = []
    for i in range(n):
        p = PROCEDURES[i % len(PROCEDURES)]
        received = start + dt.timedelta(days=(i * 90) // n, minutes=rng.randrange(0, 8 * 60))
        release = "v1.0" if received < UPGRADE_AT else "v2.0"
        d = Dossier(
            code=dossier_code(p.agency_code, received, i + 1), procedure_id=p.id,
            agency_code=p.agency_code, channel=CHANNELS[rng.randrange(len(CHANNELS))],
            received_at=received, received_release=release,
            due_at=received + dt.timedelta(days=max(1, int(p.time_limit)) + 2),
        )
        r = rng.random()
        if r < 0.7:
            d.state = "finished"
            d.finished_at = received + dt.timedelta(days=rng.randrange(0, 6), hours=rng.randrange(1, 8))
        elif r < 0.75:
            d.state = "withdrawn"
        out.append(d)
    return out


@dataclass
class Portal:
    """The portal's data. All mutation goes through the lock (the server may run several threads)."""

    dossiers: dict[str, Dossier] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def seeded(cls) -> "Portal":
        p = cls()
        for d in seed_dossiers():
            p.dossiers[d.code] = d
        return p

    def submit(self, procedure: Procedure, owner: str, release: str, now: dt.datetime,
               file_sha256: str, file_size: int) -> Dossier:
        with self.lock:
            seq = 9000 + next(self._seq)
            d = Dossier(
                code=dossier_code(procedure.agency_code, now, seq), procedure_id=procedure.id,
                agency_code=procedure.agency_code, channel="online", received_at=now,
                received_release=release, owner=owner, file_sha256=file_sha256, file_size=file_size,
                due_at=now + dt.timedelta(days=max(1, int(procedure.time_limit)) + 2),
            )
            self.dossiers[d.code] = d
            return d

    def sync_entry(self, d: Dossier, sync_releases: list[str]) -> dict:
        """What the national portal (DVCQG) has received about a dossier under the current release."""
        synced_receipt_at = d.received_at + dt.timedelta(minutes=5)
        if d.received_release in sync_releases:
            if d.state == "processing":
                status, at = "processing", synced_receipt_at
            else:
                ended = d.finished_at or d.received_at + dt.timedelta(days=1)
                status, at = d.state, ended + dt.timedelta(minutes=10)
            synced = True
        else:
            # Received under a release whose dossiers no longer sync: DVCQG keeps the receipt only.
            status, at, synced = "processing", synced_receipt_at, False
        return {
            "dossier_code": d.code, "agency_code": d.agency_code, "received_release": d.received_release,
            "state": d.state, "received_at": _iso(d.received_at), "finished_at": _iso(d.finished_at),
            "synced": synced, "synced_status": status, "synced_at": _iso(at),
        }
