import re

import pytest

from hipec.errors import InvalidInputError, NotFoundError
from hipec.model import DRUGS, drug_parameters
from hipec.model.citations import CITATIONS, format_citations
from hipec.model.parameters import abdomen, circuit, patient
from hipec.model.parameters.base import Sourced
from hipec.model.parameters.drugs import CALIBRATION_TARGETS

ALL_SETS = [
    patient.get_parameter_values(),
    circuit.get_parameter_values(),
    abdomen.get_parameter_values(),
    *(factory() for factory in DRUGS.values()),
]


@pytest.mark.parametrize("parameter_set", ALL_SETS, ids=lambda s: s.name)
def test_every_key_names_its_unit_and_source(parameter_set) -> None:  # type: ignore[no-untyped-def]
    for key, entry in parameter_set.values.items():
        assert re.search(r" \[[^\]]+\]$", key), key
        assert entry.source in CITATIONS
    assert parameter_set.citations()
    text = parameter_set.describe()
    assert parameter_set.name in text and "[1]" in text


def test_unverified_values_are_listed() -> None:
    dox = drug_parameters("doxorubicin")
    assert set(dox.unverified()) == set(dox.values)  # nothing about doxorubicin is verified


def test_overrides_are_marked_and_checked() -> None:
    mmc = drug_parameters("MMC")
    changed = mmc.with_overrides({"Renal clearance [L/min]": 0.2})
    assert changed["Renal clearance [L/min]"] == 0.2
    assert changed.values["Renal clearance [L/min]"].note == "user override"
    assert mmc["Renal clearance [L/min]"] != 0.2  # the default is untouched
    with pytest.raises(NotFoundError):
        mmc.with_overrides({"Renal clearance [mL/min]": 1.0})
    with pytest.raises(InvalidInputError, match="finite"):
        mmc.with_overrides({"Renal clearance [L/min]": float("nan")})
    with pytest.raises(NotFoundError):
        mmc.value("nonsense [-]")


def test_unknown_names_refused() -> None:
    with pytest.raises(NotFoundError, match="drug: must be one of"):
        drug_parameters("5-FU")
    with pytest.raises(NotFoundError, match="citation"):
        Sourced(1.0, "Nobody2099", False)
    with pytest.raises(NotFoundError):
        format_citations(["Nobody2099"])


def test_calibration_targets_cite_known_works() -> None:
    for target in CALIBRATION_TARGETS:
        assert target.source in CITATIONS
        assert target.drug in DRUGS
