"""The procedure report as one self-contained HTML page (and the text tables the PDF shares).

:func:`render_html` fills ``templates/report.html`` (Jinja2, autoescaped) with the report's text
tables (:func:`report_text`) and its figures as inline SVG: the region maps from
:mod:`hipec.reports.region_map`, the time series from :mod:`hipec.reports.run_plots`. The page
carries its own CSS (screen and print), loads nothing from elsewhere, and prints on A4.

:func:`report_text` is the one place where numbers become text (units, rounding, "not recorded"),
so the HTML and the PDF (:mod:`hipec.reports.pdf`) always say the same thing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hipec.clinical.pci import PCI_REGIONS
from hipec.errors import InvalidInputError
from hipec.reports.report import (
    LESION_SIZE_DESCRIPTIONS,
    DrugExposure,
    PlanSummary,
    ProcedureReport,
    RunReport,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MISSING = "not recorded"
TEMPLATE_NAME = "report.html"


# --------------------------------------------------------------------------------------------
# Numbers to text
# --------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    """``value`` rounded to ``digits`` decimals with its unit; "not recorded" for None/nan."""
    if value is None or not math.isfinite(value):
        return MISSING
    text = f"{value:,.{digits}f}".replace(",", "\u2009")  # thin space groups thousands
    return f"{text} {unit}".rstrip() if unit else text


def fmt_datetime(value: dt.datetime | None) -> str:
    """``YYYY-MM-DD HH:MM UTC`` (hipec stores UTC)."""
    if value is None:
        return MISSING
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(value: dt.date | None) -> str:
    """``YYYY-MM-DD``."""
    return MISSING if value is None else value.isoformat()


def fmt_percent(fraction: float | None, digits: int = 0) -> str:
    """A fraction (0-1) as a percentage."""
    return MISSING if fraction is None else fmt(100.0 * fraction, digits, "%")


def _label(text: str) -> str:
    return text.replace("_", " ").replace("-", " ")


@dataclass(frozen=True)
class TextTable:
    """A table of text: headers (with units), rows, and which columns are numbers."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    empty_text: str = "none"


Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReportText:
    """Every text block of the report, ready for a renderer."""

    title: str
    subtitle: str
    notices: tuple[str, ...]
    disclaimer: str
    patient: Pairs
    plan: Pairs
    plan_doses: TextTable | None
    plan_warnings: tuple[str, ...]
    staging: Pairs
    involved: TextTable | None
    staging_history: TextTable
    surgery: Pairs
    peritonectomies: tuple[str, ...]
    organ_resections: tuple[str, ...]
    run: Pairs
    phases: TextTable | None
    doses: TextTable | None
    alarms: TextTable | None
    regions: TextTable | None
    probes: TextTable | None
    drugs: TextTable | None
    totals: Pairs
    cpt: TextTable
    icd10: TextTable
    billing_note: str
    time_note: str


def _patient_pairs(report: ProcedureReport) -> Pairs:
    p = report.patient
    age = f" (age {p.age_years} at operation)" if p.age_years is not None else ""
    primary = p.primary_site + (f" ({p.primary_icd10})" if p.primary_icd10 else "")
    return (
        ("Case number", p.case_number + (" (synthetic)" if p.synthetic else "")),
        ("Sex", p.sex),
        ("Birth year", f"{p.birth_year}{age}"),
        ("Height", fmt(p.height_cm, 0, "cm")),
        ("Weight", fmt(p.weight_kg, 1, "kg")),
        ("Body surface area (Mosteller)", fmt(p.bsa_m2, 2, "m²")),
        ("Primary tumour", primary),
        ("Histology", p.histology or MISSING),
    )


def _plan_pairs(plan: PlanSummary) -> Pairs:
    band = (
        f", range {plan.target_range_c[0]:g}-{plan.target_range_c[1]:g} °C"
        if plan.target_range_c
        else ""
    )
    limits = ", ".join(
        text
        for text in (
            f"inflow {plan.max_inflow_c:g} °C" if plan.max_inflow_c is not None else "",
            f"intra-abdominal {plan.max_intra_abdominal_c:g} °C"
            if plan.max_intra_abdominal_c is not None
            else "",
        )
        if text
    )
    flow = (
        f"{plan.flow_l_per_min[0]:g}-{plan.flow_l_per_min[1]:g} L/min"
        if plan.flow_l_per_min
        else "not specified by the regimen"
    )
    return (
        ("Regimen", f"{plan.regimen_name} ({plan.regimen_id})"),
        ("Technique", plan.technique),
        (
            "Dosing body surface area",
            f"{fmt(plan.dosing_bsa_m2, 2, 'm²')} ({plan.bsa_formula}; "
            f"patient {fmt(plan.bsa_m2, 2, 'm²')})",
        ),
        ("Carrier", f"{plan.carrier_solution}, {fmt(plan.carrier_volume_l, 2, 'L')}"),
        (
            "Temperature target",
            f"{_label(plan.target_site)} {plan.target_temperature_c:g} °C{band}",
        ),
        ("Safety limits", limits or MISSING),
        ("Flow", flow),
        ("Perfusion time", fmt(plan.duration_min, 0, "min")),
        ("Timer starts", plan.timer_start or MISSING),
        ("Source", plan.citation or MISSING),
    )


def _plan_doses(run: RunReport) -> TextTable | None:
    planned = [d for d in run.doses if d.planned_mg is not None]
    if not planned:
        return None
    return TextTable(
        ("Drug", "Route", "Dose [mg]", "At [min after timer start]"),
        tuple((d.drug, d.route, fmt(d.planned_mg, 1), fmt(d.planned_at_min, 0)) for d in planned),
        (False, False, True, True),
    )


def _run_pairs(run: RunReport) -> Pairs:
    return (
        ("Run", f"#{run.run_id}, {run.status}"),
        ("Device", run.device_name or MISSING),
        ("Started", fmt_datetime(run.started_at)),
        ("Ended", fmt_datetime(run.ended_at)),
        ("Run time", fmt(run.totals.run_min, 1, "min")),
        ("End", run.end_reason or MISSING),
        ("Samples", f"{run.totals.samples} (1 Hz)"),
    )


def _phase_table(run: RunReport) -> TextTable | None:
    if not run.phases:
        return None
    return TextTable(
        ("Phase", "Start [min]", "End [min]", "Duration [min]"),
        tuple(
            (p.phase, fmt(p.start_s / 60, 1), fmt(p.end_s / 60, 1), fmt(p.minutes, 1))
            for p in run.phases
        ),
        (False, True, True, True),
    )


def _dose_table(run: RunReport) -> TextTable | None:
    if not run.doses:
        return None
    rows = []
    for d in run.doses:
        deviation = d.deviation_percent
        rows.append(
            (
                d.drug,
                fmt(d.planned_mg, 1),
                fmt(d.planned_at_min, 0) if d.planned_mg is not None else "unplanned",
                fmt(d.given_mg, 1) if d.given_mg is not None else "not given",
                fmt(d.given_at_timer_min, 1) if d.given_mg is not None else "",
                fmt(deviation, 1, "%") if deviation is not None else "",
            )
        )
    return TextTable(
        (
            "Drug",
            "Planned [mg]",
            "Planned at [min]",
            "Given [mg]",
            "Given at [min]",
            "Given vs planned",
        ),
        tuple(rows),
        (False, True, True, True, True, True),
    )


def _alarm_table(run: RunReport) -> TextTable:
    rows = []
    for a in run.alarms:
        acknowledged = (
            fmt(a.acknowledged_s - a.raised_s, 0, "s") if a.acknowledged_s is not None else "no"
        )
        active = fmt(a.active_s, 0, "s") if a.active_s is not None else "not cleared"
        rows.append((fmt(a.raised_s / 60, 1), a.priority, a.code, a.message, acknowledged, active))
    return TextTable(
        ("Raised [min]", "Priority", "Alarm", "Message", "Acknowledged after", "Lasted"),
        tuple(rows),
        (True, False, False, False, True, True),
        empty_text="No alarms were raised during this run.",
    )


def _region_table(run: RunReport) -> TextTable | None:
    if not run.region_thermal:
        return None
    probes = {p.region: p for p in run.probe_thermal}
    rows = []
    for r in run.region_thermal:
        probe = probes.get(r.index)
        rows.append(
            (
                f"{r.index} {r.name}",
                fmt(r.mean_c, 1),
                fmt(r.min_c, 1),
                fmt(r.max_c, 1),
                fmt_percent(r.time_in_range_fraction),
                fmt(r.cem43_min, 2),
                fmt(probe.cem43_min, 2) if probe is not None else "",
            )
        )
    return TextTable(
        (
            "Region",
            "Mean [°C]",
            "Min [°C]",
            "Max [°C]",
            "At 41-43 °C [% of time]",
            "CEM43 [min]",
            "Probe CEM43 [min]",
        ),
        tuple(rows),
        (False, True, True, True, True, True, True),
    )


def _probe_table(run: RunReport) -> TextTable | None:
    if not run.probe_thermal:
        return None
    return TextTable(
        ("Probe region", "Mean [°C]", "Min [°C]", "Max [°C]", "CEM43 [min]", "Readings"),
        tuple(
            (
                f"{p.region} {p.name}",
                fmt(p.mean_c, 1),
                fmt(p.min_c, 1),
                fmt(p.max_c, 1),
                fmt(p.cem43_min, 2),
                str(p.samples),
            )
            for p in run.probe_thermal
        ),
        (False, True, True, True, True, True),
    )


def _drug_table(drugs: tuple[DrugExposure, ...]) -> TextTable | None:
    if not drugs:
        return None
    rows = (
        ("Dose in the perfusate [mg]", [fmt(d.dose_mg, 1) for d in drugs]),
        (
            "Left in the perfusate at the end [% of dose]",
            [fmt_percent(d.fraction_remaining_in_perfusate) for d in drugs],
        ),
        ("Absorbed [% of dose]", [fmt_percent(d.fraction_absorbed) for d in drugs]),
        ("In urine [% of dose]", [fmt_percent(d.fraction_in_urine, 1) for d in drugs]),
        (
            "Perfusate / plasma AUC ratio [-]",
            [fmt(d.auc_ratio_perfusate_to_plasma, 1) for d in drugs],
        ),
        ("Plasma Cmax [mg/L]", [fmt(d.plasma_cmax_mg_per_l, 3) for d in drugs]),
        ("Plasma Tmax [min after timer start]", [fmt(d.plasma_tmax_min, 0) for d in drugs]),
        (
            "Penetration depth (10 % of surface) [mm]",
            [fmt(d.penetration_depth_mm, 2) for d in drugs],
        ),
    )
    return TextTable(
        ("Figure", *(d.drug for d in drugs)),
        tuple((name, *values) for name, values in rows),
        (False, *(True for _ in drugs)),
    )


def _totals_pairs(run: RunReport) -> Pairs:
    t = run.totals
    pairs = [
        ("Perfusion time (timer)", fmt(t.perfusion_min, 1, "min")),
        ("Time to target temperature", fmt(t.time_to_target_min, 1, "min")),
        ("Mean inflow temperature (perfusion)", fmt(t.inflow_mean_c, 2, "°C")),
        ("Mean outflow temperature (perfusion)", fmt(t.outflow_mean_c, 2, "°C")),
        ("Highest inflow temperature", fmt(t.inflow_max_c, 2, "°C")),
        ("Highest intra-abdominal probe", fmt(t.cavity_max_c, 2, "°C")),
        ("Highest core temperature", fmt(t.core_max_c, 2, "°C")),
        ("Mean inflow (perfusion)", fmt(t.flow_mean_l_per_min, 2, "L/min")),
    ]
    for drug in t.drugs:
        pairs.append(
            (
                f"{drug.drug} given / planned",
                f"{fmt(drug.given_mg, 1, 'mg')} / {fmt(drug.planned_mg, 1, 'mg')}",
            )
        )
    return tuple(pairs)


def _surgery_pairs(report: ProcedureReport) -> Pairs:
    s = report.surgery
    if s is None:
        return ()
    cc = MISSING
    if s.cc_score is not None:
        complete = "complete" if s.complete_cytoreduction else "incomplete"
        cc = f"CC-{s.cc_score}: {s.cc_description} ({complete} cytoreduction)"
    return (
        ("Date", fmt_date(s.performed_on)),
        ("HIPEC technique", s.technique),
        ("CRS start", fmt_datetime(s.crs_start)),
        ("CRS end", fmt_datetime(s.crs_end)),
        ("CRS duration", fmt(s.crs_minutes, 0, "min")),
        ("Completeness of cytoreduction", cc),
        ("Blood loss", fmt(s.blood_loss_ml, 0, "mL")),
    )


def report_text(report: ProcedureReport) -> ReportText:
    """Every text block of the report (see the module docstring)."""
    run = report.run
    pci = report.pci
    staging: Pairs = ()
    involved = None
    if pci is not None:
        staging = (
            ("Peritoneal Cancer Index", f"{pci.pci} of 39"),
            ("Assessed", f"{fmt_date(pci.assessed_on)} at {pci.source}"),
            ("Decision", _label(pci.decision) if pci.decision else MISSING),
        )
        involved = TextTable(
            ("Region", "Lesion size", "Largest implant"),
            tuple(
                (f"{index} {name}", f"LS-{score}", LESION_SIZE_DESCRIPTIONS[score])
                for index, name, score in pci.involved
            ),
            (False, False, False),
            empty_text="No region involved (PCI 0).",
        )
    history = TextTable(
        ("Date", "Source", "PCI"),
        tuple((fmt_date(s.assessed_on), s.source, str(s.pci)) for s in report.staging_history),
        (False, False, True),
        empty_text="No staging recorded.",
    )
    surgery = report.surgery
    billing = report.billing
    subtitle = f"Case {report.patient.case_number}"
    if surgery is not None:
        subtitle += f" · operated {fmt_date(surgery.performed_on)}"
    subtitle += f" · report generated {fmt_datetime(report.generated_at)}"
    return ReportText(
        title="CRS + HIPEC procedure report",
        subtitle=subtitle,
        notices=report.notices,
        disclaimer=report.disclaimer,
        patient=_patient_pairs(report),
        plan=_plan_pairs(run.plan) if run is not None and run.plan is not None else (),
        plan_doses=_plan_doses(run) if run is not None else None,
        plan_warnings=run.plan.warnings if run is not None and run.plan is not None else (),
        staging=staging,
        involved=involved,
        staging_history=history,
        surgery=_surgery_pairs(report),
        peritonectomies=tuple(r.label for r in surgery.peritonectomies) if surgery else (),
        organ_resections=tuple(r.label for r in surgery.organ_resections) if surgery else (),
        run=_run_pairs(run) if run is not None else (),
        phases=_phase_table(run) if run is not None else None,
        doses=_dose_table(run) if run is not None else None,
        alarms=_alarm_table(run) if run is not None else None,
        regions=_region_table(run) if run is not None else None,
        probes=_probe_table(run) if run is not None else None,
        drugs=_drug_table(run.drugs) if run is not None else None,
        totals=_totals_pairs(run) if run is not None else (),
        cpt=TextTable(
            ("Code", "Units", "Description"),
            tuple((c.code, str(c.units), c.description) for c in billing.cpt),
            (False, True, False),
            empty_text="No HIPEC procedure code (see the note).",
        ),
        icd10=TextTable(
            ("Code", "Description"),
            tuple((c.code, c.description) for c in billing.icd10),
            (False, False),
        ),
        billing_note=billing.note,
        time_note=(
            "Run time: minutes since the perfusion device started. Dose times: minutes after the "
            "perfusion timer started. Times of day in UTC."
        ),
    )


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapFigure:
    """What one region map shows (the same for SVG and PNG)."""

    key: str
    title: str
    values: tuple[float | None, ...]
    quantity: str
    unit: str
    palette: str
    marked: tuple[int, ...]
    marker_label: str | None
    notes: dict[int, str]
    caption: str


def map_figures(report: ProcedureReport) -> list[MapFigure]:
    """The value maps of a run: regional thermal dose, then drug exposure per drug."""
    run = report.run
    if run is None:
        return []
    maps: list[MapFigure] = []
    probes = {p.region: p for p in run.probe_thermal}
    notes = {
        region: f"probe {fmt(p.cem43_min, 2)} min"
        for region, p in probes.items()
        if p.cem43_min is not None
    }
    have_model = any(v is not None for v in run.region_cem43)
    values = run.region_cem43 if have_model else run.probe_cem43
    if any(v is not None for v in values):
        maps.append(
            MapFigure(
                "thermal-dose",
                "Regional thermal dose",
                tuple(values),
                "CEM43 thermal dose",
                "min",
                "heat",
                tuple(probes),
                "probe in this region: measured CEM43 below" if have_model else "probe",
                notes if have_model else {},
                (
                    "Cumulative equivalent minutes at 43 °C (Sapareto & Dewey 1984) over the "
                    "perfusion period. Cell values: the run summary's estimate for every region"
                    + ("; measured probe values below them." if probes else ".")
                    if have_model
                    else "Cumulative equivalent minutes at 43 °C measured by the intra-abdominal "
                    "probes; regions without a probe have no data."
                ),
            )
        )
    for drug in run.drugs:
        if drug.region_auc_mg_min_per_l is None:
            continue
        maps.append(
            MapFigure(
                f"drug-{drug.drug}",
                f"Regional exposure: {drug.drug}",
                drug.region_auc_mg_min_per_l,
                f"{drug.drug} perfusate AUC",
                "mg·min/L",
                "drug",
                (),
                None,
                {},
                "Area under the perfusate concentration curve in each region over the perfusion "
                "period (run summary estimate).",
            )
        )
    return maps


def _map_svg(figure: MapFigure) -> str:
    from hipec.reports.region_map import value_map_svg

    return value_map_svg(
        figure.values,
        quantity=figure.quantity,
        unit=figure.unit,
        palette="drug" if figure.palette == "drug" else "heat",
        marked=figure.marked,
        marker_label=figure.marker_label,
        notes=figure.notes,
        element_id=f"map-{figure.key}".replace(" ", "-"),
    )


def map_matplotlib(figure: MapFigure, width_in: float = 3.4) -> Figure:
    """A :class:`MapFigure` as a Matplotlib figure (for the PDF)."""
    from hipec.reports.region_map import value_map_figure

    return value_map_figure(
        figure.values,
        quantity=figure.quantity,
        unit=figure.unit,
        palette="drug" if figure.palette == "drug" else "heat",
        marked=figure.marked,
        marker_label=figure.marker_label,
        notes=figure.notes,
        width_in=width_in,
    )


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def render_html(report: ProcedureReport) -> str:
    """The report as one self-contained HTML document."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    from hipec.reports.region_map import pci_map_svg
    from hipec.reports.run_plots import (
        figure_svg,
        flow_figure,
        temperature_figure,
        timeline_figure,
    )

    environment = Environment(
        loader=PackageLoader("hipec.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    figures: dict[str, Markup] = {}
    if report.pci is not None:
        figures["pci"] = Markup(pci_map_svg(report.pci.scores, element_id="map-pci"))
    maps = map_figures(report)
    if report.run is not None and report.run.series.time_s.size:
        figures["timeline"] = Markup(figure_svg(timeline_figure(report.run)))
        figures["temperature"] = Markup(figure_svg(temperature_figure(report.run)))
        figures["flow"] = Markup(figure_svg(flow_figure(report.run)))
    template = environment.get_template(TEMPLATE_NAME)
    return template.render(
        report=report,
        text=report_text(report),
        figures=figures,
        maps=[(m, Markup(_map_svg(m))) for m in maps],
        regions=PCI_REGIONS,
    )


def write_html(report: ProcedureReport, path: Path) -> Path:
    """Write the HTML report to ``path``.

    Raises
    ------
    InvalidInputError
        Field ``--html`` if the file cannot be written (the reason in the message).
    """
    html = render_html(report)
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            "--html", f"cannot write {str(path)!r}: {exc.strerror or exc}"
        ) from None
    return path
