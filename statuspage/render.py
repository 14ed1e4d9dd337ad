"""The status page as HTML (one language) and as an Atom 1.0 feed, from statuspage.model.PageData.

Plain HTML with its CSS inline: no script, no external resource, readable on a phone (the bars
show the last 30 days below 600 px). Every text from the store or the config is escaped
(html.escape), and characters XML does not allow are dropped first.
"""
from __future__ import annotations

import datetime as dt
import re
from html import escape
from zoneinfo import ZoneInfo

from statuspage.model import DAYS, IncidentView, PageData, ServiceView
from statuspage.words import day, duration, num, pct, status_label, t, when

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MOBILE_DAYS = 30

CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;color:#1f2328;background:#f6f8fa}
a{color:#0b57d0}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px}
header{background:#fff;border-bottom:1px solid #d0d7de}
.wrap{max-width:880px;margin:0 auto;padding:0 16px}
.top{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:4px 16px;padding:14px 16px}
.top h1{font-size:1.25rem;margin:0}
.top h1 small{display:block;font-size:.95rem;font-weight:400;color:#57606a}
.top nav{font-size:.95rem;white-space:nowrap}
.top nav a{margin-left:12px}
.intro{color:#57606a;margin:16px 0 0}
.banner{margin:16px 0;padding:14px 16px;border-radius:8px;color:#fff;font-weight:600;font-size:1.1rem}
.b-operational,.b-partly_unknown{background:#1a7f37}.b-degraded{background:#9a6700}.b-outage{background:#cf222e}
.b-maintenance{background:#0969da}.b-unknown{background:#6e7781}
.note{margin:16px 0;padding:10px 14px;border-radius:8px;background:#fff8c5;border:1px solid #d4a72c}
section{margin:24px 0}
h2{font-size:1.1rem;margin:0 0 8px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 16px;margin:0 0 12px}
.inc h3{font-size:1.05rem;margin:0 0 4px}
.inc.open{border-left:6px solid #cf222e}.inc.open.imp-degraded{border-left-color:#bf8700}
.inc.done{border-left:6px solid #1a7f37}
.meta{color:#57606a;font-size:.9rem;margin:0 0 6px}
.tl{list-style:none;margin:8px 0 0;padding:0}
.tl li{border-top:1px solid #eaeef2;padding:8px 0 4px}
.tl b{margin-right:6px}
.tl time,.tl .ed{color:#57606a;font-size:.9rem}
.tl p{margin:2px 0 0;white-space:pre-line}
.svc{padding:12px 16px}
.svc-head{display:flex;justify-content:space-between;align-items:baseline;gap:12px;flex-wrap:wrap}
.svc-head h3{font-size:1rem;margin:0}
.svc-note{color:#57606a;font-size:.88rem;margin:2px 0 0}
.st{font-weight:600;white-space:nowrap}
.st::before{content:"";display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:6px;background:currentColor}
.s-operational{color:#1a7f37}.s-degraded{color:#9a6700}.s-outage{color:#cf222e}.s-maintenance{color:#0969da}
.s-unknown,.s-not_monitored{color:#6e7781}
.bars{display:flex;gap:2px;height:34px;margin:10px 0 4px}
.bars span{flex:1;border-radius:2px;min-width:2px}
.l-good{background:#2da44e}.l-fair{background:#d4a72c}.l-bad{background:#cf222e}.l-none{background:#d0d7de}
.axis{display:flex;justify-content:space-between;color:#57606a;font-size:.82rem}
.axis .m{display:none}
.legend,.foot{color:#57606a;font-size:.85rem}
.mt h3{font-size:1rem;margin:0 0 4px}
.tag{display:inline-block;font-size:.8rem;font-weight:600;border-radius:10px;padding:0 8px;background:#ddf4ff;color:#0550ae;margin-right:6px}
footer{border-top:1px solid #d0d7de;margin-top:32px;padding:12px 0 32px}
@media (max-width:600px){
 body{font-size:15px}
 .bars span:nth-child(-n+%(hide)d){display:none}
 .axis .d{display:none}.axis .m{display:inline}
 .top nav a{margin:0 12px 0 0}
}
""".replace("%(hide)d", str(DAYS - MOBILE_DAYS))
CSS = re.sub(r"\n\s*", "", CSS)


def clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def e(text: str | None) -> str:
    return escape(clean(text), quote=True)


def _words(vi: str | None, en: str | None, lang: str) -> str:
    return (en or vi or "") if lang == "en" else (vi or "")


def _title(inc: IncidentView, lang: str) -> str:
    return _words(inc.title_vi, inc.title_en, lang)


def _service_name(data: PageData, sid: str, lang: str) -> str:
    s = data.page.service(sid)
    return s.name(lang) if s is not None else sid


def _incident(data: PageData, inc: IncidentView, lang: str) -> str:
    cls = "open imp-" + inc.impact if inc.open else "done"
    meta = [f"{e(t('service', lang))}: {e(_service_name(data, inc.service, lang))}",
            f"{e(t('started', lang))} {e(when(inc.opened_at, lang))}"]
    if inc.resolved_at is not None:
        meta.append(f"{e(t('resolved_at', lang))} {e(when(inc.resolved_at, lang))} "
                    f"({e(t('lasted', lang, d=duration(inc.resolved_at - inc.opened_at, lang)))})")
    items = []
    for entry in reversed(inc.entries):  # newest first, as citizens read it
        edited = (f' <span class="ed">({e(t("edited", lang, t=when(entry.edited_at, lang)))})</span>'
                  if entry.edited_at else "")
        items.append(f'<li><b>{e(status_label(entry.status, lang))}</b>'
                     f'<time datetime="{entry.at.isoformat(timespec="seconds")}">{e(when(entry.at, lang))}</time>'
                     f'{edited}<p>{e(_words(entry.message_vi, entry.message_en, lang))}</p></li>')
    return (f'<article class="card inc {cls}" id="su-co-{inc.incident_id}"><h3>{e(_title(inc, lang))}</h3>'
            f'<p class="meta">{" · ".join(meta)}</p><ul class="tl">{"".join(items)}</ul></article>')


def _bars(sv: ServiceView, data: PageData, lang: str) -> str:
    good, fair = data.page.bars.good, data.page.bars.fair
    spans = []
    for b in sv.bars:
        if b.runs:
            tip = t("bar_title", lang, day=day(b.day, lang), pct=pct(b.ratio, lang), ok=num(b.runs - b.failures, lang),
                    runs=num(b.runs, lang))
        else:
            tip = t("bar_none", lang, day=day(b.day, lang))
        spans.append(f'<span class="l-{b.level(good, fair)}" title="{e(tip)}"></span>')
    def figure(days: int) -> str:
        up = sv.uptime_over(days)
        return t("uptime", lang, pct=pct(up, lang)) if up is not None else t("no_uptime", lang)

    # a phone shows the last 30 days: their own figure under them
    return (f'<div class="bars" role="img" aria-label="{e(t("bars_label", lang, n=DAYS))}">{"".join(spans)}</div>'
            f'<div class="axis"><span><span class="d">{e(t("days_ago", lang, n=DAYS))}</span>'
            f'<span class="m">{e(t("days_ago", lang, n=MOBILE_DAYS))}</span></span>'
            f'<span><span class="d">{e(figure(DAYS))}</span><span class="m">{e(figure(MOBILE_DAYS))}</span></span>'
            f'<span>{e(t("today", lang))}</span></div>')


def _service(sv: ServiceView, data: PageData, lang: str) -> str:
    s = sv.service
    note = f'<p class="svc-note">{e(s.note(lang))}</p>' if s.note else ""
    checked = (f' title="{e(t("last_checked", lang, t=when(sv.last_checked, lang)))}"' if sv.last_checked else "")
    if sv.trouble_at:  # seen failing from fewer locations than the quorum: a quiet note, not a status
        note += f'<p class="svc-note">{e(t("trouble_at", lang, where=_places(sv.trouble_at, lang)))}</p>'
    return (f'<div class="card svc" id="dv-{e(s.id)}"><div class="svc-head"><h3>{e(s.name(lang))}</h3>'
            f'<span class="st s-{sv.state}"{checked}>{e(t("state_" + sv.state, lang))}</span></div>{note}'
            f'{_bars(sv, data, lang) if s.probes else ""}</div>')


def _places(titles: list[tuple[str, str]], lang: str) -> str:
    # a title may hold a comma of its own ("Trung tâm dữ liệu, Hà Nội")
    return "; ".join(en if lang == "en" else vi for vi, en in titles)


def _measured_from(data: PageData, lang: str) -> str:
    n = len(data.locations)
    if not n:
        return ""
    key = "measured_from_one" if n == 1 else "measured_from"
    return f"<p>{e(t(key, lang, n=num(n, lang), where=_places(data.locations, lang)))}</p>"


def _maintenance(data: PageData, lang: str) -> str:
    if not data.maintenance:
        return ""
    cards = []
    for m in data.maintenance:
        tag = t("maintenance_now" if m.under_way else "maintenance_next", lang)
        affects = (", ".join(_service_name(data, sid, lang) for sid in m.services) if m.services
                   else t("maintenance_all", lang))
        reason = f"<p>{e(m.reason)}</p>" if m.reason else ""
        cards.append(f'<div class="card mt"><h3><span class="tag">{e(tag)}</span>{e(when(m.start, lang))} – '
                     f'{e(when(m.end, lang))}</h3>{reason}<p class="meta">{e(t("affects", lang))}: {e(affects)}</p></div>')
    return f'<section><h2>{e(t("maintenance", lang))}</h2>{"".join(cards)}</section>'


def html_page(data: PageData, lang: str, stale_since: dt.datetime | None = None) -> str:
    """The page in `lang` ('vi' or 'en'). `stale_since`: the store did not answer; these are the
    figures of that instant, said in a note."""
    page = data.page
    other = "/" if lang == "en" else "/?lang=en"
    feed = "/feed.atom" + ("?lang=en" if lang == "en" else "")
    intro = f'<p class="intro">{e(page.intro(lang))}</p>' if page.intro else ""
    note = (f'<p class="note" role="status">{e(t("stale_note", lang, t=when(stale_since, lang)))}</p>'
            if stale_since else "")
    open_ = data.open_incidents
    current = (f'<section><h2>{e(t("current_incidents", lang))}</h2>'
               f'{"".join(_incident(data, i, lang) for i in open_)}</section>') if open_ else ""
    recent = data.recent_resolved()
    past = ("".join(_incident(data, i, lang) for i in recent) if recent
            else f'<p class="meta">{e(t("no_recent", lang, n=page.resolved_days))}</p>')
    contact = f"<p>{e(page.contact(lang))}</p>" if page.contact else ""
    legend = t("legend", lang, good=pct(page.bars.good, lang), fair=pct(page.bars.fair, lang))
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>{e(t("page_title", lang))} · {e(page.title(lang))}</title>
<link rel="icon" href="data:,">
<link rel="alternate" type="application/atom+xml" href="{feed}" title="{e(t("feed", lang))}">
<style>{CSS}</style></head>
<body><a class="skip" href="#dich-vu">{e(t("skip", lang))}</a>
<header><div class="wrap top"><h1>{e(page.title(lang))}<small>{e(t("page_title", lang))}</small></h1>
<nav><a href="{other}" hreflang="{'vi' if lang == 'en' else 'en'}">{e(t("switch", lang))}</a>
<a href="{feed}">{e(t("feed", lang))}</a></nav></div></header>
<main class="wrap">{intro}{note}
<p class="banner b-{data.overall}" role="status">{e(t("overall_" + data.overall, lang))}</p>
{current}{_maintenance(data, lang)}
<section id="dich-vu"><h2>{e(t("services", lang))}</h2>
{"".join(_service(s, data, lang) for s in data.services)}
<p class="legend">{e(legend)}</p></section>
<section><h2>{e(t("recent_incidents", lang, n=page.resolved_days))}</h2>{past}</section>
</main>
<footer><div class="wrap foot">{contact}<p>{e(t("data_at", lang, t=when(data.at, lang)))}</p>{_measured_from(data, lang)}
<p>{e(t("about", lang))}</p></div></footer>
</body></html>
"""


def unavailable_page(lang: str, title: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="refresh" content="30">'
            f'<title>{e(t("page_title", lang))} · {e(title)}</title><link rel="icon" href="data:,"><style>{CSS}</style>'
            f'</head><body><main class="wrap"><h1>{e(title)}</h1><p class="note">{e(t("unavailable", lang))}</p>'
            f"</main></body></html>")


# -- Atom 1.0 (RFC 4287) ----------------------------------------------------------------------------

def _rfc3339(t_: dt.datetime, zone: ZoneInfo) -> str:
    return (t_ if t_.tzinfo else t_.replace(tzinfo=zone)).isoformat(timespec="seconds")


def atom_feed(data: PageData, lang: str, zone: ZoneInfo, base_url: str = "") -> str:
    """Every incident open now or resolved within feed_days, one entry each (its title with its
    status, the timeline newest first as its content), newest change first."""
    page = data.page
    base = base_url.rstrip("/")
    suffix = "?lang=en" if lang == "en" else ""
    incs = sorted(data.incidents, key=lambda i: i.updated_at, reverse=True)
    updated = max([i.updated_at for i in incs], default=data.at)
    entries = []
    for inc in incs:
        body = "".join(
            f"<p><b>{e(status_label(x.status, lang))}</b> – {e(when(x.at, lang))}"
            + (f" ({e(t('edited', lang, t=when(x.edited_at, lang)))})" if x.edited_at else "")
            + f"<br>{e(_words(x.message_vi, x.message_en, lang))}</p>"
            for x in reversed(inc.entries))
        body = f"<p>{e(t('service', lang))}: {e(_service_name(data, inc.service, lang))}</p>" + body
        entries.append(
            f"<entry><id>tag:motcua-watch,2022:status-page/incident/{inc.incident_id}</id>"
            f"<title>[{e(status_label(inc.status, lang))}] {e(_title(inc, lang))}</title>"
            f'<link rel="alternate" type="text/html" href="{e(base)}/{suffix}#su-co-{inc.incident_id}"/>'
            f"<published>{_rfc3339(inc.opened_at, zone)}</published>"
            f"<updated>{_rfc3339(inc.updated_at, zone)}</updated>"
            f'<content type="html">{escape(body, quote=False)}</content></entry>')
    title = f"{page.title(lang)} – {t('page_title', lang)}"
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">'
            f"<id>tag:motcua-watch,2022:status-page/{lang}</id><title>{e(title)}</title>"
            f"<updated>{_rfc3339(updated, zone)}</updated>"
            f'<link rel="self" type="application/atom+xml" href="{e(base)}/feed.atom{suffix}"/>'
            f'<link rel="alternate" type="text/html" href="{e(base)}/{suffix}"/>'
            f"<author><name>motcua-watch</name></author>{''.join(entries)}</feed>\n")
