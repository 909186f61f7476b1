"""``hipec protocols list|show`` through the real entry point."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "regimens"


def test_list_json(hipec: Any) -> None:
    result = hipec("protocols", "list", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {row["id"]: row for row in result.json()}
    assert "prodige7" in rows and "mesothelioma-cisplatin-doxorubicin" in rows
    prodige7 = rows["prodige7"]
    assert prodige7["drugs"] == ["oxaliplatin"]
    assert prodige7["technique"] == "open"
    assert prodige7["techniques"] == ["open", "closed"]
    assert prodige7["duration_min"] == 30
    assert prodige7["source"] == "Quénet 2021, Lancet Oncol"
    assert prodige7["unverified_count"] == 5


def test_list_table(hipec: Any) -> None:
    result = hipec("protocols", "list")
    assert result.exit_code == 0, result.stderr
    assert "dutch-mmc" in result.stdout and "unverified" in result.stdout


def test_show_json(hipec: Any) -> None:
    result = hipec("protocols", "show", "aspsm-mmc", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["id"] == "aspsm-mmc"
    assert "doses[0].mg" in data["unverified"]
    assert data["citation"]["year"] == 2014
    assert data["doses"][0]["mg"] == 40
    assert data["source_file"].endswith("aspsm-mmc.toml")


def test_show_marks_unverified_fields_and_cites(hipec: Any) -> None:
    result = hipec("protocols", "show", "prodige7")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    carrier = next(line for line in lines if "carrier.solution" in line)
    dose = next(line for line in lines if "doses[0].mg_per_m2" in line and "variants" not in line)
    assert "UNVERIFIED" in carrier
    assert "UNVERIFIED" not in dose
    assert "Citation: Quénet F" in result.stdout
    assert "PMID 33476595" in result.stdout


def test_show_unknown(hipec: Any) -> None:
    result = hipec("protocols", "show", "x")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().startswith("error: protocol: unknown regimen 'x'; known: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_user_regimen_listed_and_planned(hipec: Any, tmp_path: Path) -> None:
    shutil.copy(EXAMPLE / "example-dutch-mmc-capped.toml", tmp_path)
    env = {"HIPEC_REGIMEN_PATH": str(tmp_path)}
    listed = hipec("protocols", "list", "--json", env=env)
    assert listed.exit_code == 0, listed.stderr
    assert "example-dutch-mmc-capped" in {row["id"] for row in listed.json()}
    planned = hipec(
        "plan", "-p", "example-dutch-mmc-capped", "--height-cm", "190", "--weight-kg", "110",
        "--json", env=env,
    )  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    # sqrt(190 x 110 / 3600) = 2.4095 m2 x 35 = 84.3 mg, capped at 70 mg: 35 / 17.5 / 17.5
    data = planned.json()
    assert [d["mg"] for d in data["doses"]] == [35.0, 17.5, 17.5]
    assert all(d["cap_applied"] for d in data["doses"])
    assert any("capped at 70 mg" in w for w in data["warnings"])


def test_malformed_user_regimen_is_one_line(hipec: Any, tmp_path: Path) -> None:
    text = (EXAMPLE / "example-dutch-mmc-capped.toml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("max_volume_l = 6.0", "max_volume_l = 1.0"), encoding="utf-8")
    result = hipec("protocols", "list", env={"HIPEC_REGIMEN_PATH": str(tmp_path)})
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {broken}: carrier: ")
    assert "must not exceed" in lines[0]


def test_id_clash_names_both_files(hipec: Any, tmp_path: Path) -> None:
    shutil.copy(EXAMPLE / "example-dutch-mmc-capped.toml", tmp_path / "one.toml")
    shutil.copy(EXAMPLE / "example-dutch-mmc-capped.toml", tmp_path / "two.toml")
    result = hipec("protocols", "show", "dutch-mmc", env={"HIPEC_REGIMEN_PATH": str(tmp_path)})
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "defined twice" in result.stderr
    assert str(tmp_path / "one.toml") in result.stderr
    assert str(tmp_path / "two.toml") in result.stderr
