"""Export and import of the whole registry (JSON and CSV).

JSON: ``{"format": "hipec-registry", "version": 1, "exported_at": ..., "cases": [case, ...]}``
where each case is a case document (:class:`~hipec.store.schemas.CaseIn`), perfusion runs with
their samples column-wise. Import validates *every* case first and writes nothing unless all are
valid (one transaction): each bad case is reported with its line in the file, its position
(``cases[3].procedures[0].cc_score``) and the reason. Case numbers already in the database, or
given twice in the file, are refused the same way.

CSV: one file per table (``patients.csv``, ``assessments.csv``, ...,
``run_samples.csv``, ``audit_log.csv``) with the database ids as keys; JSON-valued columns hold
JSON text, times ISO 8601.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import JSON, Table, select
from sqlalchemy.orm import Session

from hipec.documents import parse_document, read_document_text
from hipec.errors import HipecError, InvalidInputError
from hipec.store.audit import jsonable
from hipec.store.models import Base
from hipec.store.repository import add_case, case_to_dict, list_cases
from hipec.store.schemas import CaseIn, invalid_input_from

REGISTRY_FORMAT = "hipec-registry"
REGISTRY_VERSION = 1


@dataclass(frozen=True)
class ImportProblem:
    """One refused case: where it starts in the file, its position, and why."""

    line: int | None
    position: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.position}: {self.reason}"


class RegistryImportError(HipecError):
    """An import was refused; nothing was written. ``problems`` lists every bad case."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"import refused, nothing imported: {problems[0]}{more}")
        self.problems = problems


def export_registry(session: Session) -> dict[str, Any]:
    """The whole registry as one JSON-ready document (samples included)."""
    return {
        "format": REGISTRY_FORMAT,
        "version": REGISTRY_VERSION,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "cases": [
            case_to_dict(patient, session=session, samples=True) for patient in list_cases(session)
        ],
    }


def _case_lines(text: str) -> list[int]:
    """Line numbers where each element of the top-level ``"cases"`` array starts."""
    lines: list[int] = []
    depth = 0
    in_string = escaped = False
    line = 1
    last_key: str | None = None
    string_start = 0
    cases_depth: int | None = None
    for index, char in enumerate(text):
        if char == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if depth == 1:
                    last_key = text[string_start + 1 : index]
            continue
        if char == '"':
            in_string = True
            string_start = index
        elif char in "{[":
            depth += 1
            if char == "[" and depth == 2 and last_key == "cases":
                cases_depth = depth
            elif cases_depth is not None and depth == cases_depth + 1:
                lines.append(line)
        elif char in "}]":
            if cases_depth is not None and depth == cases_depth:
                cases_depth = None
            depth -= 1
    return lines


def read_registry_file(path: Path) -> tuple[dict[str, Any], list[int]]:
    """Read a registry JSON file: the document and the line where each case starts.

    Raises
    ------
    InvalidInputError
        If the file is missing, is not JSON, or is not a hipec registry export.
    """
    name = str(path)
    text = read_document_text(path)
    data = parse_document(text, name, is_toml=False)
    if data.get("format") != REGISTRY_FORMAT:
        raise InvalidInputError(
            name, f'must be a hipec registry export (an object with "format": "{REGISTRY_FORMAT}")'
        )
    return data, _case_lines(text)


def import_registry(
    session: Session,
    data: Mapping[str, Any],
    *,
    actor: str,
    case_lines: list[int] | None = None,
) -> list[str]:
    """Import every case of a registry document, all or nothing; return the case numbers.

    Raises
    ------
    RegistryImportError
        Listing every refused case (line, position, reason); nothing is written.
    InvalidInputError
        If the document is not a registry export of a version this hipec reads.
    """
    if data.get("format") != REGISTRY_FORMAT:
        raise InvalidInputError(
            "format", f"must be {REGISTRY_FORMAT!r}, got {data.get('format')!r}"
        )
    if data.get("version") != REGISTRY_VERSION:
        raise InvalidInputError(
            "version",
            f"must be {REGISTRY_VERSION} (this hipec's export), got {data.get('version')!r}",
        )
    cases = data.get("cases")
    if not isinstance(cases, list):
        raise InvalidInputError("cases", "must be a list of case documents")
    lines = case_lines or []
    existing = {p.case_number for p in list_cases(session)}
    problems: list[ImportProblem] = []
    valid: list[CaseIn] = []
    seen: set[str] = set()
    for index, raw in enumerate(cases):
        line = lines[index] if index < len(lines) else None
        position = f"cases[{index}]"
        if not isinstance(raw, dict):
            problems.append(ImportProblem(line, position, "must be an object (a case document)"))
            continue
        label = raw.get("case_number")
        if isinstance(label, str):
            position = f"{position} (case {label})"
        try:
            case = CaseIn.model_validate(raw)
        except ValidationError as exc:
            error = invalid_input_from(exc)
            field = f"{position}.{error.field}" if error.field != "(document)" else position
            problems.append(ImportProblem(line, field, error.message))
            continue
        if case.case_number in existing:
            problems.append(
                ImportProblem(line, f"{position}.case_number", "this case exists in the database")
            )
        elif case.case_number in seen:
            problems.append(
                ImportProblem(
                    line, f"{position}.case_number", "this case is given twice in the file"
                )
            )
        seen.add(case.case_number)
        valid.append(case)
    if problems:
        raise RegistryImportError(problems)
    for case in valid:
        add_case(session, case, actor=actor)
    return [case.case_number for case in valid]


def _csv_value(value: Any, is_json: bool) -> str:
    if value is None:
        return ""
    if is_json:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(jsonable(value))


def export_csv(session: Session, folder: Path) -> list[Path]:
    """Write one CSV file per table into ``folder`` (created if needed); return the files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(str(folder), f"cannot create the folder ({exc.strerror})") from None
    written: list[Path] = []
    for table in Base.metadata.sorted_tables:
        assert isinstance(table, Table)
        path = folder / f"{table.name}.csv"
        json_columns = [isinstance(column.type, JSON) for column in table.columns]
        query = select(table).order_by(*table.primary_key.columns)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([column.name for column in table.columns])
            for row in session.execute(query):
                writer.writerow([_csv_value(v, j) for v, j in zip(row, json_columns, strict=True)])
        written.append(path)
    return written
