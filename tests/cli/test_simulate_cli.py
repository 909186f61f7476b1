"""``hipec simulate`` through the real entry point (coarse control period: --period-s 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ENV = {"OPENBLAS_NUM_THREADS": "1"}


def simulate(hipec: Any, protocol: str, *args: str) -> Any:
    return hipec(
        "simulate", "--protocol", protocol, "--height-cm", "170", "--weight-kg", "70",
        "--period-s", "5", *args, env=ENV,
    )  # fmt: skip


def test_simulate_json_has_issue_3_shape(hipec: Any, tmp_path: Path) -> None:
    figure = tmp_path / "run.png"
    result = simulate(hipec, "gastric-cisplatin-mmc", "--json", "--plot", str(figure))
    assert result.exit_code == 0, result.stderr
    data = result.json()
    for key in ("protocol", "duration_min", "thermal", "drugs"):
        assert key in data
    assert data["protocol"] == "gastric-cisplatin-mmc" and data["duration_min"] == 60
    thermal = data["thermal"]
    for key in (
        "time_to_target_min",
        "inflow_mean_c",
        "outflow_mean_c",
        "core_max_c",
        "wall_gradient_first_mm_c",
    ):
        assert thermal[key] is not None, key
    assert [r["index"] for r in thermal["regions"]] == list(range(13))
    assert set(thermal["regions"][0]) == {
        "index", "name", "mean_c", "min_c", "max_c", "time_in_range_fraction", "cem43_min",
    }  # fmt: skip
    assert set(data["drugs"]) == {"cisplatin", "mitomycin"}
    for row in data["drugs"].values():
        assert {
            "dose_mg", "fraction_remaining_in_perfusate", "fraction_absorbed", "fraction_in_urine",
            "auc_ratio_perfusate_to_plasma", "plasma_cmax_mg_per_l", "plasma_tmax_min",
            "penetration_depth_mm",
        } <= set(row)  # fmt: skip
        assert 0 < row["fraction_absorbed"] < 1
        # exposure per region: every region sees the drug
        assert [r["index"] for r in row["regions"]] == list(range(13))
        assert all(r["auc_mg_min_per_l"] > 0 for r in row["regions"])
    # heat: cisplatin kills more at temperature (weighted exposure above its AUC, most in the
    # warmest region); mitomycin C shows no synergy (weighted exposure equal to its AUC)
    cisplatin, mitomycin = data["drugs"]["cisplatin"], data["drugs"]["mitomycin"]
    assert cisplatin["thermal_enhancement_ratio_at_43c"] == pytest.approx(19.5 / 6.8, abs=1e-3)
    gain = [
        r["thermally_enhanced_auc_mg_min_per_l"] / r["auc_mg_min_per_l"]
        for r in cisplatin["regions"]
    ]
    assert all(1.0 < g <= 19.5 / 6.8 + 1e-3 for g in gain)
    warmest = max(thermal["regions"], key=lambda r: r["mean_c"])["index"]
    coolest = min(thermal["regions"], key=lambda r: r["mean_c"])["index"]
    assert gain[warmest] > gain[coolest]
    assert mitomycin["thermal_enhancement_ratio_at_43c"] == 1.0
    assert all(
        r["thermally_enhanced_auc_mg_min_per_l"] == pytest.approx(r["auc_mg_min_per_l"], abs=0.11)
        for r in mitomycin["regions"]
    )
    assert thermal["inflow_mean_c"] == pytest.approx(42.5, abs=0.3)  # the regimen's inflow target
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_fixed_inflow_flow_and_duration(hipec: Any) -> None:
    result = simulate(
        hipec, "prodige7", "--inflow-c", "42", "--flow-l-min", "2", "--duration-min", "20", "--json"
    )
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["duration_min"] == 20 and data["outcome"] == "completed"
    assert data["thermal"]["inflow_mean_c"] == pytest.approx(42.0, abs=0.3)
    assert data["thermal"]["time_to_target_min"] is not None


def test_simulate_table_output(hipec: Any) -> None:
    result = simulate(hipec, "dutch-mmc", "--duration-min", "5")
    assert result.exit_code == 0, result.stderr
    assert "Regions over the perfusion" in result.stdout and "mitomycin" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--inflow-c", "46"], ["inflow_c", "37-43"]),
        (["--flow-l-min", "9"], ["flow_l_min", "0.3-4"]),
        (["--duration-min", "0"], ["duration_min", "1-240"]),
        (["--plot", "figure.jpg"], ["plot", ".png"]),
        (["--technique", "sideways"], ["technique"]),
    ],
)
def test_simulate_refusals(hipec: Any, args: list[str], expected: list[str]) -> None:
    simulate(hipec, "dutch-mmc", *args, "--json").assert_refused(*expected)


def test_simulate_unknown_protocol(hipec: Any) -> None:
    simulate(hipec, "no-such-regimen", "--json").assert_refused("no-such-regimen")
