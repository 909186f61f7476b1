"""The 13-region PCI map as a figure: lesion sizes, or any value per region with a colour scale.

The drawing follows the classic abdominal diagram, facing the patient (the patient's right on the
viewer's left), as :data:`hipec.clinical.pci.PCI_GRID_LAYOUT` lays it out::

    1 Right upper  | 2 Epigastrium | 3 Left upper
    8 Right flank  | 0 Central     | 4 Left flank
    7 Right lower  | 6 Pelvis      | 5 Left lower
    9 Upper jejunum | 10 Lower jejunum | 11 Upper ileum | 12 Lower ileum   (small bowel)

Two kinds of map, each as a self-contained SVG string (for HTML pages and the web console) and as a
Matplotlib figure (for PDF and PNG):

- :func:`pci_map_svg` / :func:`pci_map_figure`: lesion size scores 0-3, categorical colours;
- :func:`value_map_svg` / :func:`value_map_figure`: one number per region (thermal dose, drug
  exposure, temperature) on a sequential colour scale with its unit, ``None`` where a region has no
  value (drawn hatched, "no data").

Both renderers draw the same :class:`MapSpec` (geometry, colours, texts, legend), so the SVG and the
figure never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Literal

from hipec.clinical.pci import (
    MAX_LESION_SIZE_SCORE,
    PCI_GRID_LAYOUT,
    PCI_REGIONS,
    PCI_SMALL_BOWEL_ROW,
    REGION_COUNT,
)
from hipec.errors import InvalidInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Palette = Literal["heat", "drug", "temperature"]

#: Sequential palettes, light to dark (ColorBrewer YlOrRd, BuPu, OrRd; Brewer & Harrower 2003).
PALETTES: dict[str, tuple[str, ...]] = {
    "heat": (
        "#ffffcc",
        "#ffeda0",
        "#fed976",
        "#feb24c",
        "#fd8d3c",
        "#fc4e2a",
        "#e31a1c",
        "#bd0026",
        "#800026",
    ),
    "drug": (
        "#f7fcfd",
        "#e0ecf4",
        "#bfd3e6",
        "#9ebcda",
        "#8c96c6",
        "#8c6bb1",
        "#88419d",
        "#810f7c",
        "#4d004b",
    ),
    "temperature": (
        "#fff7ec",
        "#fee8c8",
        "#fdd49e",
        "#fdbb84",
        "#fc8d59",
        "#ef6548",
        "#d7301f",
        "#b30000",
        "#7f0000",
    ),
}
#: Lesion size score colours LS-0 .. LS-3 and their legend labels (hipec.clinical.pci rule).
LESION_SIZE_COLOURS: tuple[str, ...] = ("#f2f2f2", "#fdd49e", "#fc8d59", "#b30000")
LESION_SIZE_LABELS: tuple[str, ...] = (
    "LS-0  no implant",
    "LS-1  up to 0.5 cm",
    "LS-2  over 0.5, up to 5 cm",
    "LS-3  over 5 cm or confluent",
)
NO_DATA_COLOUR = "#ffffff"
OUTLINE_COLOUR = "#4d4d4d"
MARKER_COLOUR = "#1f3a93"

# Geometry in map units: the 3x3 grid is 3 wide; the small-bowel row spans the same width.
_CELL_W, _CELL_H = 1.0, 0.72
_GRID_TOP = 0.0
_BOWEL_GAP = 0.30
_BOWEL_H = 0.62


@dataclass(frozen=True)
class RegionCell:
    """Where one region is drawn (map units, origin top left, y downwards)."""

    index: int
    name: str
    x: float
    y: float
    width: float
    height: float


def region_cells() -> tuple[RegionCell, ...]:
    """The 13 cells of the map in region order (0-12)."""
    cells: dict[int, RegionCell] = {}
    for row, indices in enumerate(PCI_GRID_LAYOUT):
        for column, index in enumerate(indices):
            cells[index] = RegionCell(
                index,
                PCI_REGIONS[index].name,
                column * _CELL_W,
                _GRID_TOP + row * _CELL_H,
                _CELL_W,
                _CELL_H,
            )
    bowel_y = _GRID_TOP + len(PCI_GRID_LAYOUT) * _CELL_H + _BOWEL_GAP
    width = 3 * _CELL_W / len(PCI_SMALL_BOWEL_ROW)
    for column, index in enumerate(PCI_SMALL_BOWEL_ROW):
        cells[index] = RegionCell(
            index, PCI_REGIONS[index].name, column * width, bowel_y, width, _BOWEL_H
        )
    return tuple(cells[i] for i in range(REGION_COUNT))


@dataclass(frozen=True)
class CellStyle:
    """How one cell is filled and labelled."""

    fill: str
    text_colour: str
    value_text: str
    note: str | None
    marked: bool
    no_data: bool


@dataclass(frozen=True)
class MapSpec:
    """Everything both renderers draw: cells, styles, title and legend."""

    title: str | None
    cells: tuple[RegionCell, ...]
    styles: tuple[CellStyle, ...]
    #: Categorical legend: (colour, label); empty for a continuous scale.
    categories: tuple[tuple[str, str], ...]
    #: Continuous legend: palette, scale ends and the scale's title with its unit.
    palette: tuple[str, ...]
    vmin: float
    vmax: float
    scale_label: str
    marker_label: str | None

    @property
    def continuous(self) -> bool:
        """A colour bar rather than categories."""
        return not self.categories


# --------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(255.0, c))):02x}" for c in rgb)


def interpolate_colour(palette: Sequence[str], fraction: float) -> str:
    """The colour at ``fraction`` (0-1, clipped) along a palette, linear in RGB."""
    fraction = min(1.0, max(0.0, fraction))
    position = fraction * (len(palette) - 1)
    low = min(math.floor(position), len(palette) - 2)
    weight = position - low
    a, b = _rgb(palette[low]), _rgb(palette[low + 1])
    return _hex([x + (y - x) * weight for x, y in zip(a, b, strict=True)])


def _text_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (relative luminance, WCAG 2)."""

    def channel(value: int) -> float:
        c = value / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(fill))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if luminance > 0.22 else "#ffffff"


def nice_upper(value: float) -> float:
    """A round number >= ``value`` for a scale's top (1, 2, 2.5, 5 x 10^k)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)


def format_value(value: float) -> str:
    """A value with about three significant figures (no scientific notation in the usual range)."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def tick_text(value: float) -> str:
    """A scale tick: as short as the value allows (0, 2.5, 10, 0.125)."""
    return f"{round(value, 6):g}"


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------


def _check_length(values: Sequence[object], field: str) -> None:
    if len(values) != REGION_COUNT:
        raise InvalidInputError(
            field, f"must give one value per PCI region ({REGION_COUNT}), got {len(values)}"
        )


def pci_map_spec(scores: Sequence[int], title: str | None = None) -> MapSpec:
    """The map of lesion size scores (0-3 for regions 0-12).

    Raises
    ------
    InvalidInputError
        Field ``scores`` unless there are 13 scores of 0-3.
    """
    _check_length(scores, "scores")
    for score in scores:
        if isinstance(score, bool) or not isinstance(score, int):
            raise InvalidInputError("scores", f"must be whole numbers 0-3, got {score!r}")
        if not 0 <= score <= MAX_LESION_SIZE_SCORE:
            raise InvalidInputError("scores", f"must be 0-3, got {score}")
    styles = tuple(
        CellStyle(
            fill=LESION_SIZE_COLOURS[score],
            text_colour=_text_colour(LESION_SIZE_COLOURS[score]),
            value_text=f"LS-{score}",
            note=None,
            marked=False,
            no_data=False,
        )
        for score in scores
    )
    return MapSpec(
        title=title,
        cells=region_cells(),
        styles=styles,
        categories=tuple(zip(LESION_SIZE_COLOURS, LESION_SIZE_LABELS, strict=True)),
        palette=(),
        vmin=0.0,
        vmax=float(MAX_LESION_SIZE_SCORE),
        scale_label="Lesion size score (largest implant)",
        marker_label=None,
    )


def value_map_spec(
    values: Sequence[float | None],
    *,
    quantity: str,
    unit: str,
    title: str | None = None,
    palette: Palette = "heat",
    vmin: float | None = None,
    vmax: float | None = None,
    marked: Sequence[int] = (),
    marker_label: str | None = None,
    notes: Mapping[int, str] | None = None,
) -> MapSpec:
    """The map of one number per region on a sequential scale.

    Parameters
    ----------
    values
        13 values in region order; ``None`` or nan: no data for that region.
    quantity, unit
        What the numbers are and their unit, e.g. ``"CEM43 thermal dose"``, ``"min"``.
    title
        Title above the map.
    palette
        ``"heat"`` (thermal dose), ``"drug"`` (exposure) or ``"temperature"``.
    vmin, vmax
        Scale ends; default 0 and a round number at or above the largest value.
    marked
        Regions to mark with a dot (e.g. where a probe measured).
    marker_label
        What the dot means, for the legend (e.g. ``"probe: measured value below"``).
    notes
        A short second line per region (e.g. the probe's measured value with its unit).

    Raises
    ------
    InvalidInputError
        Field ``values`` unless there are 13 values, ``marked`` for a region outside 0-12,
        ``palette`` for an unknown palette, ``vmax`` if the scale is empty.
    """
    _check_length(values, "values")
    if palette not in PALETTES:
        raise InvalidInputError("palette", f"must be one of {', '.join(PALETTES)}, got {palette!r}")
    for region in marked:
        if not 0 <= region < REGION_COUNT:
            raise InvalidInputError("marked", f"must name PCI regions 0-12, got {region}")
    numbers = [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]
    present = [v for v in numbers if v is not None]
    low = 0.0 if vmin is None else float(vmin)
    high = float(vmax) if vmax is not None else nice_upper(max(present)) if present else low + 1.0
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise InvalidInputError("vmax", f"the scale must run upwards, got {low:g} to {high:g}")
    colours = PALETTES[palette]
    styles = []
    for index, number in enumerate(numbers):
        note = (notes or {}).get(index)
        if number is None:
            styles.append(
                CellStyle(NO_DATA_COLOUR, "#555555", "no data", note, index in marked, True)
            )
            continue
        fill = interpolate_colour(colours, (number - low) / (high - low))
        styles.append(
            CellStyle(fill, _text_colour(fill), format_value(number), note, index in marked, False)
        )
    return MapSpec(
        title=title,
        cells=region_cells(),
        styles=tuple(styles),
        categories=(),
        palette=colours,
        vmin=low,
        vmax=high,
        scale_label=f"{quantity} [{unit}]",
        marker_label=marker_label if marked else None,
    )


# --------------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------------

_PX = 118.0  # pixels per map unit
_MARGIN = 14.0
_FONT = "Helvetica, Arial, 'Liberation Sans', sans-serif"


def _svg_text(
    x: float,
    y: float,
    text: str,
    *,
    size: float,
    colour: str = "#000000",
    weight: str = "normal",
    anchor: str = "middle",
    style: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" fill="{colour}" '
        f'font-weight="{weight}" font-style="{style}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def render_svg(spec: MapSpec, *, element_id: str = "map") -> str:
    """The map as a self-contained ``<svg>`` element (inline styles, no external resources)."""
    cells = spec.cells
    map_w = max(c.x + c.width for c in cells) * _PX
    map_h = max(c.y + c.height for c in cells) * _PX
    top = _MARGIN + (26.0 if spec.title else 0.0) + 16.0
    legend_top = top + map_h + 14.0
    legend_h = 58.0 if spec.continuous else 46.0
    if spec.marker_label:
        legend_h += 18.0
    width = map_w + 2 * _MARGIN
    height = legend_top + legend_h + _MARGIN
    label = spec.title or spec.scale_label
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(element_id)}" class="region-map" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label="{escape(label)}" font-family="{_FONT}">',
        f"<title>{escape(label)}</title>",
        f'<defs><pattern id="{escape(element_id)}-hatch" width="8" height="8" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#d0d0d0" stroke-width="2"/></pattern></defs>',
    ]
    if spec.title:
        parts.append(_svg_text(width / 2, _MARGIN + 16, spec.title, size=15, weight="bold"))
    parts.append(
        _svg_text(
            _MARGIN,
            top - 5,
            "Patient's right",
            size=10.5,
            colour="#555555",
            anchor="start",
            style="italic",
        )
    )
    parts.append(
        _svg_text(
            _MARGIN + map_w,
            top - 5,
            "Patient's left",
            size=10.5,
            colour="#555555",
            anchor="end",
            style="italic",
        )
    )
    bowel_top = min(c.y for c in cells if c.index in PCI_SMALL_BOWEL_ROW) * _PX + top
    parts.append(
        _svg_text(
            _MARGIN + map_w / 2,
            bowel_top - 8,
            "Small bowel",
            size=10.5,
            colour="#555555",
            style="italic",
        )
    )
    for cell, style in zip(cells, spec.styles, strict=True):
        x, y = _MARGIN + cell.x * _PX, top + cell.y * _PX
        w, h = cell.width * _PX, cell.height * _PX
        fill = f"url(#{escape(element_id)}-hatch)" if style.no_data else style.fill
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}" '
            f'stroke="{OUTLINE_COLOUR}" stroke-width="1.2">'
            f"<title>{cell.index} {escape(cell.name)}: {escape(style.value_text)}</title></rect>"
        )
        small = cell.index in PCI_SMALL_BOWEL_ROW
        name_size = 10.0 if small else 11.0
        parts.append(
            _svg_text(
                x + w / 2,
                y + 15,
                f"{cell.index} {cell.name}",
                size=name_size,
                colour=style.text_colour,
            )
        )
        value_y = y + h / 2 + (9 if style.note is None else 5)
        parts.append(
            _svg_text(
                x + w / 2,
                value_y,
                style.value_text,
                size=12 if style.no_data else 17 if not small else 15,
                colour=style.text_colour,
                weight="normal" if style.no_data else "bold",
                style="italic" if style.no_data else "normal",
            )
        )
        if style.note:
            parts.append(
                _svg_text(x + w / 2, y + h - 8, style.note, size=10, colour=style.text_colour)
            )
        if style.marked:
            parts.append(
                f'<circle cx="{x + w - 9:.1f}" cy="{y + 9:.1f}" r="4.5" fill="{MARKER_COLOUR}" '
                'stroke="#ffffff" stroke-width="1"/>'
            )
    parts.extend(_svg_legend(spec, element_id, _MARGIN, legend_top, map_w))
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_legend(spec: MapSpec, element_id: str, x0: float, y0: float, width: float) -> list[str]:
    parts: list[str] = []
    if spec.continuous:
        gradient = f"{escape(element_id)}-scale"
        stops = "".join(
            f'<stop offset="{i / (len(spec.palette) - 1):.3f}" stop-color="{colour}"/>'
            for i, colour in enumerate(spec.palette)
        )
        parts.append(
            f'<defs><linearGradient id="{gradient}" x1="0" x2="1" y1="0" y2="0">{stops}'
            "</linearGradient></defs>"
        )
        parts.append(
            _svg_text(x0, y0 + 10, spec.scale_label, size=11, anchor="start", weight="bold")
        )
        bar_y = y0 + 17
        parts.append(
            f'<rect x="{x0:.1f}" y="{bar_y:.1f}" width="{width:.1f}" height="12" '
            f'fill="url(#{gradient})" stroke="{OUTLINE_COLOUR}" stroke-width="0.8"/>'
        )
        for i in range(5):
            fraction = i / 4
            value = spec.vmin + fraction * (spec.vmax - spec.vmin)
            tx = x0 + fraction * width
            parts.append(
                f'<line x1="{tx:.1f}" y1="{bar_y + 12:.1f}" x2="{tx:.1f}" y2="{bar_y + 16:.1f}" '
                f'stroke="{OUTLINE_COLOUR}" stroke-width="0.8"/>'
            )
            anchor = "start" if i == 0 else "end" if i == 4 else "middle"
            parts.append(_svg_text(tx, bar_y + 27, tick_text(value), size=10, anchor=anchor))
        y_next = y0 + 58
    else:
        parts.append(
            _svg_text(x0, y0 + 10, spec.scale_label, size=11, anchor="start", weight="bold")
        )
        column_w = width / 2
        for i, (colour, text) in enumerate(spec.categories):
            cx = x0 + (i % 2) * column_w
            cy = y0 + 18 + (i // 2) * 15
            parts.append(
                f'<rect x="{cx:.1f}" y="{cy:.1f}" width="12" height="10" fill="{colour}" '
                f'stroke="{OUTLINE_COLOUR}" stroke-width="0.8"/>'
            )
            parts.append(_svg_text(cx + 17, cy + 9, text, size=10.5, anchor="start"))
        y_next = y0 + 46
    if spec.marker_label:
        parts.append(
            f'<circle cx="{x0 + 6:.1f}" cy="{y_next + 6:.1f}" r="4.5" fill="{MARKER_COLOUR}"/>'
        )
        parts.append(_svg_text(x0 + 17, y_next + 10, spec.marker_label, size=10.5, anchor="start"))
    return parts


def pci_map_svg(
    scores: Sequence[int], title: str | None = None, element_id: str = "pci-map"
) -> str:
    """SVG of the lesion size map (see :func:`pci_map_spec`)."""
    return render_svg(pci_map_spec(scores, title), element_id=element_id)


def value_map_svg(
    values: Sequence[float | None],
    *,
    quantity: str,
    unit: str,
    title: str | None = None,
    palette: Palette = "heat",
    vmin: float | None = None,
    vmax: float | None = None,
    marked: Sequence[int] = (),
    marker_label: str | None = None,
    notes: Mapping[int, str] | None = None,
    element_id: str = "value-map",
) -> str:
    """SVG of a value map (see :func:`value_map_spec` for the parameters)."""
    spec = value_map_spec(
        values,
        quantity=quantity,
        unit=unit,
        title=title,
        palette=palette,
        vmin=vmin,
        vmax=vmax,
        marked=marked,
        marker_label=marker_label,
        notes=notes,
    )
    return render_svg(spec, element_id=element_id)


# --------------------------------------------------------------------------------------------
# Matplotlib
# --------------------------------------------------------------------------------------------


def render_figure(spec: MapSpec, *, width_in: float = 3.6) -> Figure:
    """The map as a Matplotlib figure (no pyplot state; save it with ``fig.savefig``)."""
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Rectangle

    cells = spec.cells
    map_w = max(c.x + c.width for c in cells)
    map_h = max(c.y + c.height for c in cells)
    title_h = 0.32 if spec.title else 0.0
    legend_h = 0.62 if spec.continuous else 0.55
    if spec.marker_label:
        legend_h += 0.2
    total_h = title_h + 0.2 + map_h + legend_h
    scale = width_in / (map_w + 0.1)
    figure = Figure(figsize=(width_in, total_h * scale))
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    points = 72.0 * scale  # font points per map unit
    if spec.title:
        axes.text(
            map_w / 2,
            -0.2 - title_h / 2,
            spec.title,
            ha="center",
            va="center",
            fontsize=0.14 * points,
            fontweight="bold",
        )
    axes.text(
        0.0,
        -0.06,
        "Patient's right",
        ha="left",
        va="bottom",
        fontsize=0.09 * points,
        color="#555555",
        style="italic",
    )
    axes.text(
        map_w,
        -0.06,
        "Patient's left",
        ha="right",
        va="bottom",
        fontsize=0.09 * points,
        color="#555555",
        style="italic",
    )
    bowel_top = min(c.y for c in cells if c.index in PCI_SMALL_BOWEL_ROW)
    axes.text(
        map_w / 2,
        bowel_top - 0.05,
        "Small bowel",
        ha="center",
        va="bottom",
        fontsize=0.09 * points,
        color="#555555",
        style="italic",
    )
    for cell, style in zip(cells, spec.styles, strict=True):
        axes.add_patch(
            Rectangle(
                (cell.x, cell.y),
                cell.width,
                cell.height,
                facecolor=style.fill,
                edgecolor=OUTLINE_COLOUR,
                linewidth=0.8,
                hatch="///" if style.no_data else None,
                hatchcolor="#c8c8c8",
            )
        )
        small = cell.index in PCI_SMALL_BOWEL_ROW
        cx = cell.x + cell.width / 2
        axes.text(
            cx,
            cell.y + 0.1,
            f"{cell.index} {cell.name}",
            ha="center",
            va="center",
            fontsize=(0.076 if small else 0.092) * points,
            color=style.text_colour,
        )
        value_y = cell.y + cell.height / 2 + (0.06 if style.note is None else 0.02)
        axes.text(
            cx,
            value_y,
            style.value_text,
            ha="center",
            va="center",
            fontsize=(0.1 if style.no_data else 0.125 if small else 0.145) * points,
            fontweight="normal" if style.no_data else "bold",
            style="italic" if style.no_data else "normal",
            color=style.text_colour,
        )
        if style.note:
            axes.text(
                cx,
                cell.y + cell.height - 0.09,
                style.note,
                ha="center",
                va="center",
                fontsize=0.085 * points,
                color=style.text_colour,
            )
        if style.marked:
            axes.add_patch(
                Circle(
                    (cell.x + cell.width - 0.08, cell.y + 0.08),
                    0.038,
                    facecolor=MARKER_COLOUR,
                    edgecolor="white",
                    linewidth=0.6,
                )
            )
    y0 = map_h + 0.14
    axes.text(
        0.0,
        y0,
        spec.scale_label,
        ha="left",
        va="center",
        fontsize=0.095 * points,
        fontweight="bold",
    )
    if spec.continuous:
        import numpy as np

        colour_map = LinearSegmentedColormap.from_list("scale", list(spec.palette))
        bar_top, bar_h = y0 + 0.1, 0.1
        axes.imshow(
            np.linspace(0.0, 1.0, 256)[None, :],
            cmap=colour_map,
            norm=Normalize(0.0, 1.0),
            extent=(0.0, map_w, bar_top + bar_h, bar_top),
            aspect="auto",
            interpolation="bilinear",
        )
        axes.add_patch(
            Rectangle(
                (0.0, bar_top),
                map_w,
                bar_h,
                facecolor="none",
                edgecolor=OUTLINE_COLOUR,
                linewidth=0.6,
            )
        )
        for i in range(5):
            fraction = i / 4
            tx = fraction * map_w
            axes.plot(
                [tx, tx],
                [bar_top + bar_h, bar_top + bar_h + 0.035],
                color=OUTLINE_COLOUR,
                linewidth=0.6,
            )
            value = spec.vmin + fraction * (spec.vmax - spec.vmin)
            axes.text(
                tx,
                bar_top + bar_h + 0.05,
                tick_text(value),
                ha="left" if i == 0 else "right" if i == 4 else "center",
                va="top",
                fontsize=0.085 * points,
            )
        marker_y = y0 + 0.5
    else:
        for i, (colour, text) in enumerate(spec.categories):
            cx = (i % 2) * map_w / 2
            cy = y0 + 0.14 + (i // 2) * 0.15
            axes.add_patch(
                Rectangle(
                    (cx, cy - 0.045),
                    0.12,
                    0.09,
                    facecolor=colour,
                    edgecolor=OUTLINE_COLOUR,
                    linewidth=0.6,
                )
            )
            axes.text(cx + 0.17, cy, text, ha="left", va="center", fontsize=0.088 * points)
        marker_y = y0 + 0.48
    if spec.marker_label:
        axes.add_patch(Circle((0.05, marker_y), 0.038, facecolor=MARKER_COLOUR))
        axes.text(
            0.14, marker_y, spec.marker_label, ha="left", va="center", fontsize=0.088 * points
        )
    # limits last: drawing an image re-scales the axes to it
    axes.set_xlim(-0.05, map_w + 0.05)
    axes.set_ylim(total_h - title_h - 0.2, -title_h - 0.2)
    return figure


def pci_map_figure(
    scores: Sequence[int], title: str | None = None, width_in: float = 3.6
) -> Figure:
    """Matplotlib figure of the lesion size map (see :func:`pci_map_spec`)."""
    return render_figure(pci_map_spec(scores, title), width_in=width_in)


def value_map_figure(
    values: Sequence[float | None],
    *,
    quantity: str,
    unit: str,
    title: str | None = None,
    palette: Palette = "heat",
    vmin: float | None = None,
    vmax: float | None = None,
    marked: Sequence[int] = (),
    marker_label: str | None = None,
    notes: Mapping[int, str] | None = None,
    width_in: float = 3.6,
) -> Figure:
    """Matplotlib figure of a value map (see :func:`value_map_spec` for the parameters)."""
    spec = value_map_spec(
        values,
        quantity=quantity,
        unit=unit,
        title=title,
        palette=palette,
        vmin=vmin,
        vmax=vmax,
        marked=marked,
        marker_label=marker_label,
        notes=notes,
    )
    return render_figure(spec, width_in=width_in)
