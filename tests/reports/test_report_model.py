"""The report model assembled from the database (SQLite and PostgreSQL), with and without a run."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import Engine

from hipec.clinical.pci import PCI_REGIONS, REGION_COUNT
from hipec.errors import InvalidInputError, NotFoundError
from hipec.model.metrics import cem43_minutes
from hipec.reports.report import SYNTHETIC_NOTICE, build_report, report_to_dict
from hipec.store.db import transaction
from reportdata import PROBE_REGIONS, add_report_case, record_run, simulate_run

NOW = dt.datetime(2024, 4, 3, 12, 0, tzinfo=dt.UTC)


def test_report_of_a_case_with_a_recorded_run(engine: Engine) -> None:
    add_report_case(engine)
    run_id = record_run(engine)
    simulated = simulate_run()
    with transaction(engine) as session:
        report = build_report(session, "T-001", now=NOW)
    assert report.run is not None and report.run.run_id == run_id
    run = report.run

    # patient, staging, surgery from the case record
    assert report.patient.case_number == "T-001" and report.patient.age_years == 62
    assert report.patient.bsa_m2 == pytest.approx(np.sqrt(165.0 * 62.5 / 3600.0))
    assert report.pci is not None and report.pci.pci == 6
    assert [i for i, _, _ in report.pci.involved] == [0, 6, 9]
    assert report.surgery is not None and report.surgery.cc_score == 0
    assert report.surgery.complete_cytoreduction is True
    assert report.surgery.crs_minutes == pytest.approx(390.0)
    assert [r.kind for r in report.surgery.resections] == ["peritonectomy", "peritonectomy"]

    # plan, phases, timer
    assert run.plan is not None and run.plan.regimen_id == "dutch-mmc"
    assert run.plan.target_range_c == (41.0, 42.0)
    assert [p.phase for p in run.phases] == ["prime", "fill", "heat", "perfuse", "drain"]
    assert run.timer_start_s == simulated.timer_start_s
    assert run.timer_end_s == simulated.timer_end_s
    perfuse = next(p for p in run.phases if p.phase == "perfuse")
    assert perfuse.minutes == pytest.approx(90.0)

    # doses planned and given, alarms
    assert len(run.doses) == 3
    for dose, planned in zip(run.doses, simulated.plan.doses, strict=True):
        assert dose.planned_mg == pytest.approx(planned.mg)
        assert dose.given_mg == pytest.approx(planned.mg)
        assert dose.given_at_timer_min == pytest.approx(planned.at_min, abs=1 / 60)
        assert dose.deviation_percent == pytest.approx(0.0, abs=1e-9)
    assert [(a.code, a.priority) for a in run.alarms] == [
        ("flow-low", "medium"),
        ("inflow-temperature-high", "high"),
    ]
    assert all(a.active_s is not None and a.active_s > 0 for a in run.alarms)

    # samples: every reading stored and read back
    assert run.series.time_s.size == len(simulated.readings)
    assert run.series.probe_regions == PROBE_REGIONS
    assert run.series.has_values("core_c") and not run.series.has_values("line_pressure_mmhg")

    # measured probe CEM43 from the stored samples = metrics over the twin's own readings
    times = np.array([r.time_s for r in simulated.readings])
    window = (times >= simulated.timer_start_s) & (times <= simulated.timer_end_s)
    for probe in run.probe_thermal:
        position = PROBE_REGIONS.index(probe.region)
        values = np.array([r.cavity_c[position] for r in simulated.readings])
        expected = float(cem43_minutes(times[window], values[window]))
        assert probe.cem43_min == pytest.approx(expected, rel=1e-9)
        assert probe.name == PCI_REGIONS[probe.region].name

    # regional figures from the summary, probe regions flagged
    assert len(run.region_thermal) == REGION_COUNT
    summary_regions = simulated.summary["thermal"]["regions"]
    assert run.region_cem43 == pytest.approx([r["cem43_min"] for r in summary_regions])
    assert [r.index for r in run.region_thermal if r.probed] == sorted(PROBE_REGIONS)
    assert [d.drug for d in run.drugs] == ["mitomycin"]
    assert run.drugs[0].region_auc_mg_min_per_l is not None
    assert len(run.drugs[0].region_auc_mg_min_per_l) == REGION_COUNT

    # delivered totals and codes: 90 min -> 96547 + 96548 x1 (midpoint rule)
    totals = run.totals
    assert totals.perfusion_min == pytest.approx(90.0)
    assert totals.drugs[0].given_mg == pytest.approx(simulated.plan.totals[0].mg)
    assert totals.inflow_max_c == pytest.approx(max(r.inflow_c for r in simulated.readings))
    assert [(c.code, c.units) for c in report.billing.cpt] == [("96547", 1), ("96548", 1)]
    assert [c.code for c in report.billing.icd10] == ["C18.1", "C78.6"]
    assert report.notices == ()

    # the JSON digest is plain JSON
    digest = json.loads(json.dumps(report_to_dict(report)))
    assert digest["run"]["series"]["samples"] == len(simulated.readings)


def test_report_of_a_case_without_a_perfusion(engine: Engine) -> None:
    add_report_case(engine, "T-002", synthetic=True, perfusion_runs=[])
    with transaction(engine) as session:
        report = build_report(session, "T-002", now=NOW)
    assert report.run is None and report.other_runs == ()
    assert report.pci is not None and report.surgery is not None
    assert report.billing.cpt == () and report.billing.perfusion_min is None
    assert "No perfusion time" in report.billing.note
    assert [c.code for c in report.billing.icd10] == ["C18.1", "C78.6"]
    assert report.synthetic and report.notices == (SYNTHETIC_NOTICE,)


def test_report_refuses_unknown_case_run_and_rule(engine: Engine) -> None:
    add_report_case(engine)
    with transaction(engine) as session:
        with pytest.raises(NotFoundError, match="no case 'NOPE'"):
            build_report(session, "NOPE")
        with pytest.raises(NotFoundError, match="no perfusion run 99"):
            build_report(session, "T-001", run_id=99)
        with pytest.raises(InvalidInputError, match="time_rule"):
            build_report(session, "T-001", time_rule="quarter")
