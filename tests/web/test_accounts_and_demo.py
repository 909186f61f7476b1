"""Accounts and sessions in the store, the synthetic registry, the outcome figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, select

from hipec.clinical.complications import parse_clavien_dindo
from hipec.errors import InvalidInputError
from hipec.store.db import create_db_engine, transaction, upgrade_database
from hipec.store.demo import synthetic_cases
from hipec.store.models import AuditEntry, Base
from hipec.store.repository import add_case
from hipec.store.users import (
    add_user,
    authenticate,
    create_session,
    end_session,
    hash_password,
    lookup_session,
    verify_password,
)
from hipec.web.outcomes import load_benchmarks, programme_outcomes, wilson_interval


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


def test_migration_0002_creates_the_account_tables_outside_the_export(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"users", "web_sessions"} <= tables
    # the registry export walks Base.metadata: accounts must never be in it
    assert not {"users", "web_sessions"} & set(Base.metadata.tables)


def test_production_hashing_parameters_are_rfc_9106() -> None:
    from argon2 import profiles

    from hipec.store.users import PASSWORD_HASH_PARAMETERS

    assert PASSWORD_HASH_PARAMETERS == profiles.RFC_9106_LOW_MEMORY
    assert PASSWORD_HASH_PARAMETERS.memory_cost >= 64 * 1024


def test_passwords_are_argon2id_and_verified() -> None:
    hashed = hash_password("a-long-password")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a-long-password")
    assert not verify_password(hashed, "a-long-passwore")
    assert not verify_password(None, "a-long-password")
    assert not verify_password("not a hash", "a-long-password")


def test_sessions_expire_end_and_never_audit_hashes(engine: Engine) -> None:
    with transaction(engine) as session:
        user = add_user(session, "sam", "surgeon", "a-long-password", actor="ops")
        assert authenticate(session, "sam", "wrong-password") is None
        assert authenticate(session, "nobody", "a-long-password") is None
        assert authenticate(session, "sam", "a-long-password") is user
        live = create_session(
            session, user, lifetime=dt.timedelta(hours=1), client="127.0.0.1", actor="sam"
        )
        expired = create_session(
            session, user, lifetime=dt.timedelta(seconds=-1), client=None, actor="sam"
        )
        idle = dt.timedelta(minutes=5)
        found = lookup_session(session, live.token, idle_timeout=idle)
        assert found is not None and found.username == "sam" and found.role == "surgeon"
        assert found.csrf_token == live.csrf_token
        assert lookup_session(session, expired.token, idle_timeout=idle) is None
        assert lookup_session(session, "forged-token", idle_timeout=idle) is None
        end_session(session, found.session_id, actor="sam")
        assert lookup_session(session, live.token, idle_timeout=idle) is None
        for entry in session.scalars(select(AuditEntry)):
            text = str(entry.before) + str(entry.after)
            assert "argon2" not in text and live.token not in text


def test_add_user_refusals(engine: Engine) -> None:
    with transaction(engine) as session:
        add_user(session, "ann", "viewer", "a-long-password", actor="ops")
    for args, field in (
        (("ann", "viewer", "a-long-password"), "username"),
        (("Ann", "viewer", "a-long-password"), "username"),
        (("bea", "root", "a-long-password"), "role"),
        (("bea", "viewer", "short"), "password"),
    ):
        with transaction(engine) as session, pytest.raises(InvalidInputError) as caught:
            add_user(session, *args, actor="ops")
        assert caught.value.field == field


def test_synthetic_cases_are_deterministic_labelled_and_valid(engine: Engine) -> None:
    day = dt.date(2026, 6, 1)
    first = synthetic_cases(40, seed=5, today=day)
    assert first == synthetic_cases(40, seed=5, today=day)
    assert first != synthetic_cases(40, seed=6, today=day)
    assert all(case["synthetic"] and "not a real patient" in case["notes"] for case in first)
    with transaction(engine) as session:
        for case in first:
            add_case(session, case, actor="test")  # every document passes the record's checks
    for case in first:
        for procedure in case["procedures"]:
            assert dt.date.fromisoformat(procedure["performed_on"]) <= day
            for complication in procedure["postop"]["complications"]:
                parse_clavien_dindo(complication["clavien_dindo"])
        for visit in case["follow_ups"]:
            assert dt.date.fromisoformat(visit["seen_on"]) <= day
    with pytest.raises(InvalidInputError, match="1-999"):
        synthetic_cases(0)


def test_synthetic_registry_has_plausible_programme_figures() -> None:
    cases = synthetic_cases(600, seed=1, today=dt.date(2026, 6, 1))
    courses = [p["postop"] for c in cases for p in c["procedures"]]
    major = sum(
        any(parse_clavien_dindo(x["clavien_dindo"]).is_major for x in course["complications"])
        for course in courses
    ) / len(courses)
    deaths = sum(course["mortality_30d"] for course in courses) / len(courses)
    stays = sorted(course["length_of_stay_days"] for course in courses)
    assert 0.2 <= major <= 0.4
    assert deaths < 0.05
    assert 9 <= stays[len(stays) // 2] <= 15
    sites = {c["primary_site"] for c in cases}
    assert sites == {"colorectal", "appendix", "ovarian", "gastric", "mesothelioma"}


def _course(grades: list[str], died_30d: bool, stay: int) -> dict[str, object]:
    return {
        "length_of_stay_days": stay,
        "mortality_30d": died_30d,
        "mortality_90d": died_30d,
        "readmission": False,
        "complications": [{"description": f"c{g}", "clavien_dindo": g} for g in grades],
    }


def test_outcomes_count_major_complications_from_grade_iiia(engine: Engine) -> None:
    courses = [
        _course([], False, 10),
        _course(["II"], False, 12),
        _course(["I", "IIIa"], False, 20),
        _course(["IVa", "V"], True, 30),
    ]
    with transaction(engine) as session:
        for index, course in enumerate(courses):
            add_case(
                session,
                {
                    "case_number": f"O-{index}",
                    "sex": "male",
                    "birth_year": 1960,
                    "primary_site": "colorectal",
                    "procedures": [
                        {"performed_on": "2026-01-01", "technique": "open", "postop": course}
                    ],
                },
                actor="test",
            )
        result = programme_outcomes(session)
        only_synthetic = programme_outcomes(session, synthetic=True)
    assert result["courses"] == 4
    assert result["major_complication_rate"]["events"] == 2
    assert result["major_complication_rate"]["percent"] == 50.0
    assert result["any_complication_rate"]["events"] == 3
    assert result["mortality_30d"]["percent"] == 25.0
    assert result["length_of_stay_days"]["median_days"] == 16
    assert result["worst_grade_counts"] == {"none": 1, "II": 1, "IIIa": 1, "V": 1}
    assert only_synthetic["courses"] == 0 and only_synthetic["mortality_30d"]["percent"] is None


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_interval_contains_the_estimate(events: int, total: int) -> None:
    events = min(events, total)
    low, high = wilson_interval(events, total)
    assert 0 <= low <= events / total <= high <= 1


def test_benchmarks_carry_sources() -> None:
    benchmarks = load_benchmarks()
    assert benchmarks and all(b.source and b.checked for b in benchmarks)
    nsqip = next(b for b in benchmarks if b.id == "nsqip-mortality-30d")
    assert nsqip.value_percent == 1.1 and "JAMA Netw Open 2019" in nsqip.source
    assert next(b for b in benchmarks if b.id == "seed-major-complications").text() == "25-35 %"
