"""`make demo` runs `python -m hipec.demo`: it must run end to end and show every step."""

import subprocess
import sys


def test_demo_walks_the_reference_patient_through_every_step() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hipec.demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "100", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for heading in (
        "Peritoneal Cancer Index",
        "completeness of cytoreduction",
        "Candidacy",
        "PRODIGE 7",
        "The regimen",
        "The dose plan",
    ):
        assert heading in done.stdout
    assert "PCI 8 / 39" in done.stdout
    assert "CANDIDATE" in done.stdout
    # Dutch MMC for 172 cm / 74 kg: Mosteller BSA 1.8800 m2 x 35 mg/m2 = 65.8 mg, half at 0 min
    assert "65.8" in done.stdout
    assert "32.9" in done.stdout
