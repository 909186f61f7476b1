"""initial schema: cases, assessments, procedures, outcomes, perfusion runs, audit log

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_table_name"), ["table_name"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(length=40), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("primary_site", sa.String(length=32), nullable=False),
        sa.Column("primary_icd10", sa.String(length=8), nullable=True),
        sa.Column("histology", sa.String(length=500), nullable=True),
        sa.Column("histology_type", sa.String(length=48), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("case_number", name=op.f("uq_patients_case_number")),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("pci", sa.Integer(), nullable=False),
        sa.Column("lesion_size_scores", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=True),
        sa.Column("rule_set", sa.String(length=100), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.CheckConstraint("pci >= 0 AND pci <= 39", name=op.f("ck_assessments_pci_range")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_assessments_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessments_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("seen_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("recurrence", sa.Boolean(), nullable=True),
        sa.Column("recurrence_sites", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_follow_ups_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_ups_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "procedures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("technique", sa.String(length=16), nullable=False),
        sa.Column("crs_start", sa.DateTime(), nullable=True),
        sa.Column("crs_end", sa.DateTime(), nullable=True),
        sa.Column("resections", sa.JSON(), nullable=False),
        sa.Column("cc_score", sa.Integer(), nullable=True),
        sa.Column("blood_loss_ml", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.CheckConstraint("blood_loss_ml >= 0", name=op.f("ck_procedures_blood_loss_nonnegative")),
        sa.CheckConstraint("cc_score >= 0 AND cc_score <= 3", name=op.f("ck_procedures_cc_range")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_procedures_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
    )
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedures_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "perfusion_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("regimen_id", sa.String(length=64), nullable=True),
        sa.Column("regimen", sa.JSON(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("device_name", sa.String(length=100), nullable=True),
        sa.Column("cavity_probe_regions", sa.JSON(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("perfusion_min", sa.Float(), nullable=True),
        sa.Column("max_inflow_c", sa.Float(), nullable=True),
        sa.Column("max_cavity_c", sa.Float(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_perfusion_runs_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_perfusion_runs_procedure_id_procedures"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perfusion_runs")),
    )
    with op.batch_alter_table("perfusion_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_perfusion_runs_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_perfusion_runs_procedure_id"), ["procedure_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_perfusion_runs_status"), ["status"], unique=False)

    op.create_table(
        "postop_courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("icu_days", sa.Float(), nullable=True),
        sa.Column("length_of_stay_days", sa.Integer(), nullable=True),
        sa.Column("reoperation", sa.Boolean(), nullable=True),
        sa.Column("readmission", sa.Boolean(), nullable=True),
        sa.Column("mortality_30d", sa.Boolean(), nullable=True),
        sa.Column("mortality_90d", sa.Boolean(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_postop_courses_procedure_id_procedures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postop_courses")),
        sa.UniqueConstraint("procedure_id", name=op.f("uq_postop_courses_procedure_id")),
    )
    op.create_table(
        "complications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postop_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("clavien_dindo", sa.String(length=8), nullable=False),
        sa.Column("ctcae_grade", sa.Integer(), nullable=True),
        sa.Column("onset_day", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["postop_id"],
            ["postop_courses.id"],
            name=op.f("fk_complications_postop_id_postop_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complications")),
    )
    with op.batch_alter_table("complications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complications_postop_id"), ["postop_id"], unique=False)

    op.create_table(
        "run_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_s", sa.Float(), nullable=False),
        sa.Column("acknowledged_s", sa.Float(), nullable=True),
        sa.Column("cleared_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["perfusion_runs.id"],
            name=op.f("fk_run_alarms_run_id_perfusion_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_alarms")),
    )
    with op.batch_alter_table("run_alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_alarms_run_id"), ["run_id"], unique=False)

    op.create_table(
        "run_doses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=100), nullable=False),
        sa.Column("route", sa.String(length=32), nullable=False),
        sa.Column("planned_mg", sa.Float(), nullable=True),
        sa.Column("planned_at_min", sa.Float(), nullable=True),
        sa.Column("given_mg", sa.Float(), nullable=True),
        sa.Column("given_at_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["perfusion_runs.id"],
            name=op.f("fk_run_doses_run_id_perfusion_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_doses")),
    )
    with op.batch_alter_table("run_doses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_doses_run_id"), ["run_id"], unique=False)

    op.create_table(
        "run_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("time_s", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["perfusion_runs.id"],
            name=op.f("fk_run_events_run_id_perfusion_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_events_run_id"), ["run_id"], unique=False)

    op.create_table(
        "run_samples",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("time_s", sa.Float(), nullable=False),
        sa.Column("inflow_c", sa.Float(), nullable=True),
        sa.Column("outflow_c", sa.Float(), nullable=True),
        sa.Column("reservoir_c", sa.Float(), nullable=True),
        sa.Column("core_c", sa.Float(), nullable=True),
        sa.Column("inflow_l_per_min", sa.Float(), nullable=True),
        sa.Column("outflow_l_per_min", sa.Float(), nullable=True),
        sa.Column("line_pressure_mmhg", sa.Float(), nullable=True),
        sa.Column("abdominal_pressure_mmhg", sa.Float(), nullable=True),
        sa.Column("reservoir_volume_l", sa.Float(), nullable=True),
        sa.Column("heater_power_w", sa.Float(), nullable=True),
        sa.Column("air_in_line", sa.Boolean(), nullable=False),
        sa.Column("power", sa.String(length=8), nullable=False),
        sa.Column("cavity_r0_c", sa.Float(), nullable=True),
        sa.Column("cavity_r1_c", sa.Float(), nullable=True),
        sa.Column("cavity_r2_c", sa.Float(), nullable=True),
        sa.Column("cavity_r3_c", sa.Float(), nullable=True),
        sa.Column("cavity_r4_c", sa.Float(), nullable=True),
        sa.Column("cavity_r5_c", sa.Float(), nullable=True),
        sa.Column("cavity_r6_c", sa.Float(), nullable=True),
        sa.Column("cavity_r7_c", sa.Float(), nullable=True),
        sa.Column("cavity_r8_c", sa.Float(), nullable=True),
        sa.Column("cavity_r9_c", sa.Float(), nullable=True),
        sa.Column("cavity_r10_c", sa.Float(), nullable=True),
        sa.Column("cavity_r11_c", sa.Float(), nullable=True),
        sa.Column("cavity_r12_c", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["perfusion_runs.id"],
            name=op.f("fk_run_samples_run_id_perfusion_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_run_samples")),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("run_samples")
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_events_run_id"))

    op.drop_table("run_events")
    with op.batch_alter_table("run_doses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_doses_run_id"))

    op.drop_table("run_doses")
    with op.batch_alter_table("run_alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_alarms_run_id"))

    op.drop_table("run_alarms")
    with op.batch_alter_table("complications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complications_postop_id"))

    op.drop_table("complications")
    op.drop_table("postop_courses")
    with op.batch_alter_table("perfusion_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_perfusion_runs_status"))
        batch_op.drop_index(batch_op.f("ix_perfusion_runs_procedure_id"))
        batch_op.drop_index(batch_op.f("ix_perfusion_runs_patient_id"))

    op.drop_table("perfusion_runs")
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedures_patient_id"))

    op.drop_table("procedures")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_patient_id"))

    op.drop_table("follow_ups")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_patient_id"))

    op.drop_table("assessments")
    op.drop_table("patients")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_table_name"))

    op.drop_table("audit_log")
