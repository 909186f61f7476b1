"""The report tests' own data: a Dutch MMC run simulated on the twin and recorded."""

from __future__ import annotations

from hipec.clinical.pci import REGION_COUNT
from reportdata import simulate_run


def test_simulated_run_follows_the_protocol() -> None:
    run = simulate_run()
    phases = [e[3]["to"] for e in run.events if e[1] == "phase.changed"]
    assert phases == ["setup", "prime", "fill", "heat", "perfuse", "drain", "complete"]
    assert run.perfusion_min == run.plan.duration_min
    assert [round(d[1], 3) for d in run.doses_given] == [round(d.mg, 3) for d in run.plan.doses]
    # the kinked line raises the flow alarm; the simple heater rule then overheats the inflow
    assert [a[0] for a in run.alarms] == ["flow-low", "inflow-temperature-high"]
    assert all(a[5] is not None for a in run.alarms)
    # the twin, not a constant: inflow settles near its target, regions spread by the twin's model
    region_means = [r["mean_c"] for r in run.summary["thermal"]["regions"]]
    assert abs(run.summary["thermal"]["inflow_mean_c"] - run.plan.target_temperature_c) < 0.5
    assert 0.2 < max(region_means) - min(region_means) < 5.0


def test_summary_has_issue_3_shape() -> None:
    summary = simulate_run().summary
    assert {"protocol", "duration_min", "thermal", "drugs"} <= set(summary)
    regions = summary["thermal"]["regions"]
    assert [r["index"] for r in regions] == list(range(REGION_COUNT))
    for region in regions:
        assert {
            "index",
            "name",
            "mean_c",
            "min_c",
            "max_c",
            "time_in_range_fraction",
            "cem43_min",
        } <= set(region)
        assert region["min_c"] <= region["mean_c"] <= region["max_c"]
        assert 0.0 <= region["time_in_range_fraction"] <= 1.0
    drug = summary["drugs"]["mitomycin"]
    assert 0.0 < drug["fraction_absorbed"] < 1.0
    assert drug["auc_ratio_perfusate_to_plasma"] > 1.0
