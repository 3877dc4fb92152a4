"""The monthly energy report of one building: totals, sub-items, day by day, efficiency, data quality.

`monthly_report` gathers the figures (pure given the service); `to_csv`, `to_markdown` and `to_html` render
them for the energy team to hand in. Amounts in the CSV are exact (days add up to the month total); the
HTML and Markdown pages round them for reading.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from api.efficiency import Comparison, Usage, compare, entities, usages
from api.energy.calendar import BucketSize, day_start_ms, iso_local
from api.energy.cells import decimal_text, from_micro
from api.energy.service import BucketValue, EnergyService, SeriesValue
from core.config import Building
from core.types import Item, Kind

ITEM_NAMES: dict[str, str] = {
    Item.LIGHTING_SOCKETS.value: "照明插座 Lighting & sockets",
    Item.HVAC.value: "空调 HVAC",
    Item.POWER.value: "动力 Power",
    Item.SPECIAL.value: "特殊 Special",
    Item.MAIN_INCOMER.value: "总表 Main incomer",
    Item.WATER.value: "水 Water",
}


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """Everything on a building's monthly report."""

    site_id: str
    site_name: str
    timezone: str
    building: Building
    month: date  # first day of the month
    start_ms: int
    end_ms: int
    generated_ms: int
    source: str
    electricity: SeriesValue | None  # daily buckets
    water: SeriesValue | None  # daily buckets
    items: tuple[SeriesValue, ...]  # electricity sub-items, daily buckets
    meters: tuple[SeriesValue, ...]  # every meter of the building, daily buckets
    comparison: Comparison  # this month against the same month last year and the prorated targets
    previous: Usage  # the month before
    other_from_mains: bool  # electricity total is measured by main meters, so total - items = unmetered
    kgce_per_kwh: float

    def other_u(self, i: int | None = None) -> int | None:
        """Electricity not on any sub-item meter (main − items), for day i or the month; None if not metered."""
        if self.electricity is None or not self.items or not self.other_from_mains:
            return None
        if i is None:
            return self.electricity.total.tally.amount_u - sum(s.total.tally.amount_u for s in self.items)
        return self.electricity.buckets[i].tally.amount_u - sum(s.buckets[i].tally.amount_u for s in self.items)

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def days(self) -> list[date]:
        """The local days of the month."""
        return [self.month + timedelta(days=i) for i in range((next_month(self.month) - self.month).days)]


def next_month(month: date) -> date:
    """First day of the following month."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def monthly_report(service: EnergyService, building_id: str, month: date, now_ms: int) -> MonthlyReport:
    """Gather a building's report for the local calendar month starting `month`."""
    site, topo, tz = service.site, service.topology, service.tz
    building = site.building_by_id[building_id]
    month = month.replace(day=1)
    start, end = day_start_ms(month, tz), day_start_ms(next_month(month), tz)
    kinds = topo.kinds(building_id)
    elec = topo.total(Kind.ELECTRICITY, building_id) if Kind.ELECTRICITY in kinds else None
    water = topo.total(Kind.WATER, building_id) if Kind.WATER in kinds else None
    items = topo.items(Kind.ELECTRICITY, building_id) if elec is not None else []
    meters = [topo.meter(m.id) for m in site.meters if m.building == building_id]
    groups = [g for g in (elec, water) if g is not None] + items + meters
    result = service.consumption(groups, start, end, BucketSize.DAY)
    series = iter(result.series)
    elec_s = next(series) if elec is not None else None
    water_s = next(series) if water is not None else None
    item_s = tuple(next(series) for _ in items)
    meter_s = tuple(series)
    comparison = compare(service, start, end, building_id)[0]
    prev_start = day_start_ms((month - timedelta(days=1)).replace(day=1), tz)
    previous = usages(service, entities(service, building_id)[:1], prev_start, start)[0]
    item_meters = {m for g in items for m in g.meters}
    return MonthlyReport(
        site_id=site.site.id,
        site_name=site.site.name,
        timezone=site.site.timezone,
        building=building,
        month=month,
        start_ms=start,
        end_ms=end,
        generated_ms=now_ms,
        source=result.source,
        electricity=elec_s,
        water=water_s,
        items=item_s,
        meters=meter_s,
        comparison=comparison,
        previous=previous,
        other_from_mains=elec is not None and not (set(elec.meters) & item_meters),
        kgce_per_kwh=site.energy.coal.electricity_kgce_per_kwh,
    )


# -- CSV -----------------------------------------------------------------------------------------------


def csv_header(report: MonthlyReport) -> list[str]:
    """Column names of the daily table."""
    cols = ["date", "electricity_kwh"]
    cols += [f"{s.group.name}_kwh" for s in report.items]
    if report.other_u() is not None:
        cols.append("other_kwh")
    cols += ["water_m3", "kgce", "electricity_completeness_pct", "water_completeness_pct", "estimated_kwh", "flags"]
    return cols


def _pick(series: SeriesValue | None, i: int | None) -> BucketValue | None:
    if series is None:
        return None
    return series.total if i is None else series.buckets[i]


def _row(report: MonthlyReport, label: str, i: int | None) -> list[str]:
    elec, water = _pick(report.electricity, i), _pick(report.water, i)
    row = [label, "" if elec is None else decimal_text(elec.tally.amount_u)]
    row += [decimal_text(s.total.tally.amount_u if i is None else s.buckets[i].tally.amount_u) for s in report.items]
    other = report.other_u(i)
    if other is not None:
        row.append(decimal_text(other))
    kgce = None if elec is None else from_micro(elec.tally.amount_u) * report.kgce_per_kwh
    flags: set[str] = set()
    for s in report.meters:
        bucket = _pick(s, i)
        if bucket is not None:
            flags |= bucket.tally.flags
    row += [
        "" if water is None else decimal_text(water.tally.amount_u),
        "" if kgce is None else f"{kgce:.6f}",
        "" if elec is None else f"{elec.completeness_pct:.2f}",
        "" if water is None else f"{water.completeness_pct:.2f}",
        "" if elec is None else decimal_text(elec.tally.estimated_u),
        ",".join(sorted(flags)),
    ]
    return row


def to_csv(report: MonthlyReport) -> str:
    """The daily table, one row per local day and a `total` row, exact amounts, UTF-8 with BOM (Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(csv_header(report))
    for i, day in enumerate(report.days):
        writer.writerow(_row(report, day.isoformat(), i))
    writer.writerow(_row(report, "total", None))
    return "\ufeff" + out.getvalue()


# -- readable pages ------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def summary_rows(report: MonthlyReport) -> list[tuple[str, str, str, str, str]]:
    """(figure, this month, same month last year, change, target) rows of the summary table."""
    c = report.comparison
    cur, old = c.current, c.last_year
    rows = [
        (
            "Electricity (kWh)",
            _fmt(cur.usage.electricity_kwh),
            _fmt(old.usage.electricity_kwh),
            _signed(_change(cur.usage.electricity_kwh, old.usage.electricity_kwh)),
            "–",
        ),
        (
            "Water (m³)",
            _fmt(cur.usage.water_m3),
            _fmt(old.usage.water_m3),
            _signed(_change(cur.usage.water_m3, old.usage.water_m3)),
            "–",
        ),
        ("Standard coal (kgce)", _fmt(cur.kgce), _fmt(old.kgce), _signed(_change(cur.kgce, old.kgce)), "–"),
    ]
    labels = {
        "kwh_per_m2": "kWh/m²",
        "kgce_per_m2": "kgce/m²",
        "kgce_per_person": "kgce per person",
        "water_m3_per_person": "Water m³ per person",
    }
    for metric, label in labels.items():
        target = c.targets.get(metric)
        target_text = "–" if target is None else f"{_fmt(target, 3)} ({_signed(c.vs_target_pct(metric))})"
        rows.append(
            (
                label,
                _fmt(cur.metric(metric), 3),
                _fmt(old.metric(metric), 3),
                _signed(c.change_pct(metric)),
                target_text,
            )
        )
    return rows


def _change(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return 100.0 * (value - reference) / reference


def _tables(report: MonthlyReport) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table on the page."""
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    tables.append(
        (
            "Summary",
            ["Figure", "This month", "Same month last year", "Change", "Target (vs target)"],
            [list(r) for r in summary_rows(report)],
        )
    )
    prev = report.previous
    tables.append(
        (
            "Previous month",
            ["Figure", "Previous month", "This month"],
            [
                [
                    "Electricity (kWh)",
                    _fmt(prev.electricity_kwh),
                    _fmt(report.comparison.current.usage.electricity_kwh),
                ],
                ["Water (m³)", _fmt(prev.water_m3), _fmt(report.comparison.current.usage.water_m3)],
            ],
        )
    )
    if report.electricity is not None and report.items:
        total_u = report.electricity.total.tally.amount_u
        rows = []
        for s in report.items:
            u = s.total.tally.amount_u
            rows.append([f"{s.group.name} {ITEM_NAMES.get(s.group.name, '')}", _fmt(from_micro(u)), _share(u, total_u)])
        other = report.other_u()
        if other is not None:
            rows.append(
                ["Other (main − sub-items: unmetered, losses)", _fmt(from_micro(other)), _share(other, total_u)]
            )
        rows.append(["Total", _fmt(from_micro(total_u)), "100.0 %"])
        tables.append(("Electricity by sub-item", ["Sub-item", "kWh", "Share"], rows))
    header = csv_header(report)
    daily = [_row(report, d.isoformat(), i) for i, d in enumerate(report.days)] + [_row(report, "total", None)]
    tables.append(("Day by day", header, [[_round_cell(h, v) for h, v in zip(header, r, strict=True)] for r in daily]))
    quality = []
    for s in report.meters:
        t = s.total
        quality.append(
            [
                s.group.name,
                s.group.unit,
                _fmt(from_micro(t.tally.amount_u)),
                _fmt(from_micro(t.tally.estimated_u)),
                f"{t.completeness_pct:.2f} %",
                ", ".join(sorted(t.tally.flags)) or "–",
            ]
        )
    tables.append(
        ("Data quality per meter", ["Meter", "Unit", "Amount", "Estimated", "Completeness", "Flags"], quality)
    )
    return tables


def _share(part_u: int, total_u: int) -> str:
    return "–" if total_u == 0 else f"{100.0 * part_u / total_u:.1f} %"


def _round_cell(column: str, value: str) -> str:
    if column.endswith(("_kwh", "_m3", "kgce")) and value not in ("", "total"):
        try:
            return _fmt(float(value))
        except ValueError:
            return value
    return value


def _notes(report: MonthlyReport) -> list[str]:
    return [
        f"Period: {iso_local(report.start_ms, report.tz)} to {iso_local(report.end_ms, report.tz)} "
        f"({report.timezone}); generated {iso_local(report.generated_ms, report.tz)}; data: {report.source}.",
        f"Standard coal: electricity {report.kgce_per_kwh} kgce/kWh (equivalent value, GB/T 2589).",
        "Consumption is read from cumulative registers (rollovers and meter replacements accounted for), with the "
        "register interpolated at day boundaries; 'estimated' is energy spread over reading gaps or assumed at a "
        "meter replacement; completeness is the share of meter-time covered by regular readings.",
        "Targets are annual targets from the site file, prorated to the month.",
    ]


def _title(report: MonthlyReport) -> str:
    b = report.building
    return f"{b.name} ({b.id}) — energy report {report.month:%Y-%m}"


def _about(report: MonthlyReport) -> str:
    b = report.building
    return f"{report.site_name} · {b.use} · {b.floor_area_m2:,.0f} m² · {b.occupants} occupants"


def to_markdown(report: MonthlyReport) -> str:
    """The report as a Markdown page."""
    lines = [f"# {_title(report)}", "", _about(report), ""]
    for title, header, rows in _tables(report):
        lines += [f"## {title}", "", _md_row(header), _md_row(["---"] * len(header))]
        lines += [_md_row(r) for r in rows] + [""]
    lines += ["## Notes", ""] + [f"- {n}" for n in _notes(report)] + [""]
    return "\n".join(lines)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def to_html(report: MonthlyReport) -> str:
    """The report as a self-contained, printable HTML page."""
    e: Callable[[str], str] = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(_title(report))}</title>",
        "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:0 0 1.5em}"
        "th,td{border:1px solid #bbb;padding:3px 8px;font-size:13px}td{text-align:right}td:first-child{text-align:left}"
        "th{background:#eee}h1{font-size:20px}h2{font-size:16px;margin-top:1.5em}"
        "@media print{body{margin:0}}</style></head><body>",
        f"<h1>{e(_title(report))}</h1>",
        f"<p>{e(_about(report))}</p>",
    ]
    for title, header, rows in _tables(report):
        parts.append(f"<h2>{e(title)}</h2><table><thead><tr>")
        parts += [f"<th>{e(h)}</th>" for h in header]
        parts.append("</tr></thead><tbody>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in _notes(report)) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
