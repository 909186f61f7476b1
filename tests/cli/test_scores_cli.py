"""``hipec pci``, ``cc``, ``bsa`` and ``risk`` through the installed entry point."""

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from hipec.cli import pci, scores


@pytest.fixture(scope="module")
def in_process() -> Any:
    """The same commands in-process, for the text and help checks (a subprocess costs ~0.5 s)."""
    app = typer.Typer()
    pci.register(app)
    scores.register(app)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env={"COLUMNS": "120"})

    return run


def test_pci_json_is_the_library_dict(hipec: Any) -> None:
    result = hipec("pci", "0=3", "6=12mm", "9=confluent", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["pci"] == 8
    assert set(data) == {"pci", "regions"}
    assert len(data["regions"]) == 13
    assert data["regions"][6] == {"index": 6, "name": "Pelvis", "lesion_size_score": 2}
    assert data["regions"][9] == {"index": 9, "name": "Upper jejunum", "lesion_size_score": 3}
    assert sum(r["lesion_size_score"] for r in data["regions"]) == 8


def test_pci_without_arguments_is_zero(hipec: Any) -> None:
    result = hipec("pci", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["pci"] == 0


def test_pci_text_shows_table_picture_and_total(hipec: Any) -> None:
    result = hipec("pci", "1=2", "5=confluent")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "PCI 5 / 39" in out
    for name in (
        "Right upper",
        "Epigastrium",
        "Left lower",
        "Pelvis",
        "Upper jejunum",
        "Lower ileum",
    ):
        assert name in out
    # the picture: row 1 reads 1 | 2 | 3 facing the patient, the small bowel row below the grid
    first_row = next(line for line in out.splitlines() if "1 Right upper" in line)
    assert (
        first_row.index("1 Right upper")
        < first_row.index("2 Epigastrium")
        < first_row.index("3 Left upper")
    )
    assert out.index("7 Right lower") < out.index("9 Upper")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["13=2"], ["region", "0-12", "13"]),
        (["0=4"], ["region 0 lesion size", "LS 0-3", "12mm", "confluent"]),
        (["0=-3mm"], ["region 0 lesion size", "negative"]),
        (["0:3"], ["regions", "REGION=SCORE"]),
    ],
)
def test_pci_refusals(hipec: Any, args: list[str], words: list[str]) -> None:
    hipec("pci", *args).assert_refused(*words)


def test_cc_from_residual_size_and_from_score(hipec: Any) -> None:
    at_cut = hipec("cc", "--residual-mm", "2.5", "--json")
    assert at_cut.exit_code == 0, at_cut.stderr
    assert at_cut.json()["cc_score"] == 2
    assert at_cut.json()["complete_cytoreduction"] is False


def test_cc_needs_exactly_one_of_size_or_score(hipec: Any) -> None:
    hipec("cc").assert_refused("--residual-mm", "--score")


def test_bsa(hipec: Any) -> None:
    result = hipec("bsa", "--height-cm", "170", "--weight-kg", "70", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["bsa_m2"] == pytest.approx(1.8181, abs=5e-4)
    assert data["formula"] == "mosteller"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--height-cm", "20", "--weight-kg", "70"], ["height_cm", "100-250 cm", "20"]),
        (
            ["--height-cm", "170", "--weight-kg", "70", "--formula", "boyd"],
            ["--formula", "mosteller", "dubois"],
        ),
    ],
)
def test_bsa_refusals(hipec: Any, args: list[str], words: list[str]) -> None:
    hipec("bsa", *args).assert_refused(*words)


def test_risk_incomplete_cytoreduction(hipec: Any) -> None:
    result = hipec(
        "risk", "incomplete-cytoreduction", "--sex", "male", "--ascites",
        "--ca125", "40", "--cea", "4.19", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert (data["points"], data["band"], data["published_rate_fraction"]) == (3, "high", 0.39)
    assert data["factors"] == ["male sex", "ascites", "CA-125 >= 40 U/mL"]
    assert data["verified"] is True


def test_risk_incomplete_cytoreduction_refuses_negative_labs(hipec: Any) -> None:
    result = hipec(
        "risk", "incomplete-cytoreduction", "--sex", "female", "--no-ascites",
        "--ca125", "-5", "--cea", "1",
    )  # fmt: skip
    result.assert_refused("ca125_u_per_ml", "U/mL")


def test_risk_psdss(hipec: Any) -> None:
    result = hipec(
        "risk", "psdss", "--symptoms", "mild", "--pci", "10", "--histology", "moderate-n1-n2",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert (data["points"], data["stage"], data["verified"]) == (7, "II", False)
    assert data["components"] == {"symptoms": 1, "pci": 3, "histology": 3}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--symptoms", "none", "--pci", "40", "--histology", "moderate-n1-n2"], ["pci", "0-39"]),
        (
            ["--symptoms", "none", "--pci", "4", "--histology", "x"],
            ["--histology", "poor-or-signet-ring"],
        ),
    ],
)
def test_risk_psdss_refusals(hipec: Any, args: list[str], words: list[str]) -> None:
    hipec("risk", "psdss", *args).assert_refused(*words)


def test_text_output_of_the_score_commands(in_process: Any) -> None:
    cc = in_process("cc", "--score", "cc1")
    assert cc.exit_code == 0, cc.output
    assert "CC-1" in cc.output
    assert "yes" in cc.output  # complete cytoreduction
    cc_size = in_process("cc", "--residual-mm", "25.01")
    assert "CC-3" in cc_size.output
    assert "25.01 mm" in cc_size.output
    bsa = in_process("bsa", "--height-cm", "180", "--weight-kg", "80", "--formula", "dubois")
    assert bsa.exit_code == 0, bsa.output
    assert "2.00 m2" in bsa.output  # DuBois 1.9964
    risk = in_process(
        "risk", "incomplete-cytoreduction", "--sex", "female", "--no-ascites",
        "--ca125", "5", "--cea", "1",
    )  # fmt: skip
    assert risk.exit_code == 0, risk.output
    assert "zero" in risk.output
    assert "1.6 %" in risk.output
    stage = in_process(
        "risk", "psdss", "--symptoms", "none", "--pci", "3", "--histology", "well-moderate-n0"
    )
    assert stage.exit_code == 0, stage.output
    assert "NO" in stage.output  # the unverified table is flagged to the reader


@pytest.mark.parametrize(
    ("command", "units"),
    [
        (["pci"], ["mm", "cm"]),
        (["cc"], ["mm"]),
        (["bsa"], ["cm", "kg", "m2"]),
        (["risk", "incomplete-cytoreduction"], ["U/mL", "ng/mL"]),
        (["risk", "psdss"], ["points"]),
    ],
)
def test_help_says_units(in_process: Any, command: list[str], units: list[str]) -> None:
    result = in_process(*command, "--help")
    assert result.exit_code == 0
    for unit in units:
        assert unit in result.output
