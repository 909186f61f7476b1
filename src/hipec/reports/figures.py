"""Figures of a perfusion run (Matplotlib, Agg backend: no display needed, safe in threads).

:func:`plot_simulation` draws three panels over the run's time in minutes:

1. inflow, outflow and core temperatures, with the therapeutic band 41-43 C shaded and the
   target as a dashed line;
2. the fluid temperature of every PCI region (13 lines, coolest and hottest labelled);
3. perfusate and plasma concentration of every drug on a log scale, dose times marked.

Phases are shaded and named along the top of every panel.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hipec.errors import InvalidInputError
from hipec.model import REGION_NAMES
from hipec.model.state import FloatArray
from hipec.runner.result import RANGE_HIGH_C, RANGE_LOW_C, RunResult

#: Characters per line of the figure's title at 13 pt across its 11 in width.
_TITLE_CHARACTERS = 110

_PHASE_COLOURS = {
    "prime": "#f2f2f2",
    "fill": "#e6f0fa",
    "heat": "#fdf0e0",
    "perfuse": "#ffffff",
    "drain": "#e6f0fa",
    "rinse": "#ececf6",
}


def plot_simulation(result: RunResult, path: Path | str, title: str | None = None) -> Path:
    """Write the run's figure to ``path`` (PNG) and return the path.

    Raises
    ------
    InvalidInputError
        If the run has no trace (not a simulated machine) or the file cannot be written.
    """
    trace = result.trace
    if trace is None or trace.time_s.size < 2:
        raise InvalidInputError("plot", "needs a simulated run with at least two samples")
    minutes = trace.time_s / 60.0
    figure = Figure(figsize=(11, 10), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(3, 1, sharex=True, height_ratios=[1.1, 1.1, 1.0])
    heading = title or result.protocol
    # a regimen's full name can be longer than the figure is wide: wrap, never clip
    suptitle = f"{heading} - {result.controller} controller, {result.outcome}"
    figure.suptitle("\n".join(textwrap.wrap(suptitle, width=_TITLE_CHARACTERS)), fontsize=13)

    for axis in axes:
        for phase in result.phases:
            colour = _PHASE_COLOURS.get(phase.name)
            end = phase.end_min if phase.end_min is not None else float(minutes[-1])
            if colour is not None and end > phase.start_min:
                axis.axvspan(phase.start_min, end, color=colour, zorder=0, lw=0)
        axis.grid(True, alpha=0.3)
    top = axes[0]
    for phase in result.phases:
        end = phase.end_min if phase.end_min is not None else float(minutes[-1])
        if phase.name in _PHASE_COLOURS and end - phase.start_min > 0.02 * float(minutes[-1]):
            top.text(
                (phase.start_min + end) / 2,
                1.01,
                phase.name,
                transform=top.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#555555",
            )

    # 1. circuit and patient temperatures
    top.axhspan(RANGE_LOW_C, RANGE_HIGH_C, color="#d9f0d9", alpha=0.6, zorder=0.5, lw=0)
    top.plot(minutes, trace.inflow_c, color="#d62728", lw=1.4, label="inflow")
    top.plot(minutes, trace.outflow_c, color="#1f77b4", lw=1.4, label="outflow")
    top.plot(minutes, trace.core_c, color="#2ca02c", lw=1.6, label="core")
    top.axhline(
        result.target_c,
        color="black",
        ls="--",
        lw=0.9,
        label=f"regimen target {result.target_c:g} C ({result.target_site.replace('_', '-')})",
    )
    top.set_ylabel("temperature [C]")
    top.set_ylim(*_limits(np.concatenate([trace.inflow_c, trace.outflow_c, trace.core_c])))
    top.legend(loc="lower right", fontsize=8, ncols=2)
    top.set_title("Circuit and patient (band: 41-43 C)", fontsize=10, loc="left", pad=14)

    # 2. every region
    regions = axes[1]
    regions.axhspan(RANGE_LOW_C, RANGE_HIGH_C, color="#d9f0d9", alpha=0.6, zorder=0.5, lw=0)
    cmap = colormaps["coolwarm"]
    perfuse = trace.mask("perfuse")
    reference = trace.region_c[perfuse].mean(axis=0) if perfuse.any() else trace.region_c[-1]
    order = np.argsort(reference)
    for rank, index in enumerate(order):
        regions.plot(
            minutes,
            trace.region_c[:, index],
            lw=1.0,
            color=cmap(rank / 12),
            label=f"{index} {REGION_NAMES[index]}",
        )
    regions.set_ylabel("region temperature [C]")
    regions.set_ylim(*_limits(trace.region_c.ravel()))
    regions.legend(
        loc="lower right",
        fontsize=7,
        ncols=4,
        title="PCI region (coolest to hottest)",
        title_fontsize=7,
    )
    regions.set_title("Abdomen: the 13 PCI regions", fontsize=10, loc="left")

    # 3. drug concentrations
    drugs = axes[2]
    palette = ["#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    plotted = False
    for column, name in enumerate(trace.drugs):
        colour = palette[column % len(palette)]
        perfusate = trace.perfusate_mg_l[:, column]
        plasma = trace.plasma_mg_l[:, column]
        if perfusate.max() > 0:
            drugs.plot(
                minutes,
                np.where(perfusate > 0, perfusate, np.nan),
                color=colour,
                lw=1.6,
                label=f"{name} perfusate",
            )
            plotted = True
        if plasma.max() > 0:
            drugs.plot(
                minutes,
                np.where(plasma > 0, plasma, np.nan),
                color=colour,
                lw=1.2,
                ls="--",
                label=f"{name} plasma",
            )
            plotted = True
    for dose in result.doses:
        if dose.given_min is not None:
            drugs.axvline(dose.given_min, color="#444444", lw=0.8, ls=":")
    if plotted:
        drugs.set_yscale("log")
        # plasma starts from zero: show three decades below the lowest peak, not its first 1e-9
        peaks = [
            c.max() for c in (trace.perfusate_mg_l, trace.plasma_mg_l) if c.size and c.max() > 0
        ]
        drugs.set_ylim(bottom=min(peaks) * 1e-3)
        drugs.legend(loc="lower right", fontsize=8, ncols=2)
    drugs.set_ylabel("concentration [mg/L]")
    drugs.set_xlabel("time from the start of the run [min]")
    drugs.set_title(
        "Drug: perfusate (solid) and plasma (dashed); dotted lines: doses", fontsize=10, loc="left"
    )
    drugs.set_xlim(float(minutes[0]), float(minutes[-1]))

    target = Path(path)
    try:
        figure.savefig(target, dpi=110, format="png")
    except OSError as error:
        raise InvalidInputError("plot", f"cannot write {str(target)!r}: {error.strerror}") from None
    return target


def _limits(values: FloatArray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    low, high = float(finite.min()), float(finite.max())
    low = min(low, RANGE_LOW_C) - 0.5
    high = max(high, RANGE_HIGH_C) + 0.5
    return low, high
