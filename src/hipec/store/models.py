"""The case database: SQLAlchemy 2 models.

Every time is stored as UTC (:class:`UtcDateTime`); device times of a perfusion (``*_s``) are
seconds since the device started, as in :class:`hipec.devices.base.Reading`. A channel without a
value (``nan`` in a reading) is stored as NULL. Schema changes go through the Alembic migrations in
:mod:`hipec.store.migrations`, never through ``create_all``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hipec.clinical.pci import REGION_COUNT

#: Constraint names follow one convention so that migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored as naive UTC (the same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("hipec stores only timezone-aware datetimes")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    """Now, timezone-aware UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every hipec table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dt.datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Patient(Base):
    """A case: one pseudonymous patient. No names, no dates of birth, no record numbers."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(40), unique=True)
    sex: Mapped[str] = mapped_column(String(8))
    birth_year: Mapped[int] = mapped_column(Integer)
    height_cm: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    primary_site: Mapped[str] = mapped_column(String(32))
    primary_icd10: Mapped[str | None] = mapped_column(String(8))
    histology: Mapped[str | None] = mapped_column(String(500))
    histology_type: Mapped[str | None] = mapped_column(String(48))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    assessments: Mapped[list[Assessment]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        order_by="(Assessment.assessed_on, Assessment.id)",
    )
    procedures: Mapped[list[Procedure]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        order_by="(Procedure.performed_on, Procedure.id)",
    )
    runs: Mapped[list[PerfusionRun]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        order_by="(PerfusionRun.started_at, PerfusionRun.id)",
    )
    follow_ups: Mapped[list[FollowUp]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        order_by="(FollowUp.seen_on, FollowUp.id)",
    )


class Assessment(Base):
    """A staging of the disease: PCI with its 13 regions, and optionally a candidacy decision."""

    __tablename__ = "assessments"
    __table_args__ = (CheckConstraint("pci >= 0 AND pci <= 39", name="pci_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    assessed_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(12))
    pci: Mapped[int] = mapped_column(Integer)
    #: Lesion size scores 0-3 of regions 0-12, in region order.
    lesion_size_scores: Mapped[list[Any]] = mapped_column(JSON)
    decision: Mapped[str | None] = mapped_column(String(24))
    rule_set: Mapped[str | None] = mapped_column(String(100))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="assessments")


class Procedure(Base):
    """Cytoreductive surgery (with the HIPEC technique used)."""

    __tablename__ = "procedures"
    __table_args__ = (
        CheckConstraint("cc_score >= 0 AND cc_score <= 3", name="cc_range"),
        CheckConstraint("blood_loss_ml >= 0", name="blood_loss_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    performed_on: Mapped[dt.date] = mapped_column(Date)
    technique: Mapped[str] = mapped_column(String(16))
    crs_start: Mapped[dt.datetime | None] = mapped_column()
    crs_end: Mapped[dt.datetime | None] = mapped_column()
    #: Codes of :data:`hipec.store.vocabulary.RESECTIONS`, in the order given.
    resections: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cc_score: Mapped[int | None] = mapped_column(Integer)
    blood_loss_ml: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="procedures")
    postop: Mapped[PostopCourse | None] = relationship(
        back_populates="procedure", cascade="all, delete-orphan", uselist=False
    )
    runs: Mapped[list[PerfusionRun]] = relationship(back_populates="procedure")


class PostopCourse(Base):
    """What happened after one procedure."""

    __tablename__ = "postop_courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), unique=True
    )
    icu_days: Mapped[float | None] = mapped_column(Float)
    length_of_stay_days: Mapped[int | None] = mapped_column(Integer)
    reoperation: Mapped[bool | None] = mapped_column(Boolean)
    readmission: Mapped[bool | None] = mapped_column(Boolean)
    mortality_30d: Mapped[bool | None] = mapped_column(Boolean)
    mortality_90d: Mapped[bool | None] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)

    procedure: Mapped[Procedure] = relationship(back_populates="postop")
    complications: Mapped[list[Complication]] = relationship(
        back_populates="postop", cascade="all, delete-orphan", order_by="Complication.id"
    )


class Complication(Base):
    """One post-operative complication, graded by Clavien-Dindo and optionally CTCAE v5.0."""

    __tablename__ = "complications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postop_id: Mapped[int] = mapped_column(
        ForeignKey("postop_courses.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(200))
    #: Clavien-Dindo grade as written: "I", "II", "IIIa", "IIIb", "IVa", "IVb", "V", with "-d".
    clavien_dindo: Mapped[str] = mapped_column(String(8))
    ctcae_grade: Mapped[int | None] = mapped_column(Integer)
    onset_day: Mapped[int | None] = mapped_column(Integer)

    postop: Mapped[PostopCourse] = relationship(back_populates="complications")


class FollowUp(Base):
    """One follow-up visit."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    seen_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24))
    recurrence: Mapped[bool | None] = mapped_column(Boolean)
    recurrence_sites: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="follow_ups")


class PerfusionRun(Base):
    """One perfusion: what was planned, its status, and summary figures.

    ``status`` is ``running`` while a recorder writes it, then ``completed`` or ``aborted``; a run
    left ``running`` by a process that died becomes ``interrupted`` at the next start. ``host`` and
    ``pid`` name the recording process so that a live run is never marked interrupted.
    """

    __tablename__ = "perfusion_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    procedure_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedures.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), index=True)
    started_at: Mapped[dt.datetime] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    regimen_id: Mapped[str | None] = mapped_column(String(64))
    #: The regimen as run (``Regimen.model_dump(mode="json")``), so later library edits never
    #: change what the record says was planned.
    regimen: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: ``PerfusionPlan.to_dict()``.
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    device_name: Mapped[str | None] = mapped_column(String(100))
    cavity_probe_regions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(Text)
    sample_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    #: Perfusion minutes for billing (from the runner's timer; see hipec.reports.coding).
    perfusion_min: Mapped[float | None] = mapped_column(Float)
    max_inflow_c: Mapped[float | None] = mapped_column(Float)
    max_cavity_c: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    patient: Mapped[Patient] = relationship(back_populates="runs")
    procedure: Mapped[Procedure | None] = relationship(back_populates="runs")
    events: Mapped[list[RunEvent]] = relationship(
        cascade="all, delete-orphan", order_by="RunEvent.id", passive_deletes=True
    )
    alarms: Mapped[list[RunAlarm]] = relationship(
        cascade="all, delete-orphan", order_by="RunAlarm.id", passive_deletes=True
    )
    doses: Mapped[list[RunDose]] = relationship(
        cascade="all, delete-orphan", order_by="RunDose.id", passive_deletes=True
    )


#: Scalar channels of :class:`hipec.devices.base.Reading`, one float column each (NULL = nan).
SAMPLE_FLOAT_CHANNELS: tuple[str, ...] = (
    "inflow_c",
    "outflow_c",
    "reservoir_c",
    "core_c",
    "inflow_l_per_min",
    "outflow_l_per_min",
    "line_pressure_mmhg",
    "abdominal_pressure_mmhg",
    "reservoir_volume_l",
    "heater_power_w",
)
#: One column per PCI region for the intra-abdominal probes (NULL: no probe there, or no value).
CAVITY_COLUMNS: tuple[str, ...] = tuple(f"cavity_r{region}_c" for region in range(REGION_COUNT))

#: One row per 1 Hz reading; (run_id, seq) is the key, so a sample can never be stored twice.
run_samples = Table(
    "run_samples",
    Base.metadata,
    Column("run_id", ForeignKey("perfusion_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("time_s", Float, nullable=False),
    *(Column(name, Float, nullable=True) for name in SAMPLE_FLOAT_CHANNELS),
    Column("air_in_line", Boolean, nullable=False),
    Column("power", String(8), nullable=False),
    *(Column(name, Float, nullable=True) for name in CAVITY_COLUMNS),
)
SAMPLE_COLUMNS: tuple[str, ...] = tuple(c.name for c in run_samples.columns)


class RunEvent(Base):
    """Something that happened during a run: a phase change, a prompt, a note, a command."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("perfusion_runs.id", ondelete="CASCADE"), index=True
    )
    time_s: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RunAlarm(Base):
    """An alarm with its IEC 60601-1-8 priority and device times raised, acknowledged, cleared."""

    __tablename__ = "run_alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("perfusion_runs.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    raised_s: Mapped[float] = mapped_column(Float)
    acknowledged_s: Mapped[float | None] = mapped_column(Float)
    cleared_s: Mapped[float | None] = mapped_column(Float)


class RunDose(Base):
    """A dose: as planned (from the plan) and as given (when the operator confirms it)."""

    __tablename__ = "run_doses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("perfusion_runs.id", ondelete="CASCADE"), index=True
    )
    drug: Mapped[str] = mapped_column(String(100))
    route: Mapped[str] = mapped_column(String(32))
    planned_mg: Mapped[float | None] = mapped_column(Float)
    planned_at_min: Mapped[float | None] = mapped_column(Float)
    given_mg: Mapped[float | None] = mapped_column(Float)
    given_at_s: Mapped[float | None] = mapped_column(Float)


class AuditEntry(Base):
    """Who changed what, when: one row per insert, update or delete, in the same transaction."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(8))
    table_name: Mapped[str] = mapped_column(String(64), index=True)
    row_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


__all__ = [
    "CAVITY_COLUMNS",
    "SAMPLE_COLUMNS",
    "SAMPLE_FLOAT_CHANNELS",
    "Assessment",
    "AuditEntry",
    "Base",
    "Complication",
    "FollowUp",
    "Patient",
    "PerfusionRun",
    "PostopCourse",
    "Procedure",
    "RunAlarm",
    "RunDose",
    "RunEvent",
    "UtcDateTime",
    "run_samples",
    "utc_now",
]
