"""The dashboard's words: Vietnamese by default, English on the switch. Numbers the way each
language writes them (vi: 12.345 and 85,3%)."""
from __future__ import annotations

import datetime as dt
import math

TEXT: dict[str, dict[str, str]] = {
    "app_title": {"vi": "Giám sát Một cửa điện tử", "en": "One-stop portal monitor"},
    "subtitle": {"vi": "Số liệu độc lập về Hệ thống thông tin giải quyết thủ tục hành chính tỉnh {province}",
                 "en": "Independent figures on the administrative procedure system of {province} province"},
    "page_overview": {"vi": "Tổng quan", "en": "Overview"},
    "page_agency": {"vi": "Cơ quan", "en": "Agency"},
    "page_system": {"vi": "Hệ thống", "en": "System"},
    "page_loadtests": {"vi": "Kiểm thử tải", "en": "Load tests"},
    "page_data": {"vi": "Dữ liệu", "en": "Data"},
    "page_reports": {"vi": "Báo cáo", "en": "Reports"},
    "login_title": {"vi": "Đăng nhập", "en": "Sign in"},
    "login_intro": {"vi": "Trang dành cho cán bộ được cấp tài khoản. Mọi trang đều yêu cầu đăng nhập.",
                    "en": "For officials with an account. Every page requires signing in."},
    "username": {"vi": "Tên đăng nhập", "en": "User name"},
    "password": {"vi": "Mật khẩu", "en": "Password"},
    "login_button": {"vi": "Đăng nhập", "en": "Sign in"},
    "login_failed": {"vi": "Tên đăng nhập hoặc mật khẩu không đúng.", "en": "Wrong user name or password."},
    "login_wait": {"vi": "Đăng nhập sai nhiều lần: vui lòng đợi {s} giây rồi thử lại.",
                   "en": "Too many failed attempts: wait {s} seconds and try again."},
    "login_sso": {"vi": "Đăng nhập bằng {provider}", "en": "Sign in with {provider}"},
    "sso_unknown": {"vi": "Tài khoản {email} chưa được cấp quyền xem trang này. Liên hệ quản trị hệ thống.",
                    "en": "The account {email} has no access yet. Ask the administrator."},
    "no_users": {"vi": "Chưa có tài khoản nào. Quản trị viên tạo tài khoản bằng lệnh: "
                       "`python app.py user add TEN --role admin`",
                 "en": "No accounts yet. An administrator creates one with: "
                       "`python app.py user add NAME --role admin`"},
    "logout": {"vi": "Đăng xuất", "en": "Sign out"},
    "language": {"vi": "Ngôn ngữ", "en": "Language"},
    "signed_in_as": {"vi": "Đăng nhập: **{name}** · {role}", "en": "Signed in: **{name}** · {role}"},
    "agency_of_account": {"vi": "Cơ quan: {agency}", "en": "Agency: {agency}"},
    "data_as_of": {"vi": "Số liệu tính đến {t}", "en": "Figures as of {t}"},
    "store_mode_remote": {"vi": "Kết nối: hệ thống đang chạy", "en": "Connected to the running system"},
    "store_mode_local": {"vi": "Kết nối: đọc trực tiếp tệp dữ liệu", "en": "Reading the store file directly"},
    "config_error": {"vi": "Cấu hình không hợp lệ, bảng điều khiển chưa thể hiển thị số liệu:",
                     "en": "The configuration is not valid; the dashboard cannot show figures:"},
    "config_fix": {"vi": "Sửa tệp cấu hình rồi kiểm tra bằng `python app.py check-config`.",
                   "en": "Fix the configuration file, then check it with `python app.py check-config`."},
    "store_unavailable": {"vi": "Không đọc được kho dữ liệu: {msg}", "en": "The store cannot be read: {msg}"},
    "store_unavailable_hint": {"vi": "Khởi động hệ thống bằng `make run` (hoặc `python app.py run`).",
                               "en": "Start the system with `make run` (or `python app.py run`)."},
    "empty_store": {"vi": "Kho dữ liệu chưa có hồ sơ nào, nên chưa có số liệu để hiển thị.",
                    "en": "The store holds no dossiers yet, so there are no figures to show."},
    "empty_store_hint": {"vi": "Nhập tệp xuất hồ sơ ở trang Dữ liệu, thả tệp vào thư mục `data/inbox/`, "
                               "hoặc nạp dữ liệu mẫu bằng `python app.py demo-data`.",
                         "en": "Import an export on the Data page, drop a file into `data/inbox/`, "
                               "or load the demo with `python app.py demo-data`."},
    "access_denied": {"vi": "Tài khoản của bạn không có quyền xem nội dung này.",
                      "en": "Your account may not see this."},
    "unexpected": {"vi": "Đã xảy ra lỗi không mong đợi ({kind}). Chi tiết đã được ghi vào {log}.",
                   "en": "An unexpected error occurred ({kind}). The details were written to {log}."},
    "operation_failed": {"vi": "Hệ thống trả lời: {msg}", "en": "The system answered: {msg}"},
    "no_data": {"vi": "Chưa có số liệu cho lựa chọn này.", "en": "No figures for this selection."},
    # filters
    "period": {"vi": "Kỳ báo cáo (tháng)", "en": "Period (month)"},
    "agency_level": {"vi": "Cấp cơ quan", "en": "Agency level"},
    "all_levels": {"vi": "Tất cả", "en": "All"},
    "level_department": {"vi": "Sở, ban, ngành", "en": "Departments"},
    "level_district": {"vi": "Cấp huyện", "en": "Districts"},
    "level_commune": {"vi": "Cấp xã", "en": "Communes"},
    "level_province": {"vi": "Cấp tỉnh", "en": "Province"},
    "level_unit": {"vi": "Đơn vị khác", "en": "Other units"},
    # overview
    "ov_title": {"vi": "Tổng quan tỉnh", "en": "Province overview"},
    "ov_on_time": {"vi": "Đúng hạn {m}", "en": "On time {m}"},
    "ov_vs_last": {"vi": "điểm %", "en": "pts"},
    "ov_vs_last_help": {"vi": "Chênh lệch so với tháng trước, tính bằng điểm phần trăm.",
                        "en": "Change from last month, in percentage points."},
    "ov_last_month": {"vi": "Tháng trước ({m})", "en": "Last month ({m})"},
    "ov_last_year": {"vi": "Cùng kỳ năm trước ({m})", "en": "Same month last year ({m})"},
    "ov_score": {"vi": "Điểm tiến độ 766 (tối đa 20)", "en": "766 progress score (of 20)"},
    "ov_received": {"vi": "Hồ sơ tiếp nhận", "en": "Dossiers received"},
    "ov_resolved": {"vi": "Đã giải quyết", "en": "Resolved"},
    "ov_pending_overdue": {"vi": "Đang quá hạn", "en": "Pending overdue"},
    "ov_ranking": {"vi": "Xếp hạng cơ quan theo tỷ lệ đúng hạn (thấp nhất trước)",
                   "en": "Agencies by on-time ratio (worst first)"},
    "ov_trend": {"vi": "Diễn biến 12 tháng", "en": "12-month trend"},
    "ov_vendor_gap": {"vi": "Chênh lệch số quá hạn: nhà cung cấp và tính lại độc lập",
                      "en": "Overdue: the vendor's figure against the independent recomputation"},
    "ov_vendor_overdue": {"vi": "NCC báo quá hạn", "en": "Vendor: overdue"},
    "ov_recomputed_overdue": {"vi": "Thực sự quá hạn", "en": "Really overdue"},
    "ov_gap": {"vi": "Báo sai quá hạn", "en": "Wrongly overdue"},
    "ov_unsynced": {"vi": "Hồ sơ chưa đồng bộ lên Cổng Dịch vụ công quốc gia",
                    "en": "Dossiers not synced to the National Public Service Portal"},
    "ov_unsynced_n": {"vi": "Chưa đồng bộ (tháng {m})", "en": "Unsynced ({m})"},
    "ov_period_note": {"vi": "Tháng đang diễn ra được tính đến thời điểm tính lại gần nhất.",
                       "en": "The current month is counted up to the last recompute."},
    # common column names
    "col_agency": {"vi": "Cơ quan", "en": "Agency"},
    "col_code": {"vi": "Mã", "en": "Code"},
    "col_level": {"vi": "Cấp", "en": "Level"},
    "col_on_time": {"vi": "Tỷ lệ đúng hạn", "en": "On-time ratio"},
    "col_score": {"vi": "Điểm 766", "en": "766 score"},
    "col_resolved": {"vi": "Đã giải quyết", "en": "Resolved"},
    "col_overdue": {"vi": "Quá hạn", "en": "Overdue"},
    "col_pending_overdue": {"vi": "Đang quá hạn", "en": "Pending overdue"},
    "col_received": {"vi": "Tiếp nhận", "en": "Received"},
    "col_month": {"vi": "Tháng", "en": "Month"},
    "col_source": {"vi": "Hệ thống nguồn", "en": "Source system"},
    "col_unsynced": {"vi": "Chưa đồng bộ", "en": "Unsynced"},
    "col_never_synced": {"vi": "Chưa từng đồng bộ", "en": "Never synced"},
    "col_synced_early": {"vi": "Đồng bộ trước khi có kết quả", "en": "Synced before resolution"},
    "col_status_differs": {"vi": "Trạng thái khác", "en": "Status differs"},
    "col_procedure": {"vi": "Thủ tục", "en": "Procedure"},
    "col_dossier": {"vi": "Mã hồ sơ", "en": "Dossier"},
    "col_received_at": {"vi": "Ngày nhận", "en": "Received"},
    "col_due": {"vi": "Hạn trả", "en": "Due"},
    "col_resolved_at": {"vi": "Ngày giải quyết", "en": "Resolved"},
    "col_kind": {"vi": "Loại", "en": "Kind"},
    "col_days_late": {"vi": "Số ngày trễ", "en": "Days late"},
    "col_explanation": {"vi": "Giải thích của bộ tính hạn", "en": "Engine's explanation"},
    "kind_resolved_overdue": {"vi": "Giải quyết quá hạn", "en": "Resolved overdue"},
    "kind_pending_overdue": {"vi": "Đang quá hạn", "en": "Pending overdue"},
    "series_on_time": {"vi": "Tỷ lệ đúng hạn (%)", "en": "On-time ratio (%)"},
    "series_score": {"vi": "Điểm 766", "en": "766 score"},
    # agency page
    "ag_title": {"vi": "Cơ quan: thủ tục và hồ sơ quá hạn", "en": "Agency: procedures and overdue dossiers"},
    "ag_choose": {"vi": "Cơ quan", "en": "Agency"},
    "ag_procedures": {"vi": "Thủ tục của cơ quan trong tháng", "en": "The agency's procedures this month"},
    "ag_overdue": {"vi": "Hồ sơ quá hạn và đang quá hạn", "en": "Overdue and pending-overdue dossiers"},
    "ag_download": {"vi": "Tải danh sách (CSV)", "en": "Download the list (CSV)"},
    "ag_none_overdue": {"vi": "Không có hồ sơ quá hạn trong tháng này.", "en": "No overdue dossiers this month."},
    "ag_shown": {"vi": "Hiển thị {n} hồ sơ (nhiều ngày trễ nhất trước).", "en": "{n} dossiers shown (most days late first)."},
    # system page
    "sys_title": {"vi": "Hệ thống: cổng dịch vụ công như người dân gặp", "en": "System: the portal as citizens meet it"},
    "sys_window": {"vi": "Khoảng thời gian", "en": "Time window"},
    "win_24h": {"vi": "24 giờ qua", "en": "Last 24 hours"},
    "win_7d": {"vi": "7 ngày qua", "en": "Last 7 days"},
    "win_28d": {"vi": "28 ngày qua", "en": "Last 28 days"},
    "sys_no_probes": {"vi": "Chưa có kết quả kiểm tra tự động nào trong khoảng thời gian này. Các phép kiểm tra "
                            "chạy theo lịch khi hệ thống chạy (`python app.py run`).",
                      "en": "No probe results in this window yet. Probes run on their schedule while the "
                            "system runs (`python app.py run`)."},
    "sys_down": {"vi": "Cổng không phản hồi: {n}/{total} phép kiểm tra gần nhất thất bại.",
                 "en": "The portal is not answering: {n} of {total} latest checks failed."},
    "sys_failing": {"vi": "{n} phép kiểm tra đang thất bại:", "en": "{n} checks are failing:"},
    "sys_all_ok": {"vi": "Tất cả {n} phép kiểm tra gần nhất đều đạt.", "en": "All {n} latest checks passed."},
    "sys_availability": {"vi": "Khả dụng và độ trễ theo phép kiểm tra, bước hành trình",
                         "en": "Availability and latency per check and journey step"},
    "sys_heatmap": {"vi": "Tỷ lệ lỗi theo giờ và thứ trong tuần", "en": "Failure ratio by hour and day of week"},
    "sys_phases": {"vi": "Thời gian theo giai đoạn (trung bình, ms)", "en": "Time per phase (mean, ms)"},
    "sys_slo": {"vi": "SLO: tốc độ tiêu hao ngân sách lỗi", "en": "SLO error-budget burn"},
    "sys_alerts": {"vi": "Dòng thời gian cảnh báo", "en": "Alert timeline"},
    "sys_no_alerts": {"vi": "Không có cảnh báo nào trong khoảng thời gian này.", "en": "No alerts in this window."},
    "sys_load": {"vi": "Độ trễ theo số người dùng đồng thời", "en": "Latency against concurrent users"},
    "sys_load_pending": {"vi": "Số liệu tải đồng thời lấy từ các lần kiểm thử tải; mô-đun kiểm thử tải chưa được "
                               "tích hợp vào bảng điều khiển nên chưa có số liệu để vẽ biểu đồ này.",
                         "en": "Concurrent-load figures come from the load-test runs; the load-test module is "
                               "not yet part of the dashboard, so there are no figures for this chart yet."},
    "col_check": {"vi": "Phép kiểm tra", "en": "Check"},
    "col_step": {"vi": "Bước", "en": "Step"},
    "col_runs": {"vi": "Số lần chạy", "en": "Runs"},
    "col_failures": {"vi": "Lỗi", "en": "Failures"},
    "col_availability": {"vi": "Khả dụng", "en": "Availability"},
    "col_last": {"vi": "Lần gần nhất", "en": "Latest"},
    "col_reason": {"vi": "Lý do", "en": "Reason"},
    "col_slo": {"vi": "SLO", "en": "SLO"},
    "col_objective": {"vi": "Mục tiêu", "en": "Objective"},
    "col_window": {"vi": "Cửa sổ", "en": "Window"},
    "col_burn": {"vi": "Tốc độ tiêu hao", "en": "Burn rate"},
    "col_kind_err": {"vi": "Loại", "en": "Kind"},
    "col_time": {"vi": "Thời điểm", "en": "Time"},
    "col_title": {"vi": "Nội dung", "en": "Alert"},
    "ok": {"vi": "đạt", "en": "ok"},
    "failed": {"vi": "thất bại", "en": "failed"},
    "errors": {"vi": "lỗi", "en": "errors"},
    "slow": {"vi": "chậm", "en": "slow"},
    "dow": {"vi": "T2,T3,T4,T5,T6,T7,CN", "en": "Mon,Tue,Wed,Thu,Fri,Sat,Sun"},
    "hour": {"vi": "Giờ", "en": "Hour"},
    "alert_firing": {"vi": "bắt đầu", "en": "firing"},
    "alert_repeat": {"vi": "nhắc lại", "en": "repeat"},
    "alert_resolved": {"vi": "đã khắc phục", "en": "resolved"},
    # load tests
    "lt_title": {"vi": "Kiểm thử tải", "en": "Load tests"},
    "lt_intro": {"vi": "Kết quả các lần kiểm thử tải trước khi đưa phiên bản mới vào vận hành: tiêu chí chấp nhận, "
                       "đường cong năng lực và so sánh giữa các phiên bản.",
                 "en": "Load-test runs before a release goes live: acceptance criteria, capacity curve and release "
                       "comparison."},
    "lt_pending": {"vi": "Chưa có số liệu: mô-đun kiểm thử tải chưa được tích hợp vào bảng điều khiển. "
                         "Trang này sẽ hiển thị các lần chạy, kết luận theo tiêu chí, đường cong năng lực và so sánh "
                         "phiên bản khi mô-đun được tích hợp. Không có số liệu nào được hiển thị thay thế.",
                   "en": "No figures yet: the load-test module is not yet part of the dashboard. This page will show "
                         "the runs, criteria verdicts, the capacity curve and the release comparison once it is. "
                         "No stand-in figures are shown."},
    # data page
    "data_title": {"vi": "Dữ liệu: nhập tệp, cách ly, đối soát đồng bộ", "en": "Data: imports, quarantine, sync reconciliation"},
    "data_upload": {"vi": "Nhập tệp xuất hồ sơ (CSV hoặc XLSX)", "en": "Import a dossier export (CSV or XLSX)"},
    "data_upload_help": {"vi": "Tệp được kiểm tra trước; chưa có gì được lưu cho đến khi bạn bấm Nhập. Các cột dữ liệu "
                               "cá nhân (họ tên, số định danh, điện thoại, địa chỉ) bị loại bỏ, không bao giờ lưu.",
                         "en": "The file is checked first; nothing is stored until you press Import. Personal-data "
                               "columns (names, ID numbers, phones, addresses) are dropped, never stored."},
    "data_file": {"vi": "Tệp hồ sơ", "en": "Dossier file"},
    "data_events": {"vi": "Tệp sự kiện (không bắt buộc)", "en": "Events file (optional)"},
    "data_check": {"vi": "Kiểm tra tệp", "en": "Check the file"},
    "data_report": {"vi": "Báo cáo kiểm tra (chưa nhập)", "en": "Validation report (not imported yet)"},
    "data_rows": {"vi": "Số dòng đọc", "en": "Rows read"},
    "data_new": {"vi": "Sẽ thêm mới", "en": "Would add"},
    "data_updated": {"vi": "Sẽ cập nhật", "en": "Would update"},
    "data_unchanged": {"vi": "Không đổi", "en": "Unchanged"},
    "data_quarantined": {"vi": "Dòng lỗi (sẽ cách ly)", "en": "Bad rows (quarantined)"},
    "data_pii": {"vi": "Cột dữ liệu cá nhân bị loại bỏ (không lưu): {cols}", "en": "Personal-data columns dropped (never stored): {cols}"},
    "data_unknown_cols": {"vi": "Cột không nhận diện, bỏ qua: {cols}", "en": "Unknown columns ignored: {cols}"},
    "data_errors": {"vi": "Lỗi theo dòng ({n} lỗi; hiển thị tối đa 200)", "en": "Row errors ({n}; at most 200 shown)"},
    "data_no_errors": {"vi": "Không có dòng lỗi.", "en": "No bad rows."},
    "data_import": {"vi": "Nhập vào kho dữ liệu", "en": "Import into the store"},
    "data_cancel": {"vi": "Huỷ", "en": "Cancel"},
    "data_imported": {"vi": "Đã nhập: {ins} hồ sơ mới, {upd} cập nhật, {q} dòng cách ly. Số liệu đã được tính lại.",
                      "en": "Imported: {ins} new, {upd} updated, {q} rows quarantined. Figures recomputed."},
    "data_refused": {"vi": "Tệp không nhập được: {msg}", "en": "The file cannot be imported: {msg}"},
    "data_quarantine": {"vi": "Khu cách ly: các dòng bị từ chối", "en": "Quarantine: rejected rows"},
    "data_quarantine_empty": {"vi": "Khu cách ly trống.", "en": "The quarantine is empty."},
    "data_batches": {"vi": "Các lần nhập gần đây", "en": "Recent imports"},
    "data_sync": {"vi": "Đối soát đồng bộ với Cổng Dịch vụ công quốc gia", "en": "Sync reconciliation with the National Public Service Portal"},
    "data_sync_list": {"vi": "Hồ sơ chưa đồng bộ (tối đa 500)", "en": "Unsynced dossiers (at most 500)"},
    "col_file": {"vi": "Tệp", "en": "File"},
    "col_row": {"vi": "Dòng", "en": "Row"},
    "col_field": {"vi": "Trường", "en": "Field"},
    "col_value": {"vi": "Giá trị", "en": "Value"},
    "col_message": {"vi": "Lỗi", "en": "Error"},
    "col_status": {"vi": "Trạng thái", "en": "Status"},
    "col_started": {"vi": "Bắt đầu", "en": "Started"},
    "col_rows": {"vi": "Dòng đọc", "en": "Rows read"},
    "col_inserted": {"vi": "Thêm", "en": "Added"},
    "col_updated": {"vi": "Cập nhật", "en": "Updated"},
    "col_quarantined": {"vi": "Cách ly", "en": "Quarantined"},
    "col_problem": {"vi": "Vấn đề", "en": "Problem"},
    "col_synced_at": {"vi": "Đồng bộ lúc", "en": "Synced at"},
    "col_resolved_n": {"vi": "Đã giải quyết", "en": "Resolved"},
    "problem_never_synced": {"vi": "Chưa từng đồng bộ", "en": "Never synced"},
    "problem_synced_before_resolution": {"vi": "Đồng bộ trước khi có kết quả", "en": "Synced before resolution"},
    "problem_status_differs": {"vi": "Trạng thái khác", "en": "Status differs"},
    # reports
    "rp_title": {"vi": "Báo cáo", "en": "Reports"},
    "rp_intro": {"vi": "Báo cáo tháng theo mẫu chính thức (Biểu số 06/VPCP/KSTT) dưới dạng DOCX, XLSX và PDF.",
                 "en": "The monthly briefing in the official form (Biểu số 06/VPCP/KSTT) as DOCX, XLSX and PDF."},
    "rp_month": {"vi": "Tháng báo cáo", "en": "Month"},
    "rp_format": {"vi": "Định dạng", "en": "Format"},
    "rp_fmt_docx": {"vi": "Văn bản Word (DOCX)", "en": "Word document (DOCX)"},
    "rp_fmt_xlsx": {"vi": "Bảng tính Excel (XLSX, Biểu 06)", "en": "Excel workbook (XLSX, Biểu 06)"},
    "rp_fmt_pdf": {"vi": "PDF", "en": "PDF"},
    "rp_agency": {"vi": "Phạm vi báo cáo", "en": "Scope"},
    "rp_province": {"vi": "Toàn tỉnh (tất cả cơ quan, đơn vị)", "en": "Whole province (every agency)"},
    "rp_own_agency": {"vi": "Tài khoản cơ quan: báo cáo chỉ gồm {agency} và các đơn vị trực thuộc.",
                      "en": "Agency account: the briefing covers {agency} and its sub-units only."},
    "rp_generate": {"vi": "Lập báo cáo", "en": "Generate"},
    "rp_generating": {"vi": "Đang lập báo cáo…", "en": "Generating the briefing…"},
    "rp_ready": {"vi": "Đã lập báo cáo tháng {m} ({scope}): {name}, {size}.",
                 "en": "Briefing for {m} ({scope}) ready: {name}, {size}."},
    "rp_failed": {"vi": "Không lập được báo cáo: {msg}", "en": "The briefing could not be made: {msg}"},
    "rp_download": {"vi": "Tải xuống {name}", "en": "Download {name}"},
    "rp_empty_month": {"vi": "Tháng {m} không có hồ sơ nào được tiếp nhận, giải quyết hoặc đang giải quyết tại {scope}: "
                             "báo cáo vẫn được lập và ghi rõ là không có số liệu.",
                       "en": "In {m} no dossier was received, resolved or pending at {scope}: the briefing is still "
                             "produced and says there are no figures."},
    "rp_written": {"vi": "Báo cáo định kỳ đã lập tháng {m}", "en": "Scheduled briefing files for {m}"},
    "rp_written_none": {"vi": "Chưa có tệp báo cáo định kỳ nào cho tháng {m}{folder}. Tác vụ hằng tháng "
                              "lập báo cáo của tháng trước vào ngày {day} hằng tháng.",
                        "en": "No scheduled briefing files for {m} yet{folder}. The monthly job writes last "
                              "month's briefing on day {day} of each month."},
    "rp_written_caption": {"vi": "{name} · {size} · lập lúc {t}", "en": "{name} · {size} · written {t}"},
}


def t(key: str, lang: str = "vi", **kw: object) -> str:
    entry = TEXT.get(key)
    s = key if entry is None else entry.get(lang) or entry["vi"]
    return s.format(**kw) if kw else s


def num(v: object, lang: str = "vi", digits: int = 0) -> str:
    """12345 → '12.345' (vi) / '12,345' (en); None → '–'."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    s = f"{float(v):,.{digits}f}"
    if lang == "vi":
        s = s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return s


def pct(v: object, lang: str = "vi", digits: int = 1) -> str:
    """0.853 → '85,3%' (vi) / '85.3%' (en); None → '–'."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return num(100 * float(v), lang, digits) + "%"


def month_label(m: dt.date | str, lang: str = "vi", short: bool = False) -> str:
    if isinstance(m, str):
        m = dt.date.fromisoformat(m[:7] + "-01")
    if short:
        return f"{m.month:02d}/{m.year % 100:02d}" if lang == "vi" else m.strftime("%b %y")
    return f"{m.month:02d}/{m.year}" if lang == "vi" else m.strftime("%b %Y")


def when(v: dt.datetime | None, lang: str = "vi") -> str:
    if v is None:
        return "–"
    return v.strftime("%H:%M %d/%m/%Y") if lang == "vi" else v.strftime("%Y-%m-%d %H:%M")
