"""Figures for supervisors: JSON under /api/v1/figures, the monthly report
as .xlsx, and the dashboard page (/figures, ECharts).

Thin: parse the period and unit, call dispatch.figures, serialise.  Who sees
which rows is decided in dispatch.figures (a department its own unit, a
platform its subtree, the province all).
"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import asdict

from flask import Blueprint, Flask, jsonify, render_template, request, send_file

from dispatch import figures as F
from dispatch.errors import Invalid, NotFound
from dispatch.access import Actor
from dispatch.capabilities import require
from hotline.hardening import DB_INT_MAX
from hotline.auth import api_auth, current_actor, page_auth
from dispatch.ticket_json import ticket_json
from hotline.current import db
from models import Unit, utcnow

bp = Blueprint("figures", __name__)
MAX_TREND_MONTHS = 24


def _actor() -> Actor:
    actor = current_actor()
    require(actor, "figures.read")
    return actor


FIRST_YEAR, LAST_YEAR = 2000, 2100   # figures outside these years cannot exist


def _date(name: str, raw: str) -> dt.date:
    try:
        d = dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"参数 {name} 应为日期 YYYY-MM-DD", {name: "YYYY-MM-DD"}) from None
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise Invalid(f"参数 {name} 应在 {FIRST_YEAR}–{LAST_YEAR} 年之间", {name: f"{FIRST_YEAR}..{LAST_YEAR}"})
    return d


def period_from_args(args, now: dt.datetime) -> F.Period:
    """?month=YYYY-MM, or ?from=YYYY-MM-DD&to=YYYY-MM-DD (local dates, both
    included); by default the current month."""
    month, first, last = args.get("month"), args.get("from"), args.get("to")
    if month and (first or last):
        raise Invalid("month 与 from/to 不能同时使用", {"month": "use month, or from and to"})
    try:
        if month:
            m = re.fullmatch(r"(\d{4})-(\d{2})", month)
            if not m or not 1 <= int(m.group(2)) <= 12 or not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
                raise Invalid("参数 month 应为 YYYY-MM", {"month": "YYYY-MM"})
            return F.Period.month(int(m.group(1)), int(m.group(2)))
        if first or last:
            if not (first and last):
                raise Invalid("from 与 to 需同时给出", {"from" if not first else "to": "required"})
            return F.Period(_date("from", first), _date("to", last))
    except ValueError as e:
        raise Invalid(f"统计期间无效：{e}", {"to": str(e)}) from None
    return F.Period.containing(now)


def _unit_arg() -> int | None:
    raw = request.args.get("unit")
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit() and int(raw) <= DB_INT_MAX):
        raise Invalid("参数 unit 应为整数", {"unit": "integer required"})
    return int(raw)


def _report(actor: Actor) -> tuple[F.Report, str]:
    now = utcnow()
    period = period_from_args(request.args, now)
    unit_id = _unit_arg()
    with db().session() as s:
        units = F.units_in_scope(s, actor, unit_id)
        if not units:
            raise NotFound("单位不存在或无权查看")
        report = F.unit_figures(s, actor, period, now, units=units)
        scope = s.get(Unit, unit_id if unit_id is not None else actor.unit_id)
        return report, scope.name if scope else ""


@bp.get("/api/v1/figures")
@api_auth
def figures():
    report, scope = _report(_actor())
    return jsonify(report.as_json() | {"scope": scope})


@bp.get("/api/v1/figures/definitions")
@api_auth
def definitions():
    _actor()
    return jsonify({"items": [{"key": f.key, "label": f.label, "kind": f.kind, "definition": f.definition,
                               "definition_en": f.definition_en} for f in F.FIGURES],
                    "notes": NOTES})


@bp.get("/api/v1/figures/trend")
@api_auth
def trend():
    actor = _actor()
    now = utcnow()
    period = period_from_args(request.args, now)
    try:
        months = int(request.args.get("months", "6"))
    except ValueError:
        raise Invalid("参数 months 应为整数", {"months": "integer"}) from None
    if not 1 <= months <= MAX_TREND_MONTHS:
        raise Invalid(f"months 应为 1–{MAX_TREND_MONTHS}", {"months": f"1..{MAX_TREND_MONTHS}"})
    unit_id = _unit_arg()
    with db().session() as s:
        if unit_id is not None and not F.units_in_scope(s, actor, unit_id):
            raise NotFound("单位不存在或无权查看")
        return jsonify({"items": F.trend(s, actor, period, months, now, unit_id)})


@bp.get("/api/v1/figures/overdue")
@api_auth
def overdue():
    """The 督办 list: open tickets past their deadline, most overdue first."""
    actor = _actor()
    try:
        page = min(100_000, max(1, int(request.args.get("page", "1"))))
        per_page = min(100, max(1, int(request.args.get("per_page", "20"))))
    except ValueError:
        raise Invalid("page/per_page 应为整数", {"page": "integer"}) from None
    with db().session() as s:
        total, rows = F.overdue_tickets(s, actor, utcnow(), per_page, (page - 1) * per_page)
        items = [ticket_json(t, actor) for t in rows]
    return jsonify({"items": items, "page": page, "per_page": per_page, "total": total})


@bp.get("/api/v1/figures/export.xlsx")
@api_auth
def export():
    report, scope = _report(_actor())
    data = workbook_bytes(report, scope)
    name = f"figures-{report.period.first:%Y%m%d}-{report.period.last:%Y%m%d}.xlsx"
    if report.period.is_month:
        name = f"figures-{report.period.first:%Y-%m}.xlsx"
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/figures")
@page_auth("figures.read")
def dashboard():
    return render_template("figures.html", figures=F.FIGURES, defs=[asdict(f) for f in F.FIGURES])


# ------------------------------------------------------------------ xlsx
KIND_LABELS = {"province_platform": "省平台", "city_platform": "市平台", "department": "部门",
               "district": "区县", "street": "街道"}
NOTES = [
    "统计期间按北京时间（Asia/Shanghai）的自然日计算，含首尾两日；默认为当月。",
    "按受理时间统计：只统计统计期内受理（创建）的工单；各项比率的分子均为分母的子集。",
    "工单计入现承办单位；尚未派单或坐席直办的工单计入受理平台。改派后时限重新起算，由新单位负责。",
    "退单、延期申请计入提出的单位；退单获准计入原承办单位。",
    "撤销、并单的工单计入受理量，不计时限类指标。",
    "查看范围：部门仅本单位，市平台为本平台及下属单位，省平台为全部单位。",
    "超期以报表生成时间为准：生成时间不同，“超期未办结”可能不同。",
]
COUNT_FMT, RATE_FMT, HOURS_FMT = "#,##0", "0.0%", "0.0"


def workbook_bytes(report: F.Report, scope: str) -> bytes:
    """The report laid out like a monthly report: title, period, one row per
    unit, totals, frozen header, and a second sheet defining each figure."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "月报"
    head = ["序号", "单位", "类型"] + [f.label for f in F.FIGURES]
    width = len(head)
    last_col = get_column_letter(width)
    thin = Side(style="thin", color="9AA5B1")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)

    kind = "月报" if report.period.is_month else "统计表"
    title = f"{scope}工单办理情况{kind}" if "12345" in scope else f"{scope}12345热线工单办理情况{kind}"
    ws["A1"] = title
    ws.merge_cells(f"A1:{last_col}1")
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    local_now = report.generated_at.astimezone(F.LOCAL_TZ)
    ws["A2"] = (f"统计期间：{report.period.label}（{report.period.first:%Y-%m-%d} 至 "
                f"{report.period.last:%Y-%m-%d}，北京时间）　口径：按受理时间统计")
    ws.merge_cells(f"A2:{last_col}2")
    ws["A3"] = f"制表单位：{scope}　生成时间：{local_now:%Y-%m-%d %H:%M}　指标定义见“指标说明”工作表"
    ws.merge_cells(f"A3:{last_col}3")
    for cell in ("A2", "A3"):
        ws[cell].alignment = Alignment(horizontal="left")

    header_row = 4
    fill = PatternFill("solid", fgColor="B71C1C")
    for col, text in enumerate(head, start=1):
        c = ws.cell(row=header_row, column=col, value=text)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = fill
        c.alignment = center
        c.border = border
    ws.row_dimensions[header_row].height = 36

    def write(row: int, values: list, figures: dict, bold: bool = False):
        for col, v in enumerate(values, start=1):
            c = ws.cell(row=row, column=col, value=v)
            c.border = border
            c.font = Font(bold=bold)
        for i, f in enumerate(F.FIGURES, start=len(values) + 1):
            c = ws.cell(row=row, column=i, value=figures.get(f.key))
            c.number_format = {"count": COUNT_FMT, "rate": RATE_FMT, "hours": HOURS_FMT}[f.kind]
            c.border = border
            c.font = Font(bold=bold)
            if figures.get(f.key) is None:
                c.value = "—"
                c.alignment = Alignment(horizontal="center")

    row = header_row + 1
    for n, r in enumerate(report.rows, start=1):
        write(row, [n, r["unit"]["name"], KIND_LABELS.get(r["unit"]["kind"], r["unit"]["kind"])], r["figures"])
        row += 1
    write(row, ["", "合计", ""], report.totals, bold=True)
    for col in range(1, width + 1):
        ws.cell(row=row, column=col).fill = PatternFill("solid", fgColor="F3F5F8")

    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)   # header and unit names stay put
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 34
    ws.column_dimensions["C"].width = 8
    for i, f in enumerate(F.FIGURES, start=4):
        ws.column_dimensions[get_column_letter(i)].width = max(9, min(16, len(f.label) * 2 + 2))
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1

    d = wb.create_sheet("指标说明")
    d.append(["指标", "类型", "定义", "Definition"])
    for c in d[1]:
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = fill
    kinds = {"count": "件数", "rate": "比率", "hours": "小时"}
    for f in F.FIGURES:
        d.append([f.label, kinds[f.kind], f.definition, f.definition_en])
    d.append([])
    d.append(["说明"])
    d.cell(row=d.max_row, column=1).font = Font(bold=True)
    for note in NOTES:
        d.append(["", "", note])
    d.column_dimensions["A"].width = 20
    d.column_dimensions["B"].width = 8
    d.column_dimensions["C"].width = 70
    d.column_dimensions["D"].width = 70
    for r in d.iter_rows(min_row=2):
        for c in r:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    d.freeze_panes = "A2"

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
