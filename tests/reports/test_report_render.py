"""Rendering: the region map, the run plots, the HTML page and the PDF."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hipec.clinical.pci import PCI_GRID_LAYOUT, PCI_REGIONS, PCI_SMALL_BOWEL_ROW, REGION_COUNT
from hipec.errors import InvalidInputError
from hipec.reports.html import render_html, report_text, write_html
from hipec.reports.pdf import render_pdf, write_pdf
from hipec.reports.region_map import (
    PALETTES,
    interpolate_colour,
    nice_upper,
    pci_map_figure,
    pci_map_svg,
    region_cells,
    value_map_figure,
    value_map_svg,
)
from hipec.reports.report import ProcedureReport, build_report
from hipec.reports.run_plots import (
    figure_png,
    figure_svg,
    flow_figure,
    temperature_figure,
    timeline_figure,
)
from hipec.store.db import create_db_engine, transaction, upgrade_database
from reportdata import add_report_case, record_run

NOW = dt.datetime(2024, 4, 3, 12, 0, tzinfo=dt.UTC)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ProcedureReport]]:
    """Three reports from one SQLite database: with a run, without, and a synthetic case."""
    folder = tmp_path_factory.mktemp("report")
    engine = create_db_engine(f"sqlite:///{folder / 'hipec.sqlite3'}")
    upgrade_database(engine)
    add_report_case(engine, "T-001")
    record_run(engine, "T-001")
    add_report_case(engine, "T-002")
    add_report_case(engine, "SYN-1", synthetic=True)
    with transaction(engine) as session:
        yield {name: build_report(session, name, now=NOW) for name in ("T-001", "T-002", "SYN-1")}
    engine.dispose()


# ------------------------------------------------------------------------------------------
# Region map
# ------------------------------------------------------------------------------------------


def test_cells_follow_the_classic_layout() -> None:
    cells = region_cells()
    assert [c.index for c in cells] == list(range(REGION_COUNT))
    for row, indices in enumerate(PCI_GRID_LAYOUT):
        ys = {cells[i].y for i in indices}
        assert len(ys) == 1  # one row
        assert [cells[i].x for i in indices] == sorted(cells[i].x for i in indices)
        if row:
            assert ys.pop() > cells[PCI_GRID_LAYOUT[row - 1][0]].y
    bowel = [cells[i] for i in PCI_SMALL_BOWEL_ROW]
    assert all(c.y > cells[7].y for c in bowel)
    # right upper (1) is drawn on the viewer's left: facing the patient
    assert cells[1].x < cells[3].x and cells[8].x < cells[4].x


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_pci_map_svg_is_wellformed_and_labels_every_region() -> None:
    svg = _parse(pci_map_svg([2, 1, 0, 0, 0, 1, 3, 2, 0, 1, 0, 0, 0], title="PCI 10"))
    titles = [t.text or "" for t in svg.iter(f"{SVG}title")]
    for region in PCI_REGIONS:
        assert any(t.startswith(f"{region.index} {region.name}:") for t in titles)
    texts = [t.text or "" for t in svg.iter(f"{SVG}text")]
    assert texts.count("LS-3") == 1 and texts.count("LS-0") == 7
    assert "Patient's right" in texts and any("over 5 cm" in t for t in texts)


def test_value_map_svg_has_scale_with_unit_markers_and_no_data() -> None:
    values: list[float | None] = [float(i) for i in range(REGION_COUNT)]
    values[11] = None
    svg = value_map_svg(
        values,
        quantity="CEM43 thermal dose",
        unit="min",
        marked=[0, 6],
        marker_label="probe",
        notes={0: "probe 1.0 min"},
    )
    root = _parse(svg)
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "CEM43 thermal dose [min]" in texts
    assert "no data" in texts and "probe 1.0 min" in texts
    assert len(list(root.iter(f"{SVG}circle"))) == 3  # two probes and the legend's dot
    assert [t for t in texts if t.isdigit()][-5:] == ["0", "5", "10", "15", "20"]


def test_maps_refuse_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="scores"):
        pci_map_svg([0] * 12)
    with pytest.raises(InvalidInputError, match="must be 0-3"):
        pci_map_svg([4] + [0] * 12)
    with pytest.raises(InvalidInputError, match="palette"):
        value_map_svg([1.0] * 13, quantity="x", unit="y", palette="rainbow")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="marked"):
        value_map_svg([1.0] * 13, quantity="x", unit="y", marked=[13])
    with pytest.raises(InvalidInputError, match="vmax"):
        value_map_svg([1.0] * 13, quantity="x", unit="y", vmin=5.0, vmax=5.0)


def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@given(
    st.sampled_from(sorted(PALETTES)),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_higher_values_are_never_lighter(palette: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    colours = PALETTES[palette]
    assert (
        _luminance(interpolate_colour(colours, high))
        <= _luminance(interpolate_colour(colours, low)) + 1.0
    )


@given(st.floats(1e-6, 1e6))
def test_scale_top_is_round_and_close(value: float) -> None:
    top = nice_upper(value)
    assert value <= top * (1 + 1e-9) and top <= 2.5 * value
    mantissa = top / 10 ** math.floor(math.log10(top) + 1e-12)
    assert any(math.isclose(mantissa, m) for m in (1.0, 2.0, 2.5, 5.0, 10.0))


def test_map_figures_render() -> None:
    figure = value_map_figure([None] * REGION_COUNT, quantity="AUC", unit="mg·min/L")
    assert figure_png(figure, 50).startswith(b"\x89PNG")
    assert figure_svg(pci_map_figure([0] * REGION_COUNT)).startswith("<svg")


# ------------------------------------------------------------------------------------------
# Run plots
# ------------------------------------------------------------------------------------------


def _axis_labels(svg: str) -> str:
    return " ".join(re.findall(r">([^<>]*\[[^<>]*\][^<>]*)<", svg))


def test_run_plots_have_units_and_the_recorded_channels(
    reports: dict[str, ProcedureReport],
) -> None:
    run = reports["T-001"].run
    assert run is not None
    temperature = figure_svg(temperature_figure(run))
    assert "Temperature [°C]" in temperature and "Run time [min]" in temperature
    for label in ("inflow", "outflow", "core (patient)", "probe 6 Pelvis", "target 41-42 °C"):
        assert label in temperature
    flows = figure_svg(flow_figure(run))
    assert "Flow [L/min]" in flows and "Heater [W]" in flows
    assert "Pressure [mmHg]" not in flows  # no pressure was recorded in this open run
    timeline = figure_svg(timeline_figure(run))
    assert "flow-low" in timeline and "perfuse" in timeline and "29.6 mg" in timeline


# ------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------

SECTIONS = (
    "patient-and-plan",
    "staging",
    "cytoreduction",
    "perfusion",
    "timeline",
    "doses",
    "alarms",
    "temperatures",
    "regional",
    "totals",
    "billing",
)


def test_html_has_every_section_and_is_self_contained(
    reports: dict[str, ProcedureReport], tmp_path: Path
) -> None:
    html = render_html(reports["T-001"])
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    for text in (
        "Peritoneal Cancer Index",
        "CC-0",
        "Greater omentectomy-splenectomy",
        "Doses planned and given",
        "inflow-temperature-high",
        "CEM43 thermal dose [min]",
        "mitomycin perfusate AUC [mg·min/L]",
        "96547",
        "96548",
        "C78.6",
        "not a certified medical device",
    ):
        assert text in html, text
    assert html.count("<svg") == 6  # PCI, timeline, temperatures, flows, two maps
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "<script" not in html
    assert "synthetic" not in html.lower()
    path = write_html(reports["T-002"], tmp_path / "report.html")
    assert path.read_text(encoding="utf-8") == render_html(reports["T-002"])


def test_html_without_a_run_and_for_a_synthetic_case(reports: dict[str, ProcedureReport]) -> None:
    html = render_html(reports["T-002"])
    assert "No perfusion has been recorded for this case yet" in html
    assert 'id="billing"' in html and "No HIPEC procedure code" in html
    assert html.count("<svg") == 1  # the PCI map only
    synthetic = render_html(reports["SYN-1"])
    assert "SYNTHETIC CASE: fictional data, not a real patient." in synthetic
    assert "(synthetic)" in synthetic


def test_html_escapes_recorded_text(reports: dict[str, ProcedureReport]) -> None:
    report = reports["T-002"]
    patient = report.patient.__class__(
        **{**report.patient.__dict__, "histology": "<script>alert(1)</script>"}
    )
    html = render_html(report.__class__(**{**report.__dict__, "patient": patient}))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_text_says_not_recorded_instead_of_blank(reports: dict[str, ProcedureReport]) -> None:
    text = report_text(reports["T-002"])
    assert text.run == () and text.totals == ()
    assert dict(text.patient)["Body surface area (Mosteller)"] == "1.69 m²"


def test_write_refuses_an_unwritable_path(
    reports: dict[str, ProcedureReport], tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="--html"):
        write_html(reports["T-002"], tmp_path / "missing" / "r.html")
    with pytest.raises(InvalidInputError, match="--pdf"):
        write_pdf(reports["T-002"], tmp_path)


# ------------------------------------------------------------------------------------------
# PDF (no PDF reader is installed: check the structure and the text in the content streams)
# ------------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    """The text of every content stream (ASCII85 / Flate filters undone)."""
    chunks = []
    pattern = rb"<<((?:(?!<<|>>).)*)>>\s*stream\r?\n(.*?)\s*endstream"
    for match in re.finditer(pattern, data, re.S):
        header, body = match.group(1), match.group(2).strip()
        if b"/ASCII85Decode" in header:
            body = base64.a85decode(body.removesuffix(b"~>"))
        if b"/FlateDecode" in header:
            try:
                body = zlib.decompress(body)
            except zlib.error:
                continue
        chunks.append(body.decode("latin-1"))
    return "\n".join(chunks)


def _pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


def test_pdf_of_a_case_with_a_run(reports: dict[str, ProcedureReport], tmp_path: Path) -> None:
    data = render_pdf(reports["T-001"])
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    pages = _pages(data)
    assert 5 <= pages <= 7
    text = _pdf_text(data)
    for expected in (
        "CRS + HIPEC procedure report",
        "1. Patient and plan",
        "2. Peritoneal Cancer Index",
        "3. Cytoreductive surgery",
        "4.1 Timeline of the phases",
        "4.2 Doses planned and given",
        "4.3 Alarms",
        "4.4 Temperatures and flows",
        "4.5 Regional thermal dose and drug exposure",
        "4.6 Delivered totals",
        "5. Billing codes",
        "96548",
        "not a certified medical device",
        f"page {pages} of {pages}",
    ):
        assert expected in text, expected
    assert len(re.findall(rb"/Subtype /Image", data)) == 6
    assert "SYNTHETIC" not in text
    assert write_pdf(reports["T-002"], tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-1.")


def test_pdf_without_a_run_and_synthetic(reports: dict[str, ProcedureReport]) -> None:
    data = render_pdf(reports["SYN-1"])
    assert _pages(data) == 2
    text = _pdf_text(data)
    assert "No perfusion has been recorded for this case yet." in text
    assert "SYNTHETIC CASE: fictional data, not a real patient." in text
    assert "SYNTHETIC CASE: not a real patient" in text  # every page's footer
    assert text.count("SYNTHETIC CASE: not a real patient") == 2
