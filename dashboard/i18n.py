"""The dashboard's words: Vietnamese by default, English on the switch. Numbers the way each
language writes them (vi: 12.345 and 85,3%)."""
from __future__ import annotations

import datetime as dt
import math
import re

from config.numbers import NBSP, number, percent
from sla_rules.constants import FLAGS

TEXT: dict[str, dict[str, str]] = {
    "app_title": {"vi": "Giám sát Một cửa điện tử", "en": "One-stop portal monitor"},
    "subtitle": {"vi": "Số liệu độc lập về Hệ thống thông tin giải quyết thủ tục hành chính tỉnh {province}",
                 "en": "Independent figures on the administrative procedure system of {province} province"},
    "page_overview": {"vi": "Tổng quan", "en": "Overview"},
    "page_agency": {"vi": "Cơ quan", "en": "Agency"},
    "page_system": {"vi": "Hệ thống", "en": "System"},
    "page_loadtests": {"vi": "Kiểm thử tải", "en": "Load tests"},
    "page_compliance": {"vi": "Tuân thủ", "en": "Compliance"},
    "page_data": {"vi": "Dữ liệu", "en": "Data"},
    "page_reports": {"vi": "Báo cáo", "en": "Reports"},
    "login_title": {"vi": "Đăng nhập", "en": "Sign in"},
    "login_intro": {"vi": "Trang dành cho cán bộ được cấp tài khoản. Mọi trang đều yêu cầu đăng nhập.",
                    "en": "For officials with an account. Every page requires signing in."},
    "username": {"vi": "Tên đăng nhập", "en": "User name"},
    "password": {"vi": "Mật khẩu", "en": "Password"},
    "login_button": {"vi": "Đăng nhập", "en": "Sign in"},
    "login_failed": {"vi": "Tên đăng nhập hoặc mật khẩu không đúng.", "en": "Wrong user name or password."},
    "login_wait": {"vi": "Vui lòng đợi {s} giây rồi thử đăng nhập lại.",
                   "en": "Wait {s} seconds before signing in again."},
    "login_locked": {"vi": "Tài khoản tạm khoá do đăng nhập sai nhiều lần: vui lòng thử lại sau {m} phút.",
                     "en": "Too many failed sign-ins: the account is locked, try again in {m} minutes."},
    "login_address_locked": {"vi": "Có quá nhiều lần đăng nhập sai từ địa chỉ này: vui lòng thử lại sau {m} phút.",
                             "en": "Too many failed sign-ins from this address: try again in {m} minutes."},
    "login_sso": {"vi": "Đăng nhập bằng {provider}", "en": "Sign in with {provider}"},
    "sso_unknown": {"vi": "Tài khoản {email} chưa được cấp quyền xem trang này. Liên hệ quản trị hệ thống.",
                    "en": "The account {email} has no access yet. Ask the administrator."},
    "no_users": {"vi": "Chưa có tài khoản nào. Quản trị viên tạo tài khoản bằng lệnh: "
                       "`python app.py user add TEN --role admin`",
                 "en": "No accounts yet. An administrator creates one with: "
                       "`python app.py user add NAME --role admin`"},
    "logout": {"vi": "Đăng xuất", "en": "Sign out"},
    "pw_change_title": {"vi": "Đặt mật khẩu mới", "en": "Choose a new password"},
    "pw_change_intro": {"vi": "Tài khoản đang dùng mật khẩu khởi tạo. Hãy đặt mật khẩu mới (ít nhất {n} ký tự) "
                              "trước khi sử dụng; sau đó tệp chứa mật khẩu khởi tạo sẽ được xoá.",
                        "en": "This account still has its initial password. Choose a new one (at least {n} "
                              "characters) before going on; the file holding the initial password is then deleted."},
    "pw_new": {"vi": "Mật khẩu mới", "en": "New password"},
    "pw_again": {"vi": "Nhập lại mật khẩu mới", "en": "Repeat the new password"},
    "pw_change_button": {"vi": "Đổi mật khẩu", "en": "Change the password"},
    "pw_mismatch": {"vi": "Hai mật khẩu không khớp nhau.", "en": "The two passwords differ."},
    "pw_too_short": {"vi": "Mật khẩu phải có ít nhất {n} ký tự.", "en": "The password needs at least {n} characters."},
    "pw_too_long": {"vi": "Mật khẩu dài quá {n} byte.", "en": "The password is longer than {n} bytes."},
    "pw_same": {"vi": "Hãy chọn mật khẩu khác mật khẩu khởi tạo.",
                "en": "Choose a password other than the initial one."},
    "pw_failed": {"vi": "Không đổi được mật khẩu: {msg}", "en": "The password could not be changed: {msg}"},
    "pw_changed": {"vi": "Đã đổi mật khẩu; tệp mật khẩu khởi tạo đã được xoá.",
                   "en": "Password changed; the initial password's file was deleted."},
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
    "ag_no_procedure": {"vi": "(hồ sơ không ghi mã thủ tục)", "en": "(dossiers without a procedure code)"},
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
    "ov_no_last_year": {"vi": "Chưa có số liệu cùng kỳ năm trước ({m}) để so sánh.",
                        "en": "No figures for the same month last year ({m}) to compare with."},
    "ov_dossiers": {"vi": "Số hồ sơ", "en": "Dossiers"},
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
    # the month-end forecast block (dashboard/forecast.py; the readings: store/forecast_queries.py)
    "fc_title": {"vi": "Dự báo cuối tháng {m}: tỷ lệ đúng hạn và điểm 766",
                 "en": "Month-end forecast {m}: on-time ratio and 766 score"},
    "fc_now": {"vi": "Hiện tại", "en": "As it stands"},
    "fc_best": {"vi": "Tốt nhất", "en": "Best case"},
    "fc_worst": {"vi": "Xấu nhất", "en": "Worst case"},
    "fc_score": {"vi": "Điểm 766: {v}", "en": "766 score: {v}"},
    "fc_now_help": {"vi": "Số liệu của tháng theo lần tính lại gần nhất, như Biểu 06.",
                    "en": "The month's figures as the last recompute left them, as in Biểu 06."},
    "fc_best_help": {"vi": "Mọi hồ sơ đang giải quyết còn trong hạn được giải quyết đúng hạn trong tháng; hồ sơ "
                           "đã quá hạn vẫn đang giải quyết (giải quyết chúng chỉ làm giảm tỷ lệ).",
                     "en": "Every pending dossier still in time is resolved by its deadline within the month; those "
                           "already overdue stay pending (resolving them could only lower the ratio)."},
    "fc_worst_help": {"vi": "Mọi hồ sơ đang giải quyết có hạn xử lý trước khi hết tháng, kể cả hồ sơ đã quá hạn, "
                            "được giải quyết quá hạn trong tháng; hồ sơ có hạn sau cuối tháng vẫn đang giải quyết.",
                      "en": "Every pending dossier due before the month's end, those already overdue too, is "
                            "resolved late within the month; those due later stay pending."},
    "fc_caption": {"vi": "Tính từ số liệu đến {t}. Hồ sơ chờ bổ sung được tính là trong hạn; hồ sơ không có thời "
                         "hạn không thể quá hạn; hồ sơ sẽ tiếp nhận sau thời điểm này chưa biết nên không được tính.",
                   "en": "From the figures as of {t}. Dossiers waiting for a supplement count as in time; those "
                         "without a deadline cannot be late; dossiers received after that instant are unknown and "
                         "not counted."},
    "fc_col_at_risk": {"vi": "Có thể trễ trong tháng", "en": "May end late this month"},
    "fc_at_risk_help": {"vi": "Hồ sơ đang quá hạn và hồ sơ còn trong hạn có hạn xử lý trước cuối tháng: kịch bản "
                              "xấu nhất tính chúng là giải quyết quá hạn.",
                        "en": "Dossiers pending overdue and those in time due before the month's end: the worst "
                              "case counts them resolved late."},
    "fc_col_ratio_now": {"vi": "Tỷ lệ hiện tại", "en": "Ratio now"},
    "fc_col_ratio_best": {"vi": "Tỷ lệ tốt nhất", "en": "Ratio best"},
    "fc_col_ratio_worst": {"vi": "Tỷ lệ xấu nhất", "en": "Ratio worst"},
    "fc_col_score_now": {"vi": "Điểm hiện tại", "en": "Score now"},
    "fc_col_score_best": {"vi": "Điểm tốt nhất", "en": "Score best"},
    "fc_col_score_worst": {"vi": "Điểm xấu nhất", "en": "Score worst"},
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
    # due soon (Tổng quan and Cơ quan)
    "ix_title": {"vi": "Bộ chỉ số 766 (ước tính), tháng {m}", "en": "The 766 scorecard (estimate), {m}"},
    "ix_estimate": {"vi": "Số ước tính từ dữ liệu hồ sơ, không phải điểm chính thức: trọng số và cách tính đang áp "
                          "dụng chưa được xác nhận. Căn cứ: {decision}; có dự thảo sửa đổi theo {revision}. Nhóm "
                          "chưa đo được hiện “–” (rê chuột vào dấu ? để xem lý do).",
                    "en": "An estimate from the dossiers' data, not the official score: the weights and formulas in "
                          "force are not confirmed. Source: {decision}; a revision draft per {revision}. A group not "
                          "measured shows “–” (the ? says why)."},
    "ix_max": {"vi": "Tối đa {n} điểm.", "en": "At most {n} points."},
    "ix_not_measured": {"vi": "{why}. Nhóm này không được cộng vào tổng.", "en": "{why}. Not added to the total."},
    "ix_total": {"vi": "Tổng các nhóm đo được", "en": "Total of the measured groups"},
    "ix_total_help": {"vi": "Cộng điểm của {n}/{all} nhóm đo được, so với tổng điểm tối đa của các nhóm đó.",
                      "en": "The points of the {n} of {all} groups measured, against those groups' maximum."},
    "ix_col_total": {"vi": "Tổng điểm", "en": "Total"},
    "ix_col_max": {"vi": "Tối đa", "en": "Max"},
    "ix_table_caption": {"vi": "Điểm ước tính theo nhóm của từng cơ quan (tính cả đơn vị trực thuộc), thấp nhất "
                               "trước; “–”: nhóm chưa đo được.",
                         "en": "Each agency's estimated points per group (its sub-units included), lowest first; "
                               "“–”: not measured."},
    "ix_rank_title": {"vi": "Thứ hạng theo điểm 766 ước tính, {n} tháng", "en": "Rank by the estimated 766 score, {n} months"},
    "ix_rank_none": {"vi": "Chưa có cơ quan nào được xếp hạng trong tháng này.", "en": "No agency is ranked this month."},
    "ix_col_rank": {"vi": "Hạng", "en": "Rank"},
    "ix_col_move": {"vi": "So với tháng trước", "en": "Since last month"},
    "ix_col_history": {"vi": "Hạng các tháng (cũ → mới)", "en": "Ranks (oldest → newest)"},
    "ix_history_help": {"vi": "Hạng của cơ quan trong {n} tháng, tháng cũ nhất trước; “–”: tháng đó chưa xếp hạng.",
                        "en": "The agency's rank over {n} months, oldest first; “–”: not ranked that month."},
    "ix_rank_caption": {"vi": "Hạng 1 là tỷ lệ tổng điểm ước tính trên điểm tối đa của các nhóm đo được cao nhất "
                              "(trong cấp đã chọn); bằng nhau thì cùng hạng; cơ "
                              "quan chưa đo được nhóm nào không được xếp hạng. ▲ lên, ▼ xuống bao nhiêu bậc so với "
                              "tháng trước, “=” giữ nguyên. Thấp nhất trước.",
                        "en": "Rank 1 is the highest estimated total against the measured groups' maximum (within "
                              "the level chosen); equal shares share a rank; an agency with no group measured is not ranked. ▲ up, ▼ down by that many places "
                              "since last month, “=” unchanged. Lowest first."},
    "ix_losses_title": {"vi": "Điểm mất ở đâu", "en": "Where the points go"},
    "ix_due_soon": {"vi": "Hồ sơ sắp đến hạn ({days} ngày làm việc)", "en": "Due within {days} working days"},
    "ix_saved": {"vi": "Điểm giữ được nếu giải quyết kịp", "en": "Points saved if resolved in time"},
    "ix_saved_help": {"vi": "20 × số hồ sơ sắp đến hạn / mẫu số của điểm tiến độ trong tháng ({d} hồ sơ): mỗi hồ "
                            "sơ sắp đến hạn được giải quyết đúng hạn sẽ được tính là đúng hạn trong tháng này thay "
                            "vì trễ hạn.",
                      "en": "20 × the dossiers due soon / the month's denominator of the progress score ({d} "
                            "dossiers): each dossier due soon resolved in time counts as on time this month instead "
                            "of late."},
    "ix_saved_caption": {"vi": "Hồ sơ sắp đến hạn tính đến {t}, so với mẫu số của tháng {m}. Bảng dưới: các thủ tục "
                               "làm cơ quan mất nhiều điểm tiến độ nhất trong tháng.",
                         "en": "Dossiers due soon as of {t}, against {m}'s denominator. Below: the procedures that "
                               "cost the agency the most progress points this month."},
    "ix_col_lost": {"vi": "Điểm bị mất", "en": "Points lost"},
    "ix_col_unearned": {"vi": "Điểm chưa đạt", "en": "Points not earned"},
    "ix_lost_help": {"vi": "20 × số hồ sơ trễ hạn của thủ tục / mẫu số của cơ quan: phần điểm tiến độ thủ tục "
                           "này làm cơ quan mất.",
                     "en": "20 × the procedure's overdue dossiers / the agency's denominator: the progress points "
                           "it costs the agency."},
    "ix_unearned_help": {"vi": "Tính cả hồ sơ còn đang giải quyết hoặc chưa giải quyết đúng hạn: điểm tiến độ của "
                               "cơ quan cộng các số này bằng 20.",
                         "en": "Also counts the dossiers still pending or not resolved in time: the agency's "
                               "progress score plus these adds up to 20."},
    "ix_no_losses": {"vi": "Không thủ tục nào làm mất điểm tiến độ trong tháng này.",
                     "en": "No procedure cost progress points this month."},
    "ds_title": {"vi": "Hồ sơ sắp đến hạn", "en": "Dossiers due soon"},
    "ds_caption": {"vi": "Hồ sơ đang giải quyết, còn hạn, có thời gian làm việc còn lại không quá {days} ngày làm việc "
                         "(không tính ngày nghỉ, ngày lễ và ngoài giờ hành chính), tính đến {t}.",
                   "en": "Pending dossiers in time with at most {days} working days of office time left (days off, "
                         "holidays and hours outside office hours do not count), as of {t}."},
    "ds_due": {"vi": "Sắp đến hạn ({days} ngày làm việc)", "en": "Due within {days} working days"},
    "ds_one_day": {"vi": "Còn không quá 1 ngày làm việc", "en": "Within 1 working day"},
    "ds_agencies": {"vi": "Số cơ quan có hồ sơ sắp đến hạn", "en": "Agencies with dossiers due soon"},
    "ds_none": {"vi": "Không có hồ sơ nào sắp đến hạn.", "en": "No dossier is due soon."},
    "ds_days": {"vi": "Trong vòng (ngày làm việc)", "en": "Within (working days)"},
    "ds_shown": {"vi": "Hiển thị {n} hồ sơ (gấp nhất trước).", "en": "{n} dossiers shown (most urgent first)."},
    "ds_download": {"vi": "Tải danh sách hồ sơ sắp đến hạn (CSV)", "en": "Download the due-soon list (CSV)"},
    "col_due_at": {"vi": "Hạn xử lý", "en": "Deadline"},
    "col_time_left": {"vi": "Thời gian làm việc còn lại", "en": "Working time left"},
    "col_due_soon": {"vi": "Sắp đến hạn", "en": "Due soon"},
    "col_within_one_day": {"vi": "Trong 1 ngày làm việc", "en": "Within 1 working day"},
    "col_most_urgent": {"vi": "Hồ sơ gấp nhất còn", "en": "Most urgent: time left"},
    # agency page
    "ag_title": {"vi": "Cơ quan: thủ tục và hồ sơ quá hạn", "en": "Agency: procedures and overdue dossiers"},
    "ag_choose": {"vi": "Cơ quan", "en": "Agency"},
    "ag_procedures": {"vi": "Thủ tục của cơ quan trong tháng", "en": "The agency's procedures this month"},
    "ag_overdue": {"vi": "Hồ sơ quá hạn và đang quá hạn", "en": "Overdue and pending-overdue dossiers"},
    "ag_download": {"vi": "Tải danh sách (CSV)", "en": "Download the list (CSV)"},
    "ag_none_overdue": {"vi": "Không có hồ sơ quá hạn trong tháng này.", "en": "No overdue dossiers this month."},
    "ag_shown": {"vi": "Hiển thị {n} hồ sơ (nhiều ngày trễ nhất trước).", "en": "{n} dossiers shown (most days late first)."},
    "ag_findings": {"vi": "Dữ kiện bất thường trong số liệu của hệ thống", "en": "Odd facts in the vendor's data"},
    "ag_findings_caption": {
        "vi": "Hồ sơ giải quyết trong tháng (hoặc tiếp nhận trong tháng mà chưa giải quyết) có dữ kiện bộ tính hạn "
              "không dùng hoặc xét theo cách khác: yêu cầu bổ sung sau khi đã quá hạn, nhận bổ sung khi không có yêu "
              "cầu và bổ sung ghi sau ngày có kết quả không được tính; hồ sơ có trạng thái mâu thuẫn (đang xử lý nhưng "
              "có ngày có kết quả) được xét theo ngày có kết quả.",
        "en": "Dossiers resolved this month (or received this month and not resolved) with facts the deadline engine "
              "ignored or read otherwise: a supplement request after the deadline, a receipt with no request and "
              "supplement facts dated after the result are ignored; an inconsistent state (processing, with a result "
              "date) is judged by the result date."},
    "ag_negative_excluded": {
        "vi": "Hồ sơ từ chối hoặc trả lại sau khi đã quá hạn không được tính vào tỷ lệ đúng hạn (mặc định của bộ quy "
              "tắc); chưa có văn bản quy định rõ cách tính các hồ sơ này.",
        "en": "Refusals and hand-backs after the deadline are left out of the on-time ratio (the rule set's default); "
              "no legal text settles how they should count."},
    "ag_negative_overdue": {
        "vi": "Theo bộ quy tắc đang áp dụng, hồ sơ từ chối hoặc trả lại sau khi đã quá hạn được tính là giải quyết quá "
              "hạn; chưa có văn bản quy định rõ cách tính các hồ sơ này.",
        "en": "The rule set in use counts refusals and hand-backs after the deadline as resolved overdue; no legal "
              "text settles how they should count."},
    "ag_no_findings": {"vi": "Không có hồ sơ nào có dữ kiện bất thường trong tháng này.",
                       "en": "No dossier with odd facts this month."},
    "ag_findings_shown": {"vi": "Hiển thị {n} hồ sơ.", "en": "{n} dossiers shown."},
    "col_finding": {"vi": "Dữ kiện bất thường", "en": "Finding"},
    "col_finding_count": {"vi": "Số hồ sơ", "en": "Dossiers"},
    "ov_findings": {"vi": "Dữ kiện bất thường trong tháng (số hồ sơ): {items}.",
                    "en": "Odd facts this month (dossiers): {items}."},
    # system page: the public status page's incidents
    "sp_title": {"vi": "Trang trạng thái công khai: sự cố", "en": "Public status page: incidents"},
    "sp_intro": {"vi": "Người dân đọc các thông báo này trên trang trạng thái công khai ({url}), không cần đăng nhập. "
                       "Sự cố được mở tự động khi có cảnh báo về một dịch vụ, với nội dung soạn sẵn; quản trị viên sửa "
                       "nội dung, đăng cập nhật và đánh dấu đã khắc phục tại đây. Mọi thay đổi đều được lưu lại.",
                 "en": "Citizens read these notices on the public status page ({url}), with no sign-in. An incident "
                       "opens by itself when an alert fires for a service, with a prepared message; administrators "
                       "edit it, post updates and resolve it here. Every change is kept."},
    "sp_disabled": {"vi": "trang đang tắt: status_page.enabled", "en": "turned off: status_page.enabled"},
    "sp_none": {"vi": "Không có sự cố nào đang mở hoặc được khắc phục trong 30 ngày qua.",
                "en": "No incident open or resolved in the last 30 days."},
    "sp_col_id": {"vi": "Số", "en": "No."},
    "sp_col_service": {"vi": "Dịch vụ", "en": "Service"},
    "sp_col_title": {"vi": "Tiêu đề", "en": "Title"},
    "sp_col_impact": {"vi": "Mức ảnh hưởng", "en": "Impact"},
    "sp_col_status": {"vi": "Trạng thái", "en": "Status"},
    "sp_col_opened": {"vi": "Bắt đầu", "en": "Opened"},
    "sp_col_opened_by": {"vi": "Người mở", "en": "Opened by"},
    "sp_col_resolved": {"vi": "Khắc phục lúc", "en": "Resolved"},
    "sp_col_actor": {"vi": "Người thực hiện", "en": "By"},
    "sp_col_action": {"vi": "Thao tác", "en": "Action"},
    "sp_col_message": {"vi": "Nội dung thông báo", "en": "Message"},
    "sp_monitor": {"vi": "hệ thống giám sát", "en": "the monitor"},
    "sp_action_open": {"vi": "mở sự cố", "en": "opened"},
    "sp_action_post": {"vi": "đăng cập nhật", "en": "update posted"},
    "sp_action_edit": {"vi": "sửa nội dung", "en": "text corrected"},
    "sp_action_resolve": {"vi": "đánh dấu đã khắc phục", "en": "resolved"},
    "sp_action_join": {"vi": "thêm cảnh báo", "en": "alert joined"},
    "sp_history": {"vi": "Lịch sử thay đổi của sự cố số {id}", "en": "History of incident {id}"},
    "sp_pick": {"vi": "Sự cố", "en": "Incident"},
    "sp_new": {"vi": "Tạo sự cố mới", "en": "Open an incident"},
    "sp_service": {"vi": "Dịch vụ bị ảnh hưởng", "en": "Service affected"},
    "sp_title_vi": {"vi": "Tiêu đề (tiếng Việt)", "en": "Title (Vietnamese)"},
    "sp_title_en": {"vi": "Tiêu đề (tiếng Anh)", "en": "Title (English)"},
    "sp_message_vi": {"vi": "Thông báo cho người dân (tiếng Việt)", "en": "Message to citizens (Vietnamese)"},
    "sp_message_en": {"vi": "Thông báo cho người dân (tiếng Anh, có thể để trống)", "en": "Message to citizens (English, optional)"},
    "sp_impact": {"vi": "Mức ảnh hưởng", "en": "Impact"},
    "sp_status": {"vi": "Trạng thái", "en": "Status"},
    "sp_open_submit": {"vi": "Đăng sự cố", "en": "Post the incident"},
    "sp_post": {"vi": "Đăng cập nhật mới", "en": "Post an update"},
    "sp_post_submit": {"vi": "Đăng cập nhật", "en": "Post the update"},
    "sp_edit": {"vi": "Sửa nội dung đang hiển thị", "en": "Correct the text shown"},
    "sp_edit_help": {"vi": "Sửa lỗi chính tả hoặc diễn đạt, không tạo mục mới trên trang; nội dung cũ vẫn được lưu "
                           "trong lịch sử.",
                     "en": "Fix a typo or a wording without a new entry on the page; the old text stays in the history."},
    "sp_edit_submit": {"vi": "Lưu nội dung đã sửa", "en": "Save the corrected text"},
    "sp_resolve": {"vi": "Đánh dấu đã khắc phục", "en": "Resolve"},
    "sp_resolve_help": {"vi": "Để trống để dùng thông báo soạn sẵn: «{msg}»", "en": "Leave empty for the prepared message: “{msg}”"},
    "sp_resolve_submit": {"vi": "Đã khắc phục", "en": "Resolved"},
    "sp_admin_only": {"vi": "Chỉ tài khoản quản trị được đăng, sửa và đóng sự cố.",
                      "en": "Only administrator accounts post, edit and resolve incidents."},
    "sp_done_open": {"vi": "Đã đăng sự cố số {id} lên trang trạng thái.", "en": "Incident {id} is on the status page."},
    "sp_done_post": {"vi": "Đã đăng cập nhật cho sự cố số {id}.", "en": "Update posted on incident {id}."},
    "sp_done_edit": {"vi": "Đã sửa nội dung sự cố số {id}.", "en": "Incident {id} corrected."},
    "sp_done_resolve": {"vi": "Sự cố số {id} đã được đánh dấu đã khắc phục.", "en": "Incident {id} is resolved."},
    "sp_refused": {"vi": "Không thực hiện được: {msg}", "en": "Not done: {msg}"},
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
    "sys_load_none": {"vi": "Chưa có lần kiểm thử tải nào trong kho dữ liệu, nên chưa có số liệu độ trễ theo số người "
                            "dùng đồng thời. Chạy `python app.py loadtest` để đo; kết quả xem chi tiết ở trang Kiểm thử tải.",
                      "en": "No load-test run in the store yet, so there are no figures of latency against concurrent "
                            "users. Run `python app.py loadtest` to measure; the details are on the Load tests page."},
    "sys_load_caption": {"vi": "p95 của tất cả yêu cầu theo số người dùng đang chạy, mỗi điểm là một khoảng đo của "
                               "một lần kiểm thử tải ({n} lần gần nhất).",
                         "en": "p95 of all requests against the users running, one point per interval of a load-test "
                               "run (the latest {n} runs)."},
    # system page: the locations probes measure from (the central and remote agents)
    "sys_locations": {"vi": "Điểm đo", "en": "Locations"},
    "sys_location": {"vi": "Điểm đo", "en": "Location"},
    "sys_location_all": {"vi": "Tất cả", "en": "All"},
    "sys_locations_central_only": {"vi": "Chỉ máy chủ trung tâm đo; chưa có điểm đo từ xa.",
                                   "en": "Only the central server measures; no remote location yet."},
    "sys_locations_caption": {"vi": "Một sự cố được coi là của cổng khi phép kiểm tra thất bại từ ít nhất {k} điểm đo "
                                    "đang báo về (hoặc từ tất cả, khi ít điểm hơn); thất bại chỉ từ ít điểm hơn là trục "
                                    "trặc của riêng điểm đo đó. Một điểm đo được coi là đang báo về khi kết quả mới nhất "
                                    "của nó không quá {m} phút.",
                              "en": "An outage is the portal's when a check fails from at least {k} reporting locations "
                                    "(or from all of them, when fewer report); a failure from fewer is that location's own "
                                    "trouble. A location counts as reporting while its newest result is at most {m} "
                                    "minutes old."},
    "loc_col_title": {"vi": "Điểm đo", "en": "Location"},
    "loc_col_last": {"vi": "Kết quả mới nhất", "en": "Newest result"},
    "loc_col_fresh": {"vi": "Tình trạng", "en": "Reporting"},
    "loc_fresh": {"vi": "đang báo về", "en": "reporting"},
    "loc_stale": {"vi": "đã ngừng báo về", "en": "stopped reporting"},
    "loc_never": {"vi": "chưa có kết quả", "en": "no result yet"},
    "loc_col_results": {"vi": "Kết quả trong 1 giờ", "en": "Results, last hour"},
    "loc_col_failures": {"vi": "Lỗi trong 1 giờ", "en": "Failures, last hour"},
    "loc_col_failing": {"vi": "Đang thất bại", "en": "Failing now"},
    "loc_col_version": {"vi": "Phiên bản chương trình đo", "en": "Agent version"},
    "loc_col_batches": {"vi": "Số lô đã nhận", "en": "Batches"},
    "loc_col_duplicates": {"vi": "Kết quả gửi lặp", "en": "Sent again"},
    "loc_none_failing": {"vi": "không có", "en": "none"},
    "sys_only_at": {"vi": "Chỉ thất bại từ điểm đo {where} (các điểm đo khác vẫn truy cập được):",
                    "en": "Failing only from {where} (the other locations reach it):"},
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
    "unit_hours": {"vi": "giờ", "en": "h"},
    "unit_minutes": {"vi": "phút", "en": "min"},
    "sys_failure_pct": {"vi": "Lỗi (%)", "en": "Failures (%)"},
    "phase_transfer": {"vi": "Truyền dữ liệu", "en": "Transfer"},
    "sys_burn_caption": {"vi": "Tốc độ tiêu hao: tỷ lệ lỗi (hoặc chậm) trong cửa sổ chia cho ngân sách lỗi của SLO; "
                               "1× là tiêu hết ngân sách đúng vào cuối kỳ. Ô tô đỏ: đã tới ngưỡng cảnh báo.",
                         "en": "Burn rate: the window's failure (or slow) ratio over the SLO's error budget; 1× spends "
                               "the budget exactly by the end of the period. Red: at or over the alerting limit."},
    "lt_users_short": {"vi": "người dùng", "en": "users"},
    "alert_firing": {"vi": "bắt đầu", "en": "firing"},
    "alert_repeat": {"vi": "nhắc lại", "en": "repeat"},
    "alert_resolved": {"vi": "đã khắc phục", "en": "resolved"},
    # load tests
    "lt_title": {"vi": "Kiểm thử tải", "en": "Load tests"},
    "lt_intro": {"vi": "Kết quả các lần kiểm thử tải trước khi đưa phiên bản mới vào vận hành: tiêu chí chấp nhận, "
                       "đường cong năng lực và so sánh giữa các phiên bản.",
                 "en": "Load-test runs before a release goes live: acceptance criteria, capacity curve and release "
                       "comparison."},
    "lt_none": {"vi": "Chưa có lần kiểm thử tải nào trong kho dữ liệu.",
                "en": "No load-test run in the store yet."},
    "lt_none_hint": {"vi": "Chạy một lần kiểm thử tải bằng lệnh `python app.py loadtest --scenario smoke --target "
                           "URL --release NHÃN`; kết quả được lưu và hiển thị tại đây.",
                     "en": "Run one with `python app.py loadtest --scenario smoke --target URL --release LABEL`; "
                           "the run is stored and shown here."},
    "lt_rps": {"vi": "Thông lượng (yêu cầu/giây)", "en": "Throughput (req/s)"},
    "lt_scenario": {"vi": "Kịch bản", "en": "Scenario"},
    "lt_release": {"vi": "Phiên bản", "en": "Release"},
    "lt_all": {"vi": "Tất cả", "en": "All"},
    "lt_runs": {"vi": "Các lần kiểm thử (mới nhất trước)", "en": "Runs (newest first)"},
    "lt_run": {"vi": "Xem lần kiểm thử", "en": "Run to show"},
    "lt_run_title": {"vi": "Lần kiểm thử {run} (phiên bản {release})", "en": "Run {run} (release {release})"},
    "lt_run_caption": {"vi": "Trạng thái: {status} · kịch bản {scenario} · đích {target} · bắt đầu {started}, kết thúc "
                             "{finished} · {workers} tiến trình tạo tải · bộ tiêu chí {criteria}",
                       "en": "Status: {status} · scenario {scenario} · target {target} · started {started}, finished "
                             "{finished} · {workers} generator process(es) · criteria set {criteria}"},
    "lt_message": {"vi": "Ghi chú của lần chạy: {msg}", "en": "The run's note: {msg}"},
    "lt_overloaded": {"vi": "Máy tạo tải bị quá tải (CPU tới {cpu}% một lõi): độ trễ đo được không hoàn toàn do cổng "
                            "dịch vụ công, kết luận của lần chạy này không đáng tin cậy. Hãy chạy lại với nhiều "
                            "tiến trình tạo tải hơn (`--workers`).",
                      "en": "The load generator was overloaded (CPU up to {cpu}% of a core): the latency measured is "
                            "not the portal's alone and this run's verdict cannot be trusted. Run again with more "
                            "generator processes (`--workers`)."},
    "lt_failed_banner": {"vi": "Lần chạy KHÔNG ĐẠT tiêu chí chấp nhận.", "en": "The run FAILED its acceptance criteria."},
    "lt_passed_banner": {"vi": "Lần chạy ĐẠT mọi tiêu chí chấp nhận.", "en": "The run PASSED every acceptance criterion."},
    "lt_report": {"vi": "Tải báo cáo HTML của lần chạy", "en": "Download the run's HTML report"},
    "lt_no_report": {"vi": "Chưa có tệp báo cáo HTML cho lần chạy này (tạo bằng `python app.py loadtest report {run}`).",
                     "en": "No HTML report file for this run (build it with `python app.py loadtest report {run}`)."},
    "lt_verdicts": {"vi": "Kết luận theo tiêu chí chấp nhận", "en": "Acceptance criteria verdicts"},
    "lt_no_verdicts": {"vi": "Lần chạy này không được đánh giá theo tiêu chí nào.", "en": "This run was judged against no criteria."},
    "lt_endpoints": {"vi": "Phân vị độ trễ theo điểm cuối", "en": "Percentiles per endpoint"},
    "lt_over_time": {"vi": "Độ trễ, thông lượng và số người dùng theo thời gian", "en": "Latency, throughput and users over time"},
    "lt_latency_ms": {"vi": "Độ trễ (ms)", "en": "Latency (ms)"},
    "lt_throughput": {"vi": "Thông lượng (yêu cầu/giây) và lỗi", "en": "Throughput (requests/s) and failures"},
    "lt_users": {"vi": "Người dùng đồng thời", "en": "Concurrent users"},
    "lt_seconds": {"vi": "Giây kể từ khi bắt đầu", "en": "Seconds since the start"},
    "lt_capacity": {"vi": "Đường cong năng lực (chạy bậc thang)", "en": "Capacity curve (step run)"},
    "lt_knee_users": {"vi": "Điểm gãy (người dùng)", "en": "Knee (users)"},
    "lt_capacity_users": {"vi": "Năng lực chịu tải (người dùng)", "en": "Capacity (users)"},
    "lt_capacity_rps": {"vi": "Thông lượng ở năng lực (yêu cầu/giây)", "en": "Throughput at capacity (req/s)"},
    "lt_knee_at": {"vi": "Điểm gãy: {users} người dùng", "en": "Knee: {users} users"},
    "lt_no_knee": {"vi": "Độ trễ chưa rời khỏi mức nền ở bậc nào: chưa tìm thấy điểm gãy.",
                   "en": "Latency never left its plateau: no knee found."},
    "lt_failures": {"vi": "Lỗi và thông báo lỗi", "en": "Failures and their messages"},
    "lt_no_failures": {"vi": "Không có yêu cầu nào lỗi trong lần chạy này.", "en": "No request failed in this run."},
    "lt_compare": {"vi": "So sánh hai lần kiểm thử (hai phiên bản)", "en": "Release comparison of two runs"},
    "lt_compare_help": {"vi": "A là lần gốc, B là lần so sánh. Một thay đổi “vượt nhiễu” khi p < 0,05 và thay đổi ít nhất "
                              "10% (và 5 ms); các điểm cuối kém đi được tô đỏ.",
                        "en": "A is the baseline, B the candidate. A change is beyond noise when p < 0.05 and it is at "
                              "least 10% (and 5 ms); endpoints that regressed are highlighted in red."},
    "lt_compare_needs_two": {"vi": "Cần ít nhất hai lần chạy của kịch bản {scenario} để so sánh.",
                             "en": "A comparison needs at least two runs of the scenario {scenario}."},
    "lt_compare_same": {"vi": "Chọn hai lần chạy khác nhau để so sánh.", "en": "Choose two different runs to compare."},
    "lt_compare_nothing": {"vi": "Hai lần chạy không có điểm cuối chung.", "en": "The two runs share no endpoint."},
    "lt_run_a": {"vi": "Lần gốc (A)", "en": "Baseline run (A)"},
    "lt_run_b": {"vi": "Lần so sánh (B)", "en": "Candidate run (B)"},
    "lt_regressed": {"vi": "{n} điểm cuối kém đi vượt mức nhiễu: {names}", "en": "{n} endpoints regressed beyond noise: {names}"},
    "lt_no_regression": {"vi": "Không có điểm cuối nào kém đi vượt mức nhiễu.", "en": "No endpoint regressed beyond noise."},
    "lt_compare_detail": {"vi": "Chi tiết kiểm định từng chỉ số", "en": "Test details per metric"},
    "lt_all_requests": {"vi": "Tất cả yêu cầu", "en": "All requests"},
    "lt_col_run": {"vi": "Mã lần chạy", "en": "Run"},
    "lt_col_started": {"vi": "Bắt đầu", "en": "Started"},
    "lt_col_scenario": {"vi": "Kịch bản", "en": "Scenario"},
    "lt_col_release": {"vi": "Phiên bản", "en": "Release"},
    "lt_col_verdict": {"vi": "Kết luận", "en": "Verdict"},
    "lt_col_users": {"vi": "Người dùng (đỉnh)", "en": "Users (peak)"},
    "lt_col_requests": {"vi": "Số yêu cầu", "en": "Requests"},
    "lt_col_error_rate": {"vi": "Tỷ lệ lỗi", "en": "Error rate"},
    "lt_col_knee": {"vi": "Điểm gãy", "en": "Knee"},
    "lt_col_criterion": {"vi": "Bộ tiêu chí", "en": "Criteria set"},
    "lt_col_endpoint": {"vi": "Điểm cuối", "en": "Endpoint"},
    "lt_col_expression": {"vi": "Ngưỡng", "en": "Threshold"},
    "lt_col_observed": {"vi": "Đo được", "en": "Observed"},
    "lt_col_result": {"vi": "Kết quả", "en": "Result"},
    "lt_col_at_users": {"vi": "Đánh giá ở (người dùng)", "en": "Judged at (users)"},
    "lt_col_required_users": {"vi": "Yêu cầu (người dùng)", "en": "Required (users)"},
    "lt_col_window": {"vi": "Thời gian đánh giá", "en": "Judged over"},
    "lt_col_note": {"vi": "Ghi chú", "en": "Note"},
    "lt_col_kind": {"vi": "Loại", "en": "Kind"},
    "lt_col_step": {"vi": "Bậc", "en": "Step"},
    "lt_col_planned": {"vi": "Dự kiến", "en": "Planned"},
    "lt_col_error": {"vi": "Thông báo lỗi", "en": "Error message"},
    "lt_col_occurrences": {"vi": "Số lần", "en": "Occurrences"},
    "lt_col_first": {"vi": "Lần đầu (giây)", "en": "First seen (s)"},
    "lt_col_beyond_noise": {"vi": "Vượt nhiễu", "en": "Beyond noise"},
    "lt_col_regressed": {"vi": "Kém đi", "en": "Regressed"},
    "lt_col_metric": {"vi": "Chỉ số", "en": "Metric"},
    "lt_col_change": {"vi": "Thay đổi", "en": "Change"},
    "lt_pass": {"vi": "Đạt", "en": "Pass"},
    "lt_fail": {"vi": "Không đạt", "en": "Fail"},
    "lt_status_running": {"vi": "đang chạy", "en": "running"},
    "lt_status_completed": {"vi": "hoàn thành", "en": "completed"},
    "lt_status_interrupted": {"vi": "bị dừng", "en": "interrupted"},
    "lt_status_failed": {"vi": "lỗi khi chạy", "en": "failed"},
    "lt_status_refused": {"vi": "bị từ chối", "en": "refused"},
    "lt_verdict_pass": {"vi": "Đạt", "en": "Pass"},
    "lt_verdict_fail": {"vi": "Không đạt", "en": "Fail"},
    "lt_verdict_none": {"vi": "Chưa đánh giá", "en": "Not judged"},
    "lt_kind_request": {"vi": "yêu cầu", "en": "request"},
    "lt_kind_journey": {"vi": "hành trình", "en": "journey"},
    "lt_kind_aggregate": {"vi": "tổng", "en": "all"},
    "lt_stat_avg": {"vi": "trung bình", "en": "mean"},
    "lt_stat_min": {"vi": "nhỏ nhất", "en": "min"},
    "lt_stat_max": {"vi": "lớn nhất", "en": "max"},
    "lt_metric_p50_ms": {"vi": "p50 (ms)", "en": "p50 (ms)"},
    "lt_metric_p95_ms": {"vi": "p95 (ms)", "en": "p95 (ms)"},
    "lt_metric_p99_ms": {"vi": "p99 (ms)", "en": "p99 (ms)"},
    "lt_metric_rps": {"vi": "Thông lượng (req/s)", "en": "Throughput (req/s)"},
    "lt_metric_error_rate": {"vi": "Tỷ lệ lỗi", "en": "Error rate"},
    "lt_cmp_regressed": {"vi": "kém đi", "en": "regressed"},
    "lt_cmp_improved": {"vi": "tốt lên", "en": "improved"},
    "lt_cmp_unchanged": {"vi": "không đổi", "en": "unchanged"},
    "lt_cmp_noise": {"vi": "trong mức nhiễu", "en": "within noise"},
    "lt_cmp_too_few_samples": {"vi": "quá ít mẫu", "en": "too few samples"},
    # compliance page
    "cp_title": {"vi": "Sổ theo dõi tuân thủ Thông tư 22/2019/TT-BTTTT", "en": "Compliance register (Thông tư 22/2019/TT-BTTTT)"},
    "cp_intro": {"vi": "Mỗi tiêu chí được đánh giá từ số liệu đo độc lập (kiểm tra tự động, kiểm thử tải, đối soát hồ sơ) "
                       "hoặc do người có thẩm quyền đánh giá; kèm theo là kiến nghị của các cơ quan và minh chứng khắc phục.",
                 "en": "Each criterion is judged from independent measurements (probes, load tests, dossier audits) or "
                       "by a person; with the agencies' requests and the evidence of each fix."},
    "cp_from": {"vi": "Từ ngày", "en": "From"},
    "cp_to": {"vi": "Đến ngày", "en": "To"},
    "cp_bad_period": {"vi": "Ngày bắt đầu phải trước ngày kết thúc.", "en": "The start must come before the end."},
    "cp_met": {"vi": "Tiêu chí đạt", "en": "Criteria met"},
    "cp_not_met": {"vi": "Tiêu chí không đạt", "en": "Criteria not met"},
    "cp_not_measured": {"vi": "Chưa đo được", "en": "Not measured"},
    "cp_requests_open": {"vi": "Kiến nghị chưa xong", "en": "Open requests"},
    "cp_requests_resolved": {"vi": "Đã khắc phục", "en": "Resolved"},
    "cp_history_intact": {"vi": "Lịch sử thay đổi toàn vẹn ({n} sự kiện, chuỗi mã băm đã kiểm tra).",
                          "en": "The history is intact ({n} events, hash chain checked)."},
    "cp_history_broken": {"vi": "Lịch sử thay đổi đã bị sửa ngoài chương trình (sự kiện #{id}: {problem}).",
                          "en": "The history was altered outside the program (event #{id}: {problem})."},
    "cp_criteria": {"vi": "Tiêu chí và kết quả đánh giá trong kỳ", "en": "Criteria and their verdicts for the period"},
    "cp_criterion_detail": {"vi": "Xem chi tiết tiêu chí", "en": "Criterion to show"},
    "cp_since": {"vi": "từ {t}", "en": "since {t}"},
    "cp_numbers": {"vi": "Số liệu làm căn cứ", "en": "The numbers behind it"},
    "cp_requests": {"vi": "Kiến nghị của các cơ quan", "en": "Agencies' requests"},
    "cp_no_requests": {"vi": "Chưa có kiến nghị nào trong sổ.", "en": "No request in the register yet."},
    "cp_regressions": {"vi": "Đã đánh dấu khắc phục nhưng minh chứng không còn đúng: {ids}",
                       "en": "Marked resolved, but the evidence no longer holds: {ids}"},
    "cp_request_detail": {"vi": "Xem kiến nghị và lịch sử", "en": "Request and its history"},
    "cp_history": {"vi": "Lịch sử thay đổi (chỉ ghi thêm)", "en": "History (append-only)"},
    "cp_append_only": {"vi": "Lịch sử chỉ được ghi thêm: không có thao tác nào sửa hoặc xoá một thay đổi đã ghi.",
                       "en": "The history is append-only: nothing edits or deletes a recorded change."},
    "cp_export": {"vi": "Tải sổ tuân thủ (XLSX)", "en": "Download the register (XLSX)"},
    "cp_read_only": {"vi": "Chỉ cán bộ CNTT và quản trị viên được cập nhật sổ.",
                     "en": "Only ICT and admin accounts update the register."},
    "cp_changes": {"vi": "Cập nhật sổ (mỗi thao tác được ghi thêm vào lịch sử)",
                   "en": "Update the register (each change is added to the history)"},
    "cp_tab_add": {"vi": "Thêm kiến nghị", "en": "Add a request"},
    "cp_tab_answer": {"vi": "Trả lời của nhà cung cấp", "en": "Vendor's answer"},
    "cp_tab_file": {"vi": "Đính kèm tệp minh chứng", "en": "Attach a file"},
    "cp_tab_check": {"vi": "Liên kết kiểm tra", "en": "Link a check"},
    "cp_tab_resolve": {"vi": "Đánh dấu đã khắc phục", "en": "Resolve"},
    "cp_request_id": {"vi": "Mã kiến nghị (không bắt buộc)", "en": "Request ID (optional)"},
    "cp_request_id_help": {"vi": "Để trống: mã được tạo từ cơ quan, ngày và nội dung.",
                           "en": "Empty: an ID is made from the agency, date and description."},
    "cp_add_submit": {"vi": "Thêm kiến nghị", "en": "Add the request"},
    "cp_answer_submit": {"vi": "Ghi nhận trả lời", "en": "Record the answer"},
    "cp_file": {"vi": "Tệp minh chứng", "en": "Evidence file"},
    "cp_file_help": {"vi": "Tệp được lưu một lần, chỉ đọc, theo mã SHA-256.", "en": "Kept once, read-only, by its SHA-256."},
    "cp_file_missing": {"vi": "Chọn tệp minh chứng trước.", "en": "Choose the evidence file first."},
    "cp_file_submit": {"vi": "Đính kèm tệp", "en": "Attach the file"},
    "cp_link_kind": {"vi": "Minh chứng là", "en": "Evidence is"},
    "cp_since_date": {"vi": "Đạt liên tục từ ngày", "en": "Passing since"},
    "cp_check_submit": {"vi": "Liên kết minh chứng", "en": "Link the evidence"},
    "cp_resolve_help": {"vi": "Chỉ đánh dấu được khi có minh chứng còn đúng (tệp, hoặc kiểm tra đạt liên tục từ một ngày).",
                        "en": "Allowed only with evidence that holds now (a file, or a check passing since a date)."},
    "cp_resolve_submit": {"vi": "Đánh dấu đã khắc phục", "en": "Mark resolved"},
    "cp_refused_no_evidence": {"vi": "Không thể đánh dấu đã khắc phục khi chưa có minh chứng. Hãy đính kèm tệp minh chứng "
                                     "kèm ghi chú, hoặc liên kết một kiểm tra tự động đã đạt liên tục từ một ngày, rồi "
                                     "đánh dấu lại.",
                               "en": "A request cannot be marked resolved without evidence. Attach a file with a note, or "
                                     "link an automatic check that has passed since a date, then resolve it."},
    "cp_refused_evidence_fails": {"vi": "Không thể đánh dấu đã khắc phục: minh chứng hiện không còn đúng ({msg}).",
                                  "en": "Cannot be marked resolved: its evidence does not hold now ({msg})."},
    "cp_refused": {"vi": "Sổ tuân thủ từ chối thay đổi: {msg}", "en": "The register refused the change: {msg}"},
    "cp_done_add": {"vi": "Đã thêm kiến nghị {id}.", "en": "Request {id} added."},
    "cp_done_answer": {"vi": "Đã ghi nhận trả lời cho {id}.", "en": "Answer recorded for {id}."},
    "cp_done_file": {"vi": "Đã đính kèm tệp minh chứng cho {id}.", "en": "File attached to {id}."},
    "cp_done_check": {"vi": "Đã liên kết minh chứng cho {id}.", "en": "Evidence linked to {id}."},
    "cp_done_resolve": {"vi": "Đã đánh dấu {id} là đã khắc phục.", "en": "{id} marked resolved."},
    "cp_col_id": {"vi": "Mã", "en": "ID"},
    "cp_col_annex": {"vi": "Phụ lục", "en": "Annex"},
    "cp_col_group": {"vi": "Nhóm chức năng", "en": "Function group"},
    "cp_col_criterion": {"vi": "Tiêu chí", "en": "Criterion"},
    "cp_col_since": {"vi": "Từ", "en": "Since"},
    "cp_col_numbers": {"vi": "Số liệu, minh chứng", "en": "Numbers, evidence"},
    "cp_col_legal": {"vi": "Căn cứ", "en": "Legal reference"},
    "cp_col_judged": {"vi": "Cách đánh giá", "en": "Judged"},
    "cp_col_requests": {"vi": "Kiến nghị chưa xong", "en": "Open requests"},
    "cp_col_requested_on": {"vi": "Ngày đề nghị", "en": "Requested on"},
    "cp_col_description": {"vi": "Nội dung", "en": "Description"},
    "cp_col_criterion_id": {"vi": "Tiêu chí liên quan", "en": "Linked criterion"},
    "cp_col_check": {"vi": "Kiểm tra tự động", "en": "Automatic check"},
    "cp_col_answer": {"vi": "Trả lời của nhà cung cấp", "en": "Vendor's answer"},
    "cp_col_evidence": {"vi": "Minh chứng", "en": "Evidence"},
    "cp_col_evidence_holds": {"vi": "Minh chứng còn đúng", "en": "Evidence holds"},
    "cp_col_updated": {"vi": "Cập nhật", "en": "Updated"},
    "cp_col_updated_by": {"vi": "Người cập nhật", "en": "Updated by"},
    "cp_col_at": {"vi": "Thời điểm", "en": "At"},
    "cp_col_actor": {"vi": "Người thực hiện", "en": "Who"},
    "cp_col_via": {"vi": "Qua", "en": "Via"},
    "cp_col_action": {"vi": "Thao tác", "en": "Action"},
    "cp_col_what": {"vi": "Nội dung thay đổi", "en": "What"},
    "cp_col_note": {"vi": "Ghi chú", "en": "Note"},
    "cp_via_cli": {"vi": "dòng lệnh", "en": "command line"},
    "cp_via_import": {"vi": "nhập từ bảng tính", "en": "spreadsheet import"},
    "cp_via_api": {"vi": "giao diện lập trình", "en": "API"},
    "cp_via_dashboard": {"vi": "bảng điều khiển", "en": "dashboard"},
    "cp_via_library": {"vi": "thư viện", "en": "library"},
    "cp_judged_automatic": {"vi": "Tự động", "en": "Automatic"},
    "cp_judged_person": {"vi": "Người đánh giá", "en": "By a person"},
    "cp_kind_check": {"vi": "Kiểm tra tự động", "en": "Automatic check"},
    "cp_kind_criterion": {"vi": "Tiêu chí tự động", "en": "Automatic criterion"},
    "cp_kind_file": {"vi": "Tệp minh chứng", "en": "File"},
    "cp_action_created": {"vi": "tạo mới", "en": "created"},
    "cp_action_updated": {"vi": "cập nhật", "en": "updated"},
    "cp_action_answered": {"vi": "nhà cung cấp trả lời", "en": "vendor answered"},
    "cp_action_evidence_added": {"vi": "thêm minh chứng", "en": "evidence added"},
    "cp_action_resolved": {"vi": "đã khắc phục", "en": "resolved"},
    "cp_action_imported": {"vi": "nhập từ bảng tính", "en": "imported"},
    "cp_action_judged": {"vi": "đánh giá", "en": "judged"},
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
    "data_inconsistent": {"vi": "Trạng thái mâu thuẫn: {n} hồ sơ đang xử lý nhưng có ngày có kết quả, được xét theo "
                                "ngày đó.",
                          "en": "Inconsistent state: {n} dossiers processing but with a result date, judged by that "
                                "date."},
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
    "col_sheet_row": {"vi": "Dòng trên trang tính", "en": "Sheet row"},
    "batch_done": {"vi": "Hoàn tất", "en": "Done"},
    "batch_failed": {"vi": "Lỗi", "en": "Failed"},
    "batch_running": {"vi": "Đang chạy", "en": "Running"},
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
    "rp_written_agency_none": {"vi": "Tác vụ hằng tháng chỉ lập sẵn báo cáo toàn tỉnh. Báo cáo của {agency} được lập "
                                     "theo yêu cầu: chọn tháng, định dạng rồi bấm “Lập báo cáo” ở trên.",
                               "en": "The monthly job writes the province's briefing only. {agency}'s briefing is "
                                     "made on demand: pick the month and format, then press “Generate” above."},
    "rp_written_caption": {"vi": "{name} · {size} · lập lúc {t}", "en": "{name} · {size} · written {t}"},
}

# The engine's findings (the audit's columns) in words, one source with the explanations
# (sla_rules.constants.FLAGS).
FINDINGS = [name for name, _vi, _en in FLAGS.values()]
TEXT.update({f"finding_{name}": {"vi": vi[:1].upper() + vi[1:], "en": en[:1].upper() + en[1:]}
             for name, vi, en in FLAGS.values()})


def t(key: str, lang: str = "vi", **kw: object) -> str:
    entry = TEXT.get(key)
    s = key if entry is None else entry.get(lang) or entry["vi"]
    return s.format(**kw) if kw else s


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def num(v: object, lang: str = "vi", digits: int = 0) -> str:
    """12345 → '12.345' (vi) / '12,345' (en); None → '–'."""
    if _missing(v):
        return "–"
    return number(float(v), digits, "vi" if lang == "vi" else "en")


def pct(v: object, lang: str = "vi", digits: int = 1) -> str:
    """0.853 → '85,3 %' (vi) / '85.3%' (en); None → '–'."""
    return "–" if _missing(v) else percent(float(v), digits, "vi" if lang == "vi" else "en")


def unit(v: object, u: str, lang: str = "vi", digits: int = 0) -> str:
    """A measured value with its unit: 2912 ms → '2.912 ms' (vi); None → '–'."""
    return "–" if _missing(v) else f"{num(v, lang, digits)}{NBSP}{u}"


def times(v: object, lang: str = "vi", digits: int = 2) -> str:
    """A multiple (burn rate): 1.5 → '1,50×'."""
    return "–" if _missing(v) else num(v, lang, digits) + "×"


def signed_pct(v: object, lang: str = "vi", digits: int = 1) -> str:
    """A relative change: 0.12 → '+12,0 %'."""
    if _missing(v):
        return "–"
    return ("+" if float(v) > 0 else "") + pct(v, lang, digits)


def month_label(m: dt.date | str, lang: str = "vi", short: bool = False) -> str:
    if isinstance(m, str):
        m = dt.date.fromisoformat(m[:7] + "-01")
    if short:
        return f"{m.month:02d}/{m.year % 100:02d}" if lang == "vi" else m.strftime("%b %y")
    return f"{m.month:02d}/{m.year}" if lang == "vi" else m.strftime("%b %Y")


def when(v: dt.datetime | None, lang: str = "vi") -> str:
    if _missing(v) or v is None:
        return "–"
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    return v.strftime("%H:%M %d/%m/%Y") if lang == "vi" else v.strftime("%Y-%m-%d %H:%M")


def day(v: dt.date | dt.datetime | None, lang: str = "vi") -> str:
    if _missing(v) or v is None:
        return "–"
    if isinstance(v, str):
        v = dt.date.fromisoformat(v[:10])
    return v.strftime("%d/%m/%Y") if lang == "vi" else v.strftime("%Y-%m-%d")


# Plotly's date axes: d3 formats, day before month in Vietnamese (never "Dec 6, 2026").
DATE_TICKS = {"vi": "%H:%M<br>%d/%m/%Y", "en": "%H:%M<br>%Y-%m-%d"}
HOVER_TIME = {"vi": "%H:%M:%S %d/%m/%Y", "en": "%Y-%m-%d %H:%M:%S"}

# How a cell of a table is written: the same words and numbers as the metrics above it.
FORMATS = {
    "int": lambda v, lang: num(v, lang),
    "dec1": lambda v, lang: num(v, lang, 1),
    "dec2": lambda v, lang: num(v, lang, 2),
    "pct": lambda v, lang: pct(v, lang, 1),
    "pct2": lambda v, lang: pct(v, lang, 2),
    "signed_pct": lambda v, lang: signed_pct(v, lang, 1),
    "ms": lambda v, lang: unit(v, "ms", lang),
    "s": lambda v, lang: unit(v, "s", lang),
    "rps": lambda v, lang: unit(v, "req/s", lang, 1),
    "times": lambda v, lang: times(v, lang),
    "when": lambda v, lang: when(v, lang),
    "day": lambda v, lang: day(v, lang),
    "text": lambda v, lang: "–" if _missing(v) or v == "" else str(v),
}


def formatter(kind: str, lang: str = "vi"):
    """A one-argument cell formatter for a column kind of FORMATS (text already written stays)."""
    f = FORMATS[kind]
    return lambda v: v if isinstance(v, str) else f(v, lang)


# -- the portal probes' failure reasons in words ---------------------------------------------------
# probes/runner.py writes each failure as an English sentence of a fixed shape (several joined
# by "; "); the stored text stays as it is (the CLI, the logs), and a page shows it in its own
# language. A shape not listed here is shown as it is.
_Q = r"'(?P<{}>(?:[^']|'(?!(?:;|$| found| not found)))*)'"
_REASONS_VI: list[tuple[str, str]] = [
    (r"failed at step " + _Q.format("step") + r": (?P<rest>.*)", "lỗi ở bước '{step}': {rest}"),
    (r"failed at step (?P<step>\S+): (?P<rest>.*)", "lỗi ở bước {step}: {rest}"),  # a load test's user
    (r"failed at step (?P<step>\S+)", "lỗi ở bước {step}"),
    (r"expected status (?P<want>[\d ]+(?:or [\d ]+)*), got (?P<got>\d+)",
     "mã trạng thái HTTP {got}, cần {want}"),
    (r"too slow: (?P<ms>[\d.]+) ms, limit (?P<limit>[\d.]+) ms", "quá chậm: {ms} ms, giới hạn {limit} ms"),
    (r"text " + _Q.format("t") + r" not found", "không thấy nội dung '{t}'"),
    (r"text " + _Q.format("t") + r" found", "có nội dung không được phép '{t}'"),
    (r"pattern " + _Q.format("p") + r" not found", "không khớp mẫu '{p}'"),
    (r"response is not JSON", "phản hồi không phải JSON"),
    (r"(?P<path>\S+) where (?P<cond>.+?): (?P<n>-?[\d.e+]+), expected at most (?P<max>-?[\d.e+]+)",
     "{n} phần tử có {cond}, tối đa cho phép {max}"),
    (r"(?P<path>\S+) where (?P<cond>.+?): (?P<n>-?[\d.e+]+), expected at least (?P<min>-?[\d.e+]+)",
     "{n} phần tử có {cond}, tối thiểu cần {min}"),
    (r"(?P<label>\S+(?: where .+?)?): (?P<v>-?[\d.e+]+), expected at most (?P<max>-?[\d.e+]+)",
     "{label}: {v}, tối đa cho phép {max}"),
    (r"(?P<label>\S+(?: where .+?)?): (?P<v>-?[\d.e+]+), expected at least (?P<min>-?[\d.e+]+)",
     "{label}: {v}, tối thiểu cần {min}"),
    (r"(?P<path>\S+): expected a list, found (?P<what>.+)", "{path}: cần một danh sách, nhận được {what}"),
    (r"(?P<label>\S+): not found in the JSON response", "{label}: không có trong phản hồi JSON"),
    (r"(?P<label>\S+): present, expected absent", "{label}: có mặt nhưng không được có"),
    (r"(?P<label>\S+): expected a number, got (?P<v>.+)", "{label}: cần một số, nhận được {v}"),
    (r"(?P<label>\S+): must not be (?P<v>.+)", "{label}: không được bằng {v}"),
    (r"(?P<label>\S+): expected (?P<want>.+?), got (?P<v>.+)", "{label}: cần {want}, nhận được {v}"),
    (r"TLS certificate expires in (?P<d>[\d.]+) days \(minimum (?P<min>[\d.]+)\)",
     "chứng chỉ TLS hết hạn sau {d} ngày (tối thiểu {min})"),
    (r"connect timed out after (?P<t>.+)", "kết nối quá thời gian chờ sau {t}"),
    (r"timed out after (?P<t>.+)", "quá thời gian chờ sau {t}"),
    (r"too many redirects \(> (?P<n>\d+)\)", "chuyển hướng quá nhiều lần (> {n})"),
    (r"connection refused", "máy chủ từ chối kết nối"),
    (r"cannot resolve the host name", "không phân giải được tên miền"),
    (r"cannot connect: (?P<e>.+)", "không kết nối được: {e}"),
    (r"server closed the connection without answering", "máy chủ đóng kết nối mà không trả lời"),
    (r"connection reset while reading the response", "kết nối bị ngắt khi đang đọc phản hồi"),
    (r"connection reset while sending the request", "kết nối bị ngắt khi đang gửi yêu cầu"),
    (r"response body cannot be decoded", "không giải mã được nội dung phản hồi"),
    (r"not a valid HTTP response \((?P<e>.*)\)", "phản hồi HTTP không hợp lệ ({e})"),
    (r"TLS error: (?P<e>.+)", "lỗi TLS: {e}"),
    (r"could not extract '(?P<name>[^']*)' \((?P<how>.*)\)", "không trích được '{name}' ({how})"),
    (r"unexpected error: (?P<e>.+)", "lỗi không mong đợi: {e}"),
]
_REASON_RE = [(re.compile(p + r"$"), vi) for p, vi in _REASONS_VI]
_SECONDS = re.compile(r"^(?P<n>[\d.]+) ?s$")


def _vi_value(k: str, v: str) -> str:
    if k in ("want",):
        return v.replace(" or ", " hoặc ")
    if k == "cond":
        return v.replace(" in [", " thuộc [")
    if k in ("what",):
        return {"nothing": "không có gì"}.get(v, v)
    if k == "t" and (m := _SECONDS.match(v)):
        return num(float(m["n"]), "vi", 0 if float(m["n"]).is_integer() else 1) + " giây"
    if k in ("ms", "limit", "n", "max", "min", "d") and re.fullmatch(r"-?\d+(\.\d+)?", v):
        digits = len(v.split(".")[1]) if "." in v else 0
        return num(float(v), "vi", digits)
    return v


def _reason_vi(part: str) -> str:
    for rx, vi in _REASON_RE:
        m = rx.match(part)
        if m:
            vals = {k: _vi_value(k, v) for k, v in m.groupdict().items()}
            if "rest" in vals:
                vals["rest"] = probe_reason(m["rest"], "vi")
            return vi.format(**vals)
    return part


def probe_reason(text: str | None, lang: str = "vi") -> str:
    """A probe's failure reason in the page's language ('' stays '')."""
    if not text or lang != "vi":
        return text or ""
    if text.startswith("failed at step "):
        return _reason_vi(text)
    return "; ".join(_reason_vi(p) for p in text.split("; "))


def alert_text(text: str | None, lang: str = "vi") -> str:
    """An alert's stored message (Vietnamese, with the probe's reason after 'Mức độ: ') for a page."""
    if not text or lang != "vi":
        return text or ""
    return "\n".join(("Mức độ: " + probe_reason(line[8:], lang)) if line.startswith("Mức độ: ") else line
                     for line in text.splitlines())


def in_text(text: str | None, lang: str = "vi") -> str:
    """Probe reasons quoted inside a longer sentence (the compliance register's evidence: '…:
    feature-qr-lookup: expected status 200, got 404'): each known shape rendered in place."""
    if not text or lang != "vi":
        return text or ""
    out = text
    for rx, _vi in _REASON_RE:
        pat = re.compile(rx.pattern[:-1])  # anywhere, not to the end
        out = pat.sub(lambda m: _reason_vi(m.group(0)), out)
    return out


# The import's row errors as the quarantine keeps them (English, imports/staging.py): in words.
_IMPORT_VI: list[tuple[str, str]] = [
    (r"the row has more fields than the header", "dòng có nhiều cột hơn dòng tiêu đề"),
    (r"required value is empty", "thiếu giá trị bắt buộc"),
    (r"unknown value '(?P<v>.*)' \(expected (?P<allowed>.*?) or a value of the column mapping\)",
     "giá trị không hợp lệ '{v}' (cần một trong: {allowed})"),
    (r"not a date: '(?P<v>.*)' \(expected (?P<hint>.*)\)", "ngày giờ không hợp lệ: '{v}' (định dạng {hint})"),
    (r"date out of range: '(?P<v>.*)' \(years (?P<a>\d+) to (?P<b>\d+)\)",
     "ngày ngoài khoảng hợp lý: '{v}' (năm {a} đến {b})"),
    (r"value too long: (?P<n>\d+) characters \(at most (?P<max>\d+)\)",
     "giá trị quá dài: {n} ký tự (tối đa {max})"),
    (r"time limit must be a number >= 0, got '(?P<v>.*)'", "thời hạn phải là số >= 0, nhận được '{v}'"),
    (r"finished_at \((?P<a>.*)\) is before received_at \((?P<b>.*)\)",
     "ngày có kết quả ({a}) trước ngày tiếp nhận ({b})"),
    (r"returned_at \((?P<a>.*)\) is before received_at \((?P<b>.*)\)",
     "ngày trả kết quả ({a}) trước ngày tiếp nhận ({b})"),
    (r"state is (?P<s>\S+) but neither finished_at nor returned_at is given",
     "trạng thái {s} nhưng thiếu cả ngày có kết quả và ngày trả kết quả"),
    (r"duplicate dossier_code in this file: duplicate of row (?P<n>\d+)", "mã hồ sơ trùng trong tệp: trùng với dòng {n}"),
    (r"duplicate event in this file: duplicate of row (?P<n>\d+)", "sự kiện trùng trong tệp: trùng với dòng {n}"),
    (r"unknown dossier: (?P<c>.*) is neither in the store nor in the dossier file",
     "hồ sơ {c} không có trong kho dữ liệu lẫn tệp hồ sơ"),
]
_IMPORT_RE = [(re.compile(p + "$"), vi) for p, vi in _IMPORT_VI]


def import_reason(text: str | None, lang: str = "vi") -> str:
    """A quarantined row's reason (several joined by '; ') in the page's language."""
    if not text or lang != "vi":
        return text or ""
    out = []
    for part in text.split("; "):
        for rx, vi in _IMPORT_RE:
            m = rx.match(part)
            if m:
                part = vi.format(**{k: v.replace(" or ", " hoặc ") if k == "hint" else v
                                    for k, v in m.groupdict().items()})
                break
        out.append(part)
    return "; ".join(out)


# The import's canonical columns (config/mapping.py) as an official's export names them.
FIELD_LABELS_VI = {
    "dossier_code": "Mã hồ sơ", "agency_code": "Mã cơ quan", "agency_name": "Cơ quan / Đơn vị",
    "procedure_code": "Mã thủ tục", "procedure_name": "Tên thủ tục", "field": "Lĩnh vực", "channel": "Kênh nộp",
    "received_at": "Ngày tiếp nhận", "time_limit": "Thời hạn giải quyết", "time_unit": "Đơn vị tính",
    "supplement_requested_at": "Ngày yêu cầu bổ sung", "supplement_received_at": "Ngày nhận bổ sung",
    "extended_due_at": "Ngày hẹn trả mới", "finished_at": "Ngày có kết quả", "returned_at": "Ngày trả kết quả",
    "state": "Trạng thái", "reported_due_at": "Ngày hẹn trả", "reported_status": "Kết quả xử lý",
    "source_system": "Hệ thống", "synced_at": "Ngày đồng bộ", "synced_status": "Trạng thái đồng bộ",
    "paid_online": "Thanh toán trực tuyến", "dossier_digitised": "Đã số hoá hồ sơ",
    "result_digitised": "Số hoá kết quả", "satisfaction_rating": "Đánh giá mức độ hài lòng",
    "event": "Sự kiện", "at": "Thời điểm", "detail": "Chi tiết",
}


def field_label(name: str | None, lang: str = "vi") -> str:
    """An import column: its Vietnamese header with the canonical name ('' → the whole row)."""
    if not name:
        return "(cả dòng)" if lang == "vi" else "(row)"
    return f"{FIELD_LABELS_VI[name]} ({name})" if lang == "vi" and name in FIELD_LABELS_VI else name
