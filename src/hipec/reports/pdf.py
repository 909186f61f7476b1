"""The procedure report as a PDF (ReportLab, installed with pip: no system packages needed).

The PDF says what the HTML says (both take their text from :func:`hipec.reports.html.report_text`)
on A4 pages with a running header (case, "SYNTHETIC" where it applies) and a footer carrying the
disclaimer and "page n of N". Figures are the same Matplotlib figures as PNG at 200 dpi.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from hipec.errors import InvalidInputError
from hipec.reports.html import (
    Pairs,
    ReportText,
    TextTable,
    map_figures,
    map_matplotlib,
    report_text,
)
from hipec.reports.report import ProcedureReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from reportlab.platypus import Flowable

FIGURE_DPI = 200
_INK = "#1a1a1a"
_MUTED = "#5a5a5a"
_BAND = "#f3f5f8"
_RULE = "#c9c9c9"


def _styles() -> dict[str, Any]:
    from reportlab.lib.colors import HexColor
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle(
        "base", fontName="Helvetica", fontSize=9, leading=11.5, textColor=HexColor(_INK)
    )
    return {
        "base": base,
        "title": ParagraphStyle(
            "title", parent=base, fontName="Helvetica-Bold", fontSize=17, leading=21, spaceAfter=2
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base, textColor=HexColor(_MUTED), fontSize=9.5
        ),
        "small": ParagraphStyle(
            "small", parent=base, fontSize=7.5, leading=9.5, textColor=HexColor(_MUTED)
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=12.5,
            leading=15,
            spaceBefore=9,
            spaceAfter=4,
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=10,
            leading=12.5,
            spaceBefore=6,
            spaceAfter=3,
        ),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=9.8),
        "cell_num": ParagraphStyle("cell_num", parent=base, fontSize=8, leading=9.8, alignment=2),
        "head": ParagraphStyle(
            "head", parent=base, fontName="Helvetica-Bold", fontSize=7.8, leading=9.5
        ),
        "head_num": ParagraphStyle(
            "head_num",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=7.8,
            leading=9.5,
            alignment=2,
        ),
        "key": ParagraphStyle(
            "key", parent=base, fontSize=8.5, leading=10.5, textColor=HexColor(_MUTED)
        ),
        "value": ParagraphStyle("value", parent=base, fontSize=8.5, leading=10.5),
        "empty": ParagraphStyle(
            "empty", parent=base, fontName="Helvetica-Oblique", textColor=HexColor(_MUTED)
        ),
        "notice": ParagraphStyle(
            "notice",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=10,
            textColor=HexColor("#b30000"),
            borderColor=HexColor("#b30000"),
            borderWidth=1.5,
            borderPadding=5,
            spaceBefore=6,
            spaceAfter=10,
        ),
        "status": ParagraphStyle(
            "status",
            parent=base,
            fontName="Helvetica-Bold",
            fontSize=9.5,
            textColor=HexColor("#8a5300"),
            borderColor=HexColor("#c77800"),
            borderWidth=1.2,
            borderPadding=5,
            spaceBefore=6,
            spaceAfter=10,
        ),
        "caption": ParagraphStyle(
            "caption",
            parent=base,
            fontSize=7.5,
            leading=9.5,
            textColor=HexColor(_MUTED),
            spaceBefore=2,
            spaceAfter=6,
        ),
        "warning": ParagraphStyle(
            "warning", parent=base, fontSize=8, textColor=HexColor("#8a5300")
        ),
    }


def _p(text: str, style: Any) -> Flowable:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style)


def _pairs(rows: Pairs, styles: dict[str, Any], width: float) -> Flowable:
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    data = [[_p(key, styles["key"]), _p(value, styles["value"])] for key, value in rows]
    table = Table(data, colWidths=[0.42 * width, 0.58 * width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LINEBELOW", (0, 0), (-1, -2), 0.3, HexColor("#e6e6e6")),
            ]
        )
    )
    return table


def _table(
    text_table: TextTable,
    styles: dict[str, Any],
    width: float,
    weights: list[float] | None = None,
) -> Flowable:
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    if not text_table.rows:
        return _p(text_table.empty_text, styles["empty"])
    numeric = text_table.numeric
    head = [
        _p(h, styles["head_num" if numeric[i] else "head"])
        for i, h in enumerate(text_table.headers)
    ]
    body = [
        [_p(cell, styles["cell_num" if numeric[i] else "cell"]) for i, cell in enumerate(row)]
        for row in text_table.rows
    ]
    weights = weights or [1.0] * len(text_table.headers)
    total = sum(weights)
    table = Table(
        [head, *body],
        colWidths=[width * w / total for w in weights],
        repeatRows=1,
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HexColor(_BAND)),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, HexColor(_RULE)),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, HexColor("#e6e6e6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _image(figure: Figure, width: float) -> Flowable:
    from PIL import Image as PilImage
    from reportlab.platypus import Image

    from hipec.reports.run_plots import figure_png

    # flatten to RGB on white: an alpha channel would add a soft mask per figure to the PDF
    rgba = PilImage.open(io.BytesIO(figure_png(figure, FIGURE_DPI)))
    buffer = io.BytesIO()
    rgba.convert("RGB").save(buffer, format="PNG")
    buffer.seek(0)
    fig_w, fig_h = figure.get_size_inches()
    return Image(buffer, width=width, height=width * fig_h / fig_w)


def _columns(
    left: list[Flowable], right: list[Flowable], width: float, split: float = 0.5
) -> Flowable:
    from reportlab.platypus import Table, TableStyle

    table = Table([[left, right]], colWidths=[width * split, width * (1 - split)], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (0, -1), 10),
                ("RIGHTPADDING", (1, 0), (1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _story(report: ProcedureReport, text: ReportText, width: float) -> list[Flowable]:
    from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, Spacer

    from hipec.reports.region_map import pci_map_figure
    from hipec.reports.run_plots import flow_figure, temperature_figure, timeline_figure

    s = _styles()
    half = width / 2 - 10
    story: list[Flowable] = [
        _p(text.title, s["title"]),
        _p(text.subtitle, s["subtitle"]),
        Spacer(1, 3),
        _p(text.disclaimer, s["small"]),
        Spacer(1, 4),
    ]
    for i, notice in enumerate(text.notices):
        synthetic_first = i == 0 and report.synthetic
        story.append(_p(notice, s["notice" if synthetic_first else "status"]))

    # 1. Patient and plan
    story.append(_p("1. Patient and plan", s["h2"]))
    plan_part: list[Flowable] = [_p("Perfusion plan", s["h3"])]
    plan_part.append(
        _pairs(text.plan, s, half)
        if text.plan
        else _p("No perfusion has been recorded for this case yet: no plan to show.", s["empty"])
    )
    story.append(
        _columns([_p("Patient", s["h3"]), _pairs(text.patient, s, half)], plan_part, width)
    )
    if text.plan_doses is not None:
        story.append(
            KeepTogether(
                [_p("Planned intraperitoneal doses", s["h3"]), _table(text.plan_doses, s, width)]
            )
        )
    for warning in text.plan_warnings:
        story.append(_p(f"Plan note: {warning}", s["warning"]))

    # 2. PCI: heading, map and tables kept on one page
    pci_title = _p("2. Peritoneal Cancer Index", s["h2"])
    if report.pci is not None:
        assert text.involved is not None
        map_w, side_w = 0.42 * width - 10, 0.58 * width
        left = [
            _image(pci_map_figure(report.pci.scores, width_in=3.4), map_w),
            _p(
                "Lesion size of the largest implant per region (Jacquet & Sugarbaker 1996), "
                "drawn facing the patient.",
                s["caption"],
            ),
        ]
        right = [
            _pairs(text.staging, s, side_w),
            _p("Involved regions", s["h3"]),
            _table(text.involved, s, side_w, [2.0, 1.0, 2.2]),
            _p("Staging history", s["h3"]),
            _table(text.staging_history, s, side_w, [1.2, 1.2, 0.6]),
        ]
        story.append(KeepTogether([pci_title, _columns(left, right, width, 0.42)]))
    else:
        story.append(pci_title)
        story.append(_p("No staging (PCI) recorded for this case.", s["empty"]))

    # 3. CRS
    story.append(CondPageBreak(150))
    story.append(_p("3. Cytoreductive surgery", s["h2"]))
    if text.surgery:
        resections: list[Flowable] = [_p("Peritonectomy procedures", s["h3"])]
        resections += [_p(f"• {r}", s["value"]) for r in text.peritonectomies] or [
            _p("none", s["empty"])
        ]
        resections.append(_p("Organ resections", s["h3"]))
        resections += [_p(f"• {r}", s["value"]) for r in text.organ_resections] or [
            _p("none", s["empty"])
        ]
        story.append(_columns([_pairs(text.surgery, s, half)], resections, width))
    else:
        story.append(_p("No operation recorded for this case.", s["empty"]))

    # 4. Perfusion
    run = report.run
    if run is None:
        story.append(_p("4. Perfusion", s["h2"]))
        story.append(_p("No perfusion has been recorded for this case yet.", s["empty"]))
    else:
        story.append(CondPageBreak(320))
        story.append(_p("4. Perfusion", s["h2"]))
        story.append(_columns([_pairs(text.run, s, half)], [_p(text.time_note, s["small"])], width))
        story.append(_p("4.1 Timeline of the phases", s["h3"]))
        if run.series.time_s.size:
            story.append(_image(timeline_figure(run), width))
            story.append(
                _p(
                    "Phases, doses given (triangles) and alarms (bars from raised to cleared). "
                    "Dashed lines: perfusion timer start and end.",
                    s["caption"],
                )
            )
        if text.phases is not None:
            story.append(_table(text.phases, s, width * 0.7))
        story.append(
            KeepTogether(
                [
                    _p("4.2 Doses planned and given", s["h3"]),
                    _table(text.doses, s, width, [1.6, 1, 1, 1, 1, 1])
                    if text.doses is not None
                    else _p("No doses recorded.", s["empty"]),
                ]
            )
        )
        if text.alarms is not None:
            story.append(
                KeepTogether(
                    [
                        _p("4.3 Alarms", s["h3"]),
                        _table(text.alarms, s, width, [0.9, 0.8, 1.6, 3.0, 1.1, 0.9]),
                    ]
                )
            )
        if run.series.time_s.size:
            story.append(PageBreak())
            story.append(_p("4.4 Temperatures and flows", s["h3"]))
            story.append(_image(temperature_figure(run), width))
            story.append(
                _p(
                    "Temperatures over the run. Shaded: phases; green band: the plan's target "
                    "range; red dashed: the inflow safety limit.",
                    s["caption"],
                )
            )
            story.append(_image(flow_figure(run), width))
            story.append(
                _p("Pump flows, reservoir volume and heater power over the run.", s["caption"])
            )
        story.append(PageBreak())
        story.append(_p("4.5 Regional thermal dose and drug exposure", s["h3"]))
        maps = map_figures(report)
        cells: list[list[Flowable]] = []
        for figure in maps:
            cells.append(
                [
                    _image(map_matplotlib(figure, width_in=3.4), half),
                    _p(f"{figure.title}. {figure.caption}", s["caption"]),
                ]
            )
        for i in range(0, len(cells), 2):
            pair = cells[i : i + 2]
            story.append(_columns(pair[0], pair[1] if len(pair) > 1 else [], width))
        if not maps:
            story.append(_p("The run carries no regional figures.", s["empty"]))
        regional = text.regions or text.probes
        if regional is not None:
            story.append(Spacer(1, 4))
            weights = [2.0, 1, 1, 1, 1.4, 1.1, 1.2] if text.regions else [2.0, 1, 1, 1, 1, 1]
            story.append(_table(regional, s, width, weights))
        if text.drugs is not None:
            story.append(
                KeepTogether(
                    [
                        _p("Drug exposure", s["h3"]),
                        _table(
                            text.drugs,
                            s,
                            width * 0.75,
                            [3.0] + [1.2] * (len(text.drugs.headers) - 1),
                        ),
                        _p(
                            "From the run summary; regional and pharmacokinetic figures are "
                            "model estimates, not measurements.",
                            s["caption"],
                        ),
                    ]
                )
            )
        story.append(
            KeepTogether([_p("4.6 Delivered totals", s["h3"]), _pairs(text.totals, s, width * 0.7)])
        )

    # 5. Billing
    story.append(CondPageBreak(170))
    story.append(_p("5. Billing codes", s["h2"]))
    story.append(
        _columns(
            [_p("CPT (procedure)", s["h3"]), _table(text.cpt, s, half, [0.8, 0.6, 3.0])],
            [_p("ICD-10-CM (diagnoses)", s["h3"]), _table(text.icd10, s, half, [0.8, 3.0])],
            width,
        )
    )
    story.append(
        _p(
            f"{text.billing_note} Codes are proposed by software: check them against the "
            "current code sets before submission.",
            s["caption"],
        )
    )
    story.append(KeepTogether([Spacer(1, 28), _signature(width, s)]))
    return story


def _signature(width: float, styles: dict[str, Any]) -> Flowable:
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    table = Table(
        [[_p("Surgeon (name, signature)", styles["small"]), "", _p("Date", styles["small"])]],
        colWidths=[width * 0.6, width * 0.08, width * 0.32],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, 0), (0, 0), 0.8, HexColor(_INK)),
                ("LINEABOVE", (2, 0), (2, 0), 0.8, HexColor(_INK)),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def render_pdf(report: ProcedureReport) -> bytes:
    """The report as PDF bytes (A4)."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import SimpleDocTemplate

    text = report_text(report)
    page_w, page_h = A4
    margin = 15 * mm
    header = f"{text.title} · case {report.patient.case_number}"
    if report.synthetic:
        header += " · SYNTHETIC CASE"

    class NumberedCanvas(Canvas):
        """Defers page decoration until the page count is known ("page n of N")."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - ReportLab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            self.saveState()
            self.setStrokeColor(HexColor(_RULE))
            self.setLineWidth(0.5)
            self.setFont("Helvetica", 7.5)
            self.setFillColor(HexColor(_MUTED))
            page = self.getPageNumber()
            if page > 1:
                self.drawString(margin, page_h - 10 * mm, header)
                self.line(margin, page_h - 11.5 * mm, page_w - margin, page_h - 11.5 * mm)
            self.line(margin, 13 * mm, page_w - margin, 13 * mm)
            self.drawString(margin, 9 * mm, report.disclaimer)
            self.drawRightString(page_w - margin, 5.5 * mm, f"page {page} of {total}")
            if report.synthetic:
                self.setFillColor(HexColor("#b30000"))
                self.setFont("Helvetica-Bold", 7.5)
                self.drawString(margin, 5.5 * mm, "SYNTHETIC CASE: not a real patient")
            self.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=15 * mm,
        bottomMargin=17 * mm,
        title=f"{text.title}: case {report.patient.case_number}",
        author="hipec",
        subject="CRS + HIPEC procedure report" + (" (synthetic case)" if report.synthetic else ""),
        creator="hipec (research and training software, not a certified medical device)",
    )
    # the frame pads its content by 6 pt on each side
    document.build(_story(report, text, document.width - 12), canvasmaker=NumberedCanvas)
    return buffer.getvalue()


def write_pdf(report: ProcedureReport, path: Path) -> Path:
    """Write the PDF report to ``path``.

    Raises
    ------
    InvalidInputError
        Field ``--pdf`` if the file cannot be written (the reason in the message).
    """
    data = render_pdf(report)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InvalidInputError(
            "--pdf", f"cannot write {str(path)!r}: {exc.strerror or exc}"
        ) from None
    return path
