"""The briefing's content as format-neutral blocks, in order: what the DOCX and the PDF say
(reports/render_docx.py and reports/render_pdf.py lay the blocks out, adding the letterhead and
the signature). Every number printed is a store figure formatted the Vietnamese way.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from config.index766 import GROUPS
from config.vocabulary import DUE_SOON_DAYS
from reports.bieu06 import SCORE_DENOMINATORS
from reports.due_soon import format_days, format_left
from reports.briefing.labels import (AUDIT_KINDS_VI, BIEU06_GROUPS, BIEU06_SUB, FINDING_TREATMENT_VI, FINDINGS_VI,
                                     LOADTEST_VERDICT_VI, ROMAN, STAT_LABELS, bieu06_label, fmt_dec, fmt_delta_int,
                                     fmt_delta_pts, fmt_dt, fmt_int, fmt_ms, fmt_pct, loadtest_status, month_label,
                                     reason766, refusals_sentence)
from reports.briefing.model import COUNT_COLUMNS, Briefing, Heading, Image, PageBreak, Para, TableBlock, prev_month
from reports.index766 import SHORT

SHORT766 = SHORT["vi"]


def _vs(now: Any, before: Any, pts: bool = False) -> str:
    if pts:
        return fmt_delta_pts(now, before)
    return fmt_delta_int(now, before)


def _trend_words(now: Any, before: Any, unit: str = " điểm %") -> str:
    if now is None or before is None:
        return ""
    d = round(100 * (float(now) - float(before)), 1)
    if d == 0:
        return " (không đổi so với tháng trước)"
    return f" ({'tăng' if d > 0 else 'giảm'} {fmt_dec(abs(d))}{unit} so với tháng trước)"


def bieu06_table(rows: list[dict[str, Any]], first: str) -> TableBlock:
    """Biểu số 06/VPCP/KSTT: STT, name and the 11 counts (13 columns), a two-row header."""
    body, bold = [], set()
    n = 0
    for r in rows:
        if r["row_kind"] == "total":
            stt = ""
            bold.add(len(body))
        else:
            n += 1
            stt = str(n)
        body.append([stt, bieu06_label(r)] + [fmt_int(r.get(c)) for c in COUNT_COLUMNS])
    return TableBlock(columns=["STT", first] + BIEU06_SUB, rows=body, widths=[3, 20] + [5.2] * len(COUNT_COLUMNS),
                      align=["center", "left"] + ["right"] * len(COUNT_COLUMNS),
                      groups=[("STT", 1), (first, 1)] + BIEU06_GROUPS, bold_rows=bold, font_size=8,
                      number_row=True)


def _title(b: Briefing, name: str) -> str:
    t = b.probe_titles.get(name)
    return f"{t} ({name})" if t else name


def document(b: Briefing) -> list[Any]:
    """The briefing's content as blocks, in order (the letterhead and the signature are added by
    each renderer from b.letterhead)."""
    out: list[Any] = []
    L = b.label
    now, before = b.now, b.before
    pl = month_label(prev_month(b.month))
    scope = b.scope_name
    as_of = f", số liệu tính đến {fmt_dt(b.as_of)}" if b.as_of else ""
    out.append(Para(f"Báo cáo này do hệ thống giám sát độc lập motcua-watch lập từ dữ liệu hồ sơ của Hệ thống "
                    f"thông tin giải quyết thủ tục hành chính tỉnh {b.letterhead.province}"
                    f"{' đối với ' + scope if b.agency else ''}: thời hạn giải quyết của từng hồ sơ được "
                    f"tính lại theo ngày làm việc, ngày nghỉ lễ, Tết và các lần yêu cầu bổ sung hồ sơ "
                    f"(Nghị định 61/2018/NĐ-CP, Nghị định 118/2025/NĐ-CP){as_of}."))

    # I. results
    out.append(Heading("I. KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"))
    out.append(Heading("1. Số liệu chung", 2))
    if b.empty:
        out.append(Para(f"Trong tháng {L} không có hồ sơ nào được tiếp nhận, giải quyết hoặc đang giải quyết "
                        f"tại {scope}: không có số liệu cho kỳ báo cáo này."))
    else:
        online_share = (now["received_online"] / (now["received_online"] + now["received_direct_postal"])
                        if (now["received_online"] + now["received_direct_postal"]) else None)
        out.append(Para(
            f"Trong tháng {L}, {scope} nhận giải quyết {fmt_int(now['received_total'])} hồ sơ "
            f"(tiếp nhận mới {fmt_int(now['received_online'] + now['received_direct_postal'])}, trong đó trực tuyến "
            f"{fmt_int(now['received_online'])}, chiếm {fmt_pct(online_share)}; từ kỳ trước chuyển sang "
            f"{fmt_int(now['carried_over'])}). Đã giải quyết {fmt_int(now['resolved_total'])} hồ sơ, trong đó "
            f"trước hạn {fmt_int(now['resolved_early'])}, đúng hạn {fmt_int(now['resolved_on_time'])}, quá hạn "
            f"{fmt_int(now['resolved_overdue'])}; tỷ lệ giải quyết đúng hạn {fmt_pct(now['on_time_ratio'])}"
            f"{_trend_words(now['on_time_ratio'], before['on_time_ratio'])}. Cuối tháng còn "
            f"{fmt_int(now['pending_total'])} hồ sơ đang giải quyết, trong đó quá hạn {fmt_int(now['pending_overdue'])}."))
    rows = [[label, fmt_int(now[c]), fmt_int(before[c]), _vs(now[c], before[c])] for c, label in STAT_LABELS]
    rows.append(["Tỷ lệ giải quyết đúng hạn (%)", fmt_pct(now["on_time_ratio"]), fmt_pct(before["on_time_ratio"]),
                 _vs(now["on_time_ratio"], before["on_time_ratio"], pts=True)])
    rows.append(["Điểm tiến độ giải quyết (QĐ 766, tối đa 20)", fmt_dec(now["score_766"], 2),
                 fmt_dec(before["score_766"], 2), fmt_delta_pts(now["score_766"], before["score_766"], 1, 2)])
    out.append(TableBlock(["Chỉ tiêu", f"Tháng {L}", f"Tháng {pl}", "Tăng (+), giảm (−)"], rows, [46, 18, 18, 18],
                          ["left", "right", "right", "right"], bold_rows={0, 4, 8}))
    if "trend" in b.charts:
        out.append(Image(b.charts["trend"], 16, f"Hình 1. Kết quả giải quyết và tỷ lệ đúng hạn 12 tháng đến {L}"))

    out.append(Heading("2. Xếp hạng cơ quan, đơn vị theo tỷ lệ giải quyết đúng hạn", 2))
    if not b.ranking:
        out.append(Para(f"Không có cơ quan, đơn vị trực thuộc {scope} nào giải quyết hồ sơ trong tháng {L}."))
    else:
        out.append(Para(f"{len(b.ranking)} cơ quan, đơn vị có hồ sơ giải quyết trong tháng, xếp theo tỷ lệ giải quyết "
                        f"đúng hạn (trước hạn và đúng hạn trên tổng số đã giải quyết), cao nhất trước."))
        rows = [[str(i + 1), r["name"] or r["key"], fmt_int(r["resolved_total"]),
                 fmt_int(r["resolved_early"] + r["resolved_on_time"]), fmt_int(r["resolved_overdue"]),
                 fmt_pct(r["on_time_ratio"])] for i, r in enumerate(b.ranking)]
        out.append(TableBlock(["Hạng", "Cơ quan, đơn vị", "Đã giải quyết", "Trước và đúng hạn", "Quá hạn",
                               "Tỷ lệ đúng hạn"], rows, [8, 44, 12, 13, 11, 12],
                              ["center", "left", "right", "right", "right", "right"], font_size=10))
        if "ranking" in b.charts:
            out.append(Image(b.charts["ranking"], 16, "Hình 2. Các cơ quan, đơn vị có tỷ lệ đúng hạn thấp nhất"))

    out.append(Heading("3. Cơ quan, đơn vị và thủ tục có nhiều hồ sơ quá hạn nhất", 2))
    if not b.overdue_agencies:
        out.append(Para(f"Trong tháng {L} không có hồ sơ quá hạn."))
    else:
        total_over = int(now["resolved_overdue"]) + int(now["pending_overdue"])
        out.append(Para(f"Tổng số hồ sơ quá hạn: {fmt_int(total_over)} (đã giải quyết quá hạn "
                        f"{fmt_int(now['resolved_overdue'])}, đang giải quyết quá hạn {fmt_int(now['pending_overdue'])})."
                        f" Danh sách từng hồ sơ ở trang tính \"Hồ sơ quá hạn\" của tệp Excel."))
        rows = [[str(i + 1), r["name"] or r["key"], fmt_int(r["resolved_overdue"]), fmt_int(r["pending_overdue"]),
                 fmt_int(r["resolved_overdue"] + r["pending_overdue"])] for i, r in enumerate(b.overdue_agencies)]
        out.append(Para("a) Cơ quan, đơn vị (hồ sơ của chính đơn vị):", italic=True))
        out.append(TableBlock(["STT", "Cơ quan, đơn vị", "Đã giải quyết quá hạn", "Đang giải quyết quá hạn",
                               "Tổng quá hạn"], rows, [7, 51, 14, 14, 14],
                              ["center", "left", "right", "right", "right"], font_size=10))
        rows = [[str(i + 1), f"{r['key']} – {r['name']}" if r.get("name") else str(r["key"]),
                 fmt_int(r["resolved_overdue"]), fmt_int(r["pending_overdue"]),
                 fmt_int(r["resolved_overdue"] + r["pending_overdue"])] for i, r in enumerate(b.overdue_procedures)]
        out.append(Para("b) Thủ tục hành chính:", italic=True))
        out.append(TableBlock(["STT", "Thủ tục hành chính", "Đã giải quyết quá hạn", "Đang giải quyết quá hạn",
                               "Tổng quá hạn"], rows, [7, 51, 14, 14, 14],
                              ["center", "left", "right", "right", "right"], font_size=10))

    out.extend(due_soon_blocks(b))
    forecast = forecast_blocks(b)
    out.extend(forecast)
    out.extend(index766_blocks(b, 6 if forecast else 5))

    # II. the vendor's figures
    out.append(Heading("II. ĐỐI CHIẾU VỚI SỐ LIỆU CỦA HỆ THỐNG"))
    a = b.audit_total
    if not a.get("dossiers"):
        out.append(Para(f"Không có hồ sơ nào để đối chiếu trong tháng {L}."))
    else:
        out.append(Para(
            f"Đối chiếu {fmt_int(a['dossiers'])} hồ sơ giải quyết (hoặc tiếp nhận mà chưa giải quyết) trong tháng: "
            f"{fmt_int(a['mismatches'])} hồ sơ có ngày hẹn trả hoặc trạng thái do hệ thống ghi khác với kết quả tính lại. "
            f"Hệ thống ghi {fmt_int(a['reported_overdue'])} hồ sơ quá hạn, tính lại là {fmt_int(a['recomputed_overdue'])} "
            f"(chênh lệch {fmt_delta_int(a['reported_overdue'], a['recomputed_overdue'])})."))
        rows = [[label, fmt_int(a.get(k))] for k, label in AUDIT_KINDS_VI.items()]
        rows.append(["Tổng số hồ sơ có sai lệch", fmt_int(a["mismatches"])])
        out.append(TableBlock(["Loại sai lệch", "Số hồ sơ"], rows, [80, 20], ["left", "right"],
                              bold_rows={len(rows) - 1}, font_size=10))
        if b.audit_agencies:
            rows = [[str(i + 1), r["agency_name"] or r["agency_code"], fmt_int(r["dossiers"]), fmt_int(r["mismatches"]),
                     fmt_int(r["reported_overdue"]), fmt_int(r["recomputed_overdue"]),
                     fmt_delta_int(r["reported_overdue"], r["recomputed_overdue"])]
                    for i, r in enumerate(b.audit_agencies)]
            out.append(Para("Cơ quan, đơn vị có nhiều hồ sơ sai lệch nhất:", italic=True))
            out.append(TableBlock(["STT", "Cơ quan, đơn vị", "Hồ sơ đối chiếu", "Sai lệch", "Quá hạn theo hệ thống",
                                   "Quá hạn tính lại", "Chênh lệch"], rows, [6, 38, 11, 10, 12, 12, 11],
                                  ["center", "left"] + ["right"] * 5, font_size=10))
    out.extend(findings_blocks(b))

    # III. sync
    out.append(Heading("III. ĐỒNG BỘ KẾT QUẢ LÊN CỔNG DỊCH VỤ CÔNG QUỐC GIA"))
    s = b.sync_total
    if not s.get("resolved"):
        out.append(Para(f"Không có hồ sơ nào được giải quyết trong tháng {L}, nên không có kết quả cần đồng bộ."))
    else:
        out.append(Para(f"Trong {fmt_int(s['resolved'])} hồ sơ đã giải quyết trong tháng, {fmt_int(s['unsynced'])} hồ sơ "
                        f"({fmt_pct(s['unsynced_ratio'], 2)}) chưa có kết quả đúng trên Cổng Dịch vụ công quốc gia "
                        f"(chưa đồng bộ {fmt_int(s['never_synced'])}, đồng bộ trước khi giải quyết "
                        f"{fmt_int(s['synced_before_resolution'])}, sai trạng thái {fmt_int(s['status_differs'])})."))
        rows = [[f"Hệ thống {r['source_system']}" if r.get("source_system") else "(không rõ)", fmt_int(r["resolved"]),
                 fmt_int(r["synced_ok"]), fmt_int(r["never_synced"]), fmt_int(r["synced_before_resolution"]),
                 fmt_int(r["status_differs"]), fmt_pct(r["unsynced_ratio"], 2)] for r in b.sync_systems]
        rows.append(["Tổng cộng", fmt_int(s["resolved"]), fmt_int(s["synced_ok"]), fmt_int(s["never_synced"]),
                     fmt_int(s["synced_before_resolution"]), fmt_int(s["status_differs"]),
                     fmt_pct(s["unsynced_ratio"], 2)])
        out.append(TableBlock(["Hệ thống tiếp nhận", "Đã giải quyết", "Đồng bộ đúng", "Chưa đồng bộ",
                               "Đồng bộ trước khi giải quyết", "Sai trạng thái", "Tỷ lệ chưa đúng"], rows,
                              [20, 13, 13, 13, 15, 12, 14], ["left"] + ["right"] * 6, bold_rows={len(rows) - 1},
                              font_size=10))
        if b.sync_agencies:
            rows = [[str(i + 1), r["agency_name"] or r["agency_code"], fmt_int(r["resolved"]), fmt_int(r["unsynced"])]
                    for i, r in enumerate(b.sync_agencies)]
            out.append(Para("Cơ quan, đơn vị có nhiều hồ sơ chưa đồng bộ nhất:", italic=True))
            out.append(TableBlock(["STT", "Cơ quan, đơn vị", "Đã giải quyết", "Chưa đồng bộ đúng"], rows,
                                  [8, 60, 16, 16], ["center", "left", "right", "right"], font_size=10))

    # IV. the portal
    out.append(Heading("IV. TÌNH TRẠNG HOẠT ĐỘNG CỦA CỔNG DỊCH VỤ CÔNG"))
    pt = b.probe_total
    if pt is None:
        out.append(Para(f"Không có dữ liệu giám sát cổng (kiểm tra tự động) trong tháng {L}: không đánh giá được "
                        f"độ sẵn sàng, thời gian phản hồi và sự cố của cổng trong kỳ này."))
    else:
        out.append(Para(
            f"Các kiểm tra tự động chạy {fmt_int(pt['runs'])} lượt trong {fmt_int(pt['hours_measured'])} giờ có số liệu "
            f"(từ {fmt_dt(pt['first_hour'])} đến {fmt_dt(pt['last_hour'])}); {fmt_int(pt['failures'])} lượt lỗi. "
            f"Độ sẵn sàng {fmt_pct(pt['availability'], 2)}; thời gian phản hồi trung vị {fmt_ms(pt['p50_ms'])} ms, "
            f"p95 {fmt_ms(pt['p95_ms'])} ms (giờ chậm nhất: {fmt_ms(pt['worst_hour_p95_ms'])} ms)."))
        rows = [[_title(b, r["name"]), fmt_int(r["runs"]), fmt_int(r["failures"]), fmt_pct(r["availability"], 2),
                 fmt_ms(r["p50_ms"]), fmt_ms(r["p95_ms"]), fmt_ms(r["worst_hour_p95_ms"])] for r in b.probe_checks]
        out.append(TableBlock(["Kiểm tra", "Số lượt", "Lỗi", "Sẵn sàng", "p50 (ms)", "p95 (ms)", "p95 giờ chậm nhất (ms)"],
                              rows, [40, 10, 8, 11, 9, 9, 13], ["left"] + ["right"] * 6, font_size=9))
        if "portal" in b.charts:
            out.append(Image(b.charts["portal"], 16, f"Hình 3. Độ sẵn sàng và thời gian phản hồi của cổng theo ngày, tháng {L}"))
        if not b.incidents:
            out.append(Para(f"Không ghi nhận sự cố (giờ có từ một nửa số lượt kiểm tra trở lên bị lỗi) trong tháng {L}."))
        else:
            out.append(Para(f"Ghi nhận {fmt_int(len(b.incidents))} sự cố (liên tiếp các giờ có từ một nửa số lượt kiểm tra "
                            f"trở lên bị lỗi):", italic=True))
            rows = [[str(i + 1), _title(b, r["name"]), fmt_dt(r["started_at"]), fmt_dt(r["ended_at"]), fmt_int(r["hours"]),
                     f"{fmt_int(r['failures'])}/{fmt_int(r['runs'])}", r.get("reason") or "-"]
                    for i, r in enumerate(b.incidents)]
            out.append(TableBlock(["STT", "Kiểm tra", "Bắt đầu", "Kết thúc", "Số giờ", "Lỗi/lượt", "Lỗi thường gặp"],
                                  rows, [6, 28, 15, 15, 8, 10, 18], ["center", "left", "left", "left", "right", "right",
                                                                     "left"], font_size=9))

    # V. load tests
    out.append(Heading("V. KIỂM THỬ TẢI"))
    if not b.loadtests:
        out.append(Para(f"Không có lượt kiểm thử tải nào trong tháng {L}."))
    else:
        passed = sum(1 for r in b.loadtests if r["verdict"] == "pass")
        out.append(Para(f"Trong tháng {L} có {fmt_int(len(b.loadtests))} lượt kiểm thử tải, {fmt_int(passed)} lượt đạt "
                        f"tất cả tiêu chí nghiệm thu:"))
        rows = [[str(i + 1), r["scenario"] or "-", r["release"] or "-", r["target"] or "-", loadtest_status(r),
                 fmt_dt(r["started_at"]), fmt_int(r["users_peak"]), fmt_int(r["requests"])]
                for i, r in enumerate(b.loadtests)]
        out.append(Para("a) Các lượt kiểm thử:", italic=True))
        out.append(TableBlock(["STT", "Kịch bản", "Phiên bản", "Địa chỉ kiểm thử", "Tình trạng", "Bắt đầu",
                               "Số người dùng tối đa", "Số yêu cầu"], rows, [6, 14, 11, 23, 13, 14, 10, 10],
                              ["center", "left", "left", "left", "left", "left", "right", "right"], font_size=9))
        rows = [[str(i + 1), fmt_pct(r["error_rate"], 2), fmt_ms(r["p95_ms"]), LOADTEST_VERDICT_VI.get(r["verdict"], "-"),
                 criteria_summary(r), fmt_int(r["judged_at_users"]), fmt_int(r["capacity_users"])]
                for i, r in enumerate(b.loadtests)]
        out.append(Para("b) Kết quả so với tiêu chí nghiệm thu:", italic=True))
        out.append(TableBlock(["STT", "Tỷ lệ lỗi", "p95 (ms)", "Kết luận", "Tiêu chí đạt", "Số người dùng khi đánh giá",
                               "Năng lực (người dùng)"], rows, [6, 12, 11, 14, 15, 21, 21],
                              ["center", "right", "right", "left", "right", "right", "right"], font_size=9))

    # VI. compliance register
    n = 6
    if b.compliance is not None:
        c = b.compliance
        out.append(Heading(f"VI. {c['title'].upper()}"))
        for text in c["paragraphs"]:
            out.append(Para(text))
        t = c["table"]
        if t["rows"]:
            out.append(TableBlock(list(t["columns"]), [[_cell(v) for v in row] for row in t["rows"]],
                                  [24, 17, 12, 11, 36], ["left"] * len(t["columns"]), font_size=9))
        n = 7
    out.append(Heading(f"{ROMAN[n]}. GHI CHÚ"))
    for n in ["Tỷ lệ giải quyết đúng hạn = (trước hạn + đúng hạn) / tổng số đã giải quyết.",
              "Điểm tiến độ giải quyết (Quyết định 766/QĐ-TTg) = 20 × (trước hạn + đúng hạn) / "
              f"{SCORE_DENOMINATORS[b.score_denominator]['vi_short']}.",
              "Hồ sơ đang chờ bổ sung ở cuối tháng được tính là đang giải quyết trong hạn (thời hạn tính lại từ đầu "
              "khi nhận đủ hồ sơ, Nghị định 61/2018/NĐ-CP điều 19.4). Hồ sơ rút, từ chối không được tính.",
              "Độ sẵn sàng và thời gian phản hồi của cổng lấy từ số liệu tổng hợp theo giờ của các kiểm tra tự động; "
              "p50, p95 là trung vị của các giá trị theo giờ."]:
        out.append(Para("- " + n))

    # appendix
    out.append(PageBreak(landscape=True))
    out.append(Para("Phụ lục", bold=True, align="center"))
    out.append(Para("Biểu số 06/VPCP/KSTT", bold=True, align="right"))
    out.append(Para("TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT "
                    "THỦ TỤC HÀNH CHÍNH", bold=True, align="center"))
    out.append(Para(f"Kỳ báo cáo: tháng {L}. Đơn vị báo cáo: {scope}. Đơn vị tính: hồ sơ.", italic=True, align="center"))
    out.append(bieu06_table(b.bieu06_agency, "Cơ quan, đơn vị"))
    return out


def due_soon_blocks(b: Briefing) -> list[Any]:
    """I.4: the dossiers due soon as the briefing is made: what can still be resolved in time."""
    out: list[Any] = [Heading("4. Hồ sơ sắp đến hạn", 2)]
    days = format_days(DUE_SOON_DAYS)
    if b.due_soon_as_of is None:
        out.append(Para("Chưa có số liệu hồ sơ sắp đến hạn: kho dữ liệu chưa được tính lại toàn bộ."))
        return out
    total = next((r for r in b.due_soon_agencies if r["row_kind"] == "total"), {})
    per = [r for r in b.due_soon_agencies if r["row_kind"] == "agency"]
    when = fmt_dt(b.due_soon_as_of)
    if not per:
        out.append(Para(f"Đến {when}, không có hồ sơ nào sắp đến hạn trong {days} ngày làm việc tới."))
        return out
    out.append(Para(f"Đến {when}, có {fmt_int(total.get('due_soon'))} hồ sơ đang giải quyết còn không quá {days} ngày "
                    f"làm việc đến hạn (trong đó {fmt_int(total.get('due_within_one_day'))} hồ sơ còn không quá 1 "
                    f"ngày làm việc), tại {fmt_int(len(per))} cơ quan, đơn vị. Thời gian còn lại tính theo giờ hành "
                    f"chính của ngày làm việc. Danh sách từng hồ sơ ở trang tính \"Sắp đến hạn\" của tệp Excel."))
    rows = [[str(i + 1), r["agency_name"] or r["agency_code"], fmt_int(r["due_soon"]), fmt_int(r["due_within_one_day"]),
             format_left(r["min_working_minutes_left"], r["office_day_minutes"])]
            for i, r in enumerate(per[:b.letterhead.top])]
    out.append(TableBlock(["STT", "Cơ quan, đơn vị", f"Sắp đến hạn ({days} ngày làm việc)",
                           "Còn không quá 1 ngày làm việc", "Hồ sơ gấp nhất còn"], rows, [7, 45, 16, 16, 16],
                          ["center", "left", "right", "right", "left"], font_size=10))
    return out


def forecast_blocks(b: Briefing) -> list[Any]:
    """I.5: where the month under way can end: the on-time ratio and the 766 score as they stand, at
    best and at worst (month_forecast), and the agencies with the most dossiers that may end late."""
    if b.forecast_month is None or not b.forecast_rows:
        return []
    M = month_label(b.forecast_month)
    out: list[Any] = [Heading(f"5. Dự báo kết quả cuối tháng {M}", 2)]
    total = next((r for r in b.forecast_rows if r["row_kind"] == "total"), {})
    if not total.get("in_progress"):
        out.append(Para(f"Tháng {M} đã kết thúc tại lần tính lại gần nhất: kết quả không còn thay đổi."))
        return out
    out.append(Para(
        f"Đến {fmt_dt(total.get('as_of'))}, tỷ lệ giải quyết đúng hạn của tháng {M} là {fmt_pct(total.get('on_time_ratio'))}"
        f" (điểm tiến độ {fmt_dec(total.get('score_766'), 2)}). Nếu mọi hồ sơ còn trong hạn được giải quyết đúng hạn, "
        f"tỷ lệ cuối tháng đạt {fmt_pct(total.get('best_on_time_ratio'))} (điểm {fmt_dec(total.get('best_score_766'), 2)}); "
        f"nếu mọi hồ sơ đến hạn trong tháng đều giải quyết quá hạn, tỷ lệ chỉ còn "
        f"{fmt_pct(total.get('worst_on_time_ratio'))} (điểm {fmt_dec(total.get('worst_score_766'), 2)}). Hồ sơ tiếp "
        f"nhận sau thời điểm tính chưa được tính."))
    # the units that handle dossiers themselves (a parent's row sums its sub-units': it would lead the list)
    parents = {r.get("parent_code") for r in b.forecast_rows}
    risky = sorted((r for r in b.forecast_rows if r["row_kind"] == "agency" and r["key"] not in parents
                    and r["pending_overdue"] + r["due_in_month"] > 0),
                   key=lambda r: (-(r["pending_overdue"] + r["due_in_month"]), r["key"]))[:b.letterhead.top]
    if risky:
        rows = [[str(i + 1), r["name"] or r["key"], fmt_int(r["pending_overdue"] + r["due_in_month"]),
                 fmt_pct(r["on_time_ratio"]), fmt_pct(r["best_on_time_ratio"]), fmt_pct(r["worst_on_time_ratio"])]
                for i, r in enumerate(risky)]
        out.append(TableBlock(["STT", "Cơ quan, đơn vị", "Hồ sơ có thể trễ trong tháng", "Tỷ lệ hiện tại",
                               "Tốt nhất", "Xấu nhất"], rows, [7, 43, 14, 12, 12, 12],
                              ["center", "left", "right", "right", "right", "right"], font_size=10))
    return out


def _points(v: Any) -> str:
    return fmt_dec(v, 2)


def _max(v: Any) -> str:
    return fmt_dec(v, 0 if float(v).is_integer() else 2)


def _total766(r: dict[str, Any]) -> str:
    return "chưa đo được" if r["total_points"] is None else f"{_points(r['total_points'])}/{_max(r['total_max'])}"


def revision_source(rules: Any) -> str:
    """The document the rules file names for the revision draft ("Công văn 5518/VPCP-KSTT
    (19/6/2025)"): the revision text up to its first date in brackets; "" when it has none."""
    m = re.match(r"\s*(.+?\(\d{1,2}/\d{1,2}/\d{4}\))", rules.revision.text)
    return m.group(1) if m else ""


def index766_blocks(b: Briefing, number: int) -> list[Any]:
    """I.5 or I.6: the 766 scorecard's estimate of the month for the briefing's scope (index766):
    each group's points or why it is not measured, the measured total against its maximum, the
    scope's direct sub-units, and for an agency the procedures that cost it the most progress points."""
    rules, L = b.index766_rules, b.label
    total = next((r for r in b.index766_rows if r["row_kind"] == "total"), None)
    label = rules.label.vi if rules is not None else "ước tính"
    out: list[Any] = [Heading(f"{number}. Bộ chỉ số 766 tháng {L} ({label})", 2)]
    if rules is None or total is None or not total["groups_measured"]:
        out.append(Para(f"Không có số liệu để ước tính Bộ chỉ số 766 của {b.scope_name} trong tháng {L}."))
        return out
    out.append(Para(
        f"Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp (Quyết định "
        f"766/QĐ-TTg) của {b.scope_name} trong tháng {L}, {label} từ dữ liệu hồ sơ: "
        f"{_points(total['total_points'])}/{_max(total['total_max'])} điểm trên {fmt_int(total['groups_measured'])}"
        f"/{fmt_int(len(GROUPS))} nhóm đo được."))
    for g in GROUPS:
        grp = rules.group(g)
        pts = total[f"{g}_points"]
        said = (f"{_points(pts)} điểm" if pts is not None else
                reason766(rules, g, total[f"{g}_reason_vi"] or "chưa đo được"))
        out.append(Para(f"- {grp.name.vi} (tối đa {_max(grp.max_points)} điểm): {said}."))
    unconfirmed = [rules.group(g).name.vi for g in GROUPS if not rules.group(g).source.confirmed]
    src = revision_source(rules)
    if unconfirmed or not rules.revision.confirmed:
        weights = ("trọng số đang áp dụng chưa được xác nhận"
                   + (f" ({src} đã gửi dự thảo sửa đổi)" if src and not rules.revision.confirmed else "")
                   + (f"; chưa xác nhận: {', '.join(unconfirmed)}" if 0 < len(unconfirmed) < len(GROUPS) else ""))
    else:
        weights = "trọng số theo tệp quy tắc"
    out.append(Para(f"Đây là số {label}: {weights}. Điểm tối đa, trọng số và nguồn của từng nhóm ghi trong tệp "
                    f"quy tắc {b.index766_file} (cấu hình reports.index766). Tổng chỉ cộng các nhóm đo được, so "
                    f"với điểm tối đa của các nhóm đó. Điểm của mọi cơ quan, đơn vị ở trang tính \"Bộ chỉ số "
                    f"766\" của tệp Excel.", italic=True))
    if b.index766_agencies:
        out.append(Para("Theo cơ quan, đơn vị trực thuộc có hồ sơ giải quyết trong tháng (như mục 2), xếp theo "
                        "tổng điểm so với tối đa của các nhóm đo được, cao nhất trước (\"-\": chưa đo được):",
                        italic=True))
        rows = [[str(i + 1), r["agency_name"] or r["agency_code"]] + [_points(r[f"{g}_points"]) for g in GROUPS]
                + [_total766(r)] for i, r in enumerate(b.index766_agencies)]
        heads = [f"{SHORT766[g]} ({_max(rules.group(g).max_points)})" for g in GROUPS]
        out.append(TableBlock(["STT", "Cơ quan, đơn vị", *heads, "Tổng/tối đa"], rows,
                              [6, 32] + [10] * len(GROUPS) + [12], ["center", "left"] + ["right"] * (len(GROUPS) + 1),
                              font_size=9))
    if b.agency:
        if not b.index766_losses:
            out.append(Para(f"Trong tháng {L} không có thủ tục nào làm {b.scope_name} mất điểm tiến độ (không có "
                            f"hồ sơ giải quyết quá hạn)."))
        else:
            out.append(Para(f"Điểm tiến độ bị mất theo thủ tục: điểm bị mất = 20 × số hồ sơ giải quyết quá hạn của "
                            f"thủ tục / mẫu số điểm tiến độ của {b.scope_name}; điểm chưa đạt tính thêm các hồ sơ "
                            f"chưa giải quyết đúng hạn. Các thủ tục làm mất nhiều điểm nhất:", italic=True))
            rows = [[str(i + 1), f"{r['procedure_code']} – {r['procedure_name']}" if r.get("procedure_name")
                     else str(r["procedure_code"]), fmt_int(r["resolved_total"]), fmt_int(r["resolved_overdue"]),
                     _points(r["points_lost"]), _points(r["points_unearned"])]
                    for i, r in enumerate(b.index766_losses)]
            out.append(TableBlock(["STT", "Thủ tục hành chính", "Đã giải quyết", "Giải quyết quá hạn", "Điểm bị mất",
                                   "Điểm chưa đạt"], rows, [6, 50, 11, 11, 11, 11],
                                  ["center", "left", "right", "right", "right", "right"], font_size=10))
    return out


def finding_lines(b: Briefing) -> list[str]:
    """One line per finding of the month: its words, the dossiers and the agencies with the most
    ("Yêu cầu bổ sung sau khi đã quá hạn: 12 hồ sơ (Sở Tư pháp 7, UBND xã Bình Hiệp 5); …")."""
    out = []
    for name, label in FINDINGS_VI.items():
        n = int(b.audit_total.get(name) or 0)
        if not n:
            continue
        rows = sorted((r for r in b.findings_agencies if r.get(name)),
                      key=lambda r: (-r[name], r["agency_name"] or r["agency_code"]))
        shown = [f"{r['agency_name'] or r['agency_code']} {fmt_int(r[name])}" for r in rows[:b.letterhead.top]]
        if len(rows) > len(shown):
            shown.append(f"và {fmt_int(len(rows) - len(shown))} cơ quan, đơn vị khác")
        treatment = FINDING_TREATMENT_VI.get(name)
        out.append(f"{label}: {fmt_int(n)} hồ sơ ({', '.join(shown)})" + (f"; {treatment}." if treatment else "."))
    return out


def findings_blocks(b: Briefing) -> list[Any]:
    """Section II's part on what the deadline engine found odd in the vendor's facts."""
    lines = finding_lines(b)
    out: list[Any] = [Para("Dữ kiện bất thường trong số liệu của hệ thống (bộ tính hạn không dùng hoặc xét theo cách "
                           "khác), theo cơ quan, đơn vị:", italic=True)]
    if not lines:
        out.append(Para(f"Không có hồ sơ nào có dữ kiện bất thường trong tháng {b.label}."))
    out.extend(Para("- " + line) for line in lines)
    out.append(Para(refusals_sentence(b.refusals_overdue)))
    return out


def criteria_summary(r: dict[str, Any]) -> str:
    """'3/4' criteria passed, '-' when the run was not judged."""
    return f"{fmt_int(r['criteria_passed'])}/{fmt_int(r['criteria_total'])}" if r["criteria_total"] else "-"


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "Đạt" if v else "Không đạt"
    if isinstance(v, int):
        return fmt_int(v)
    if isinstance(v, float):
        return fmt_dec(v, 1)
    if isinstance(v, (dt.date, dt.datetime)):
        return fmt_dt(v)
    return "-" if v is None else str(v)
