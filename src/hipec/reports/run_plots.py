"""Time-series figures of a perfusion run, from its stored 1 Hz samples.

- :func:`temperature_figure`: inflow, outflow, reservoir, core and every intra-abdominal probe
  [C] against run time [min], with the plan's target band and safety limit, the phases and the
  perfusion timer;
- :func:`flow_figure`: pump flows [L/min], reservoir volume [L], heater power [W] and, where
  recorded, pressures [mmHg];
- :func:`timeline_figure`: the phases as a bar, with doses given and alarms (raised to cleared).

Every function takes a :class:`hipec.reports.report.RunReport` and returns a Matplotlib
:class:`~matplotlib.figure.Figure` built without pyplot (no global state, safe in a web server).
:func:`figure_svg` and :func:`figure_png` turn a figure into an inline SVG string or PNG bytes.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hipec.clinical.pci import PCI_REGIONS
from hipec.store.models import CAVITY_COLUMNS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hipec.reports.report import PhaseSpan, RunReport

#: Colours of the phases (timeline bar and the shading of the time-series plots).
PHASE_COLOURS: dict[str, str] = {
    "setup": "#d9d9d9",
    "prime": "#c6dbef",
    "fill": "#9ecae1",
    "heat": "#fdae6b",
    "perfuse": "#fb6a4a",
    "drain": "#a1d99b",
    "rinse": "#c7e9c0",
}
PROBE_COLOURS: tuple[str, ...] = (
    "#6a3d9a",
    "#e6a100",
    "#1b9e77",
    "#e7298a",
    "#66a61e",
    "#a6761d",
    "#1f78b4",
)
ALARM_COLOURS: dict[str, str] = {
    "high": "#d7191c",
    "medium": "#fdae61",
    "low": "#2c7bb6",
    "info": "#7f7f7f",
}
_WIDTH_IN = 7.2


def _minutes(time_s: np.ndarray[Any, np.dtype[np.float64]] | float) -> Any:
    return np.asarray(time_s) / 60.0


def _style_axes(axes: Axes) -> None:
    axes.grid(True, color="#e0e0e0", linewidth=0.5)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=7.5, length=2.5)


def _shade_phases(axes: Axes, phases: Sequence[PhaseSpan], *, label: bool, span_min: float) -> None:
    """Shade each phase; name the phases long enough for their name (6 % of the time axis)."""
    for span in phases:
        axes.axvspan(
            span.start_s / 60.0,
            span.end_s / 60.0,
            color=PHASE_COLOURS.get(span.phase, "#eeeeee"),
            alpha=0.18,
            linewidth=0,
        )
        if label and span.minutes >= 0.06 * span_min:
            axes.text(
                (span.start_s + span.end_s) / 120.0,
                1.01,
                span.phase,
                transform=axes.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=6.5,
                color="#444444",
                clip_on=False,
            )


def _timer_lines(axes: Axes, run: RunReport) -> None:
    for time_s in (run.timer_start_s, run.timer_end_s):
        if time_s is not None:
            axes.axvline(time_s / 60.0, color="#555555", linewidth=0.7, linestyle=(0, (4, 2)))


def _x_limits(run: RunReport) -> tuple[float, float]:
    time = run.series.time_s
    ends = [float(time[-1]) if time.size else 0.0, *(p.end_s for p in run.phases)]
    start = min([float(time[0]) if time.size else 0.0, *(p.start_s for p in run.phases)])
    return start / 60.0, max(max(ends) / 60.0, start / 60.0 + 1.0)


def _span_min(run: RunReport) -> float:
    start, end = _x_limits(run)
    return end - start


def temperature_figure(run: RunReport) -> Figure:
    """Temperatures [C] against run time [min] (see the module docstring)."""
    from matplotlib.figure import Figure

    series = run.series
    figure = Figure(figsize=(_WIDTH_IN, 3.5), layout="constrained")
    axes = figure.add_subplot()
    _style_axes(axes)
    _shade_phases(axes, run.phases, label=True, span_min=_span_min(run))
    plan = run.plan
    if plan is not None and plan.target_range_c is not None:
        low, high = plan.target_range_c
        axes.axhspan(
            low,
            high,
            color="#31a354",
            alpha=0.12,
            linewidth=0,
            label=f"{plan.target_site.replace('_', '-')} target {low:g}-{high:g} °C",
        )
    if plan is not None and plan.max_inflow_c is not None:
        axes.axhline(
            plan.max_inflow_c,
            color="#d7191c",
            linewidth=0.8,
            linestyle=(0, (6, 3)),
            label=f"inflow safety limit {plan.max_inflow_c:g} °C",
        )
    minutes = _minutes(series.time_s)
    lines = (
        ("inflow_c", "inflow", "#d62728", 1.3, "-"),
        ("outflow_c", "outflow", "#1f77b4", 1.1, "-"),
        ("reservoir_c", "reservoir", "#7f7f7f", 0.8, "--"),
        ("core_c", "core (patient)", "#000000", 1.2, "-"),
    )
    for name, label, colour, width, style in lines:
        if series.has_values(name):
            axes.plot(
                minutes,
                series.channel(name),
                color=colour,
                linewidth=width,
                linestyle=style,
                label=label,
            )
    for i, region in enumerate(series.probe_regions):
        column = CAVITY_COLUMNS[region]
        if series.has_values(column):
            axes.plot(
                minutes,
                series.channel(column),
                color=PROBE_COLOURS[i % len(PROBE_COLOURS)],
                linewidth=0.9,
                label=f"probe {region} {PCI_REGIONS[region].name}",
            )
    _timer_lines(axes, run)
    axes.set_xlim(*_x_limits(run))
    axes.set_xlabel("Run time [min]", fontsize=8)
    axes.set_ylabel("Temperature [°C]", fontsize=8)
    _limit_temperature_axis(axes, run)
    axes.legend(
        fontsize=6.8,
        ncol=4,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.17),
        frameon=False,
        handlelength=2.2,
    )
    return figure


def _limit_temperature_axis(axes: Axes, run: RunReport) -> None:
    """From a little below the coolest to above the hottest reading (no empty decades)."""
    series = run.series
    names = ["inflow_c", "outflow_c", "reservoir_c", "core_c"]
    names += [CAVITY_COLUMNS[r] for r in series.probe_regions]
    values = np.concatenate([series.channel(n)[np.isfinite(series.channel(n))] for n in names])
    if values.size == 0:
        return
    top = float(values.max())
    if run.plan is not None and run.plan.max_inflow_c is not None:
        top = max(top, run.plan.max_inflow_c)
    axes.set_ylim(math.floor(float(values.min())) - 0.5, math.ceil(top) + 0.5)


def flow_figure(run: RunReport) -> Figure:
    """Flows [L/min], reservoir volume [L], heater power [W] and pressures [mmHg]."""
    from matplotlib.figure import Figure

    series = run.series
    panels: list[tuple[str, list[tuple[str, str, str]]]] = [
        (
            "Flow [L/min]",
            [
                ("inflow_l_per_min", "inflow pump", "#d62728"),
                ("outflow_l_per_min", "outflow pump", "#1f77b4"),
            ],
        ),
        ("Reservoir [L]", [("reservoir_volume_l", "reservoir volume", "#555555")]),
        ("Heater [W]", [("heater_power_w", "heater power", "#e6550d")]),
    ]
    pressures = [
        (name, label, colour)
        for name, label, colour in (
            ("line_pressure_mmhg", "inflow line", "#756bb1"),
            ("abdominal_pressure_mmhg", "intra-abdominal", "#31a354"),
        )
        if series.has_values(name)
    ]
    if pressures:
        panels.append(("Pressure [mmHg]", pressures))
    panels = [(t, [c for c in cs if series.has_values(c[0])]) for t, cs in panels]
    panels = [(t, cs) for t, cs in panels if cs]
    figure = Figure(figsize=(_WIDTH_IN, 1.25 + 1.05 * max(1, len(panels))), layout="constrained")
    minutes = _minutes(series.time_s)
    axes_list = figure.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (title, channels) in zip(axes_list, panels, strict=False):
        _style_axes(axes)
        _shade_phases(axes, run.phases, label=axes is axes_list[0], span_min=_span_min(run))
        for name, label, colour in channels:
            axes.plot(minutes, series.channel(name), color=colour, linewidth=1.0, label=label)
        _timer_lines(axes, run)
        axes.set_ylabel(title, fontsize=7.5)
        axes.set_ylim(bottom=0)
        if len(channels) > 1:
            axes.legend(fontsize=6.5, loc="lower right", frameon=True, framealpha=0.85)
    axes_list[-1].set_xlim(*_x_limits(run))
    axes_list[-1].set_xlabel("Run time [min]", fontsize=8)
    return figure


def timeline_figure(run: RunReport) -> Figure:
    """The phases as one bar, doses given (triangles) and alarms (raised to cleared) beneath."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH_IN, 2.0), layout="constrained")
    axes = figure.add_subplot()
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=7.5, length=2.5)
    rows = {"Phases": 2.0, "Doses": 1.0, "Alarms": 0.0}
    for span in run.phases:
        axes.barh(
            rows["Phases"],
            span.minutes,
            left=span.start_s / 60.0,
            height=0.6,
            color=PHASE_COLOURS.get(span.phase, "#eeeeee"),
            edgecolor="white",
            linewidth=0.8,
        )
        if span.minutes >= 0.04 * _span_min(run):
            axes.text(
                (span.start_s + span.end_s) / 120.0,
                rows["Phases"],
                span.phase,
                ha="center",
                va="center",
                fontsize=7,
            )
    for dose in run.doses:
        if dose.given_at_s is not None and dose.given_mg is not None:
            x = dose.given_at_s / 60.0
            axes.plot([x], [rows["Doses"]], marker="v", color="#54278f", markersize=6)
            axes.text(
                x,
                rows["Doses"] - 0.32,
                f"{dose.given_mg:.1f} mg",
                ha="center",
                va="top",
                fontsize=6.3,
                color="#54278f",
            )
    end = _x_limits(run)[1]
    label_end = -math.inf
    level = 0
    for alarm in run.alarms:
        start = alarm.raised_s / 60.0
        stop = (alarm.cleared_s / 60.0) if alarm.cleared_s is not None else end
        colour = ALARM_COLOURS.get(alarm.priority, "#7f7f7f")
        axes.barh(rows["Alarms"], max(stop - start, 0.25), left=start, height=0.35, color=colour)
        # labels of alarms close together go on alternate lines so that they never overlap
        level = level + 1 if start < label_end else 0
        axes.text(
            start,
            rows["Alarms"] - 0.3 - 0.3 * (level % 2),
            alarm.code,
            ha="left",
            va="top",
            fontsize=6.3,
            color="#333333",
        )
        label_end = start + 0.012 * len(alarm.code) * _span_min(run)
    _timer_lines(axes, run)
    axes.set_yticks(list(rows.values()), list(rows.keys()), fontsize=7.5)
    axes.set_ylim(-1.1, 2.5)
    axes.set_xlim(*_x_limits(run))
    axes.set_xlabel("Run time [min]  (dashed lines: perfusion timer start and end)", fontsize=8)
    axes.grid(True, axis="x", color="#e0e0e0", linewidth=0.5)
    axes.set_axisbelow(True)
    return figure


_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def figure_svg(figure: Figure) -> str:
    """The figure as an inline ``<svg>`` element (text kept as text; no XML prologue)."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "hipec-report"}):
        # no date in the metadata: the same report renders to the same bytes
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _XML_PROLOGUE.sub("", buffer.getvalue(), count=1)


def figure_png(figure: Figure, dpi: int = 200) -> bytes:
    """The figure as PNG bytes at ``dpi``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()
