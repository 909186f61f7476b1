"""The builtin regimen library, user regimens from HIPEC_REGIMEN_PATH, and technique variants."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hipec.errors import InvalidInputError, NotFoundError
from hipec.protocols import (
    BUILTIN_DIR,
    get_regimen,
    list_regimens,
    load_regimen_file,
    regimen_source_file,
)

REQUIRED_IDS = {
    "prodige7",
    "elias-oxaliplatin",
    "dutch-mmc",
    "aspsm-mmc",
    "ovhipec-cisplatin",
    "gastric-cisplatin-mmc",
    "mesothelioma-cisplatin-doxorubicin",
}
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "regimens"


@pytest.fixture(autouse=True)
def _no_user_regimens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIPEC_REGIMEN_PATH", raising=False)


def test_the_library_holds_the_required_regimens() -> None:
    assert {r.id for r in list_regimens()} >= REQUIRED_IDS


def test_each_builtin_file_is_named_by_its_id() -> None:
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        assert load_regimen_file(path).id == path.stem


def test_each_regimen_has_a_citation_and_says_what_is_unverified() -> None:
    for regimen in list_regimens():
        assert regimen.citation.short(), regimen.id
        assert regimen.notes, regimen.id
        # safety limits are hipec defaults everywhere: each file must say so
        assert regimen.is_unverified("safety.max_inflow_c"), regimen.id


def test_list_is_sorted_by_id() -> None:
    ids = [r.id for r in list_regimens()]
    assert ids == sorted(ids)


def test_unknown_regimen_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError) as caught:
        get_regimen("x")
    assert caught.value.field == "protocol"
    assert caught.value.message.startswith("unknown regimen 'x'; known: aspsm-mmc, dutch-mmc")


def test_source_file_of_a_builtin() -> None:
    assert regimen_source_file("prodige7") == BUILTIN_DIR / "prodige7.toml"


def test_prodige7_closed_variant_is_360() -> None:
    prodige7 = get_regimen("prodige7")
    assert prodige7.techniques == ("open", "closed")
    assert prodige7.doses[0].mg_per_m2 == 460.0
    closed = prodige7.for_technique("closed")
    assert closed.technique == "closed"
    assert closed.doses[0].mg_per_m2 == 360.0
    assert closed.variants == {}
    # what the variant does not override is inherited, with its verification status
    assert closed.carrier == prodige7.carrier
    assert closed.is_unverified("carrier.solution")
    assert closed.systemic == prodige7.systemic


def test_unsupported_technique_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        get_regimen("prodige7").for_technique("laparoscopic")
    assert caught.value.field == "technique"
    assert caught.value.message == "regimen 'prodige7' supports open, closed, got 'laparoscopic'"


def test_unknown_technique_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="must be one of open, closed, laparoscopic"):
        get_regimen("dutch-mmc").for_technique("coliseum")


def test_main_technique_resolves_to_itself() -> None:
    dutch = get_regimen("dutch-mmc")
    assert dutch.for_technique("open") is dutch
    assert dutch.for_technique(None) is dutch


def test_verified_figures_are_not_marked() -> None:
    # figures confirmed in the abstracts (see each file's header) must not be marked unverified
    assert not get_regimen("prodige7").is_unverified("doses[0].mg_per_m2")
    assert not get_regimen("prodige7").is_unverified("variants.closed.doses[0].mg_per_m2")
    assert not get_regimen("dutch-mmc").is_unverified("doses[0].schedule")
    assert not get_regimen("elias-oxaliplatin").is_unverified("flow")
    assert get_regimen("aspsm-mmc").is_unverified("doses[0].mg")
    assert get_regimen("mesothelioma-cisplatin-doxorubicin").is_unverified("doses[1].mg_per_l")


# -- user regimens -----------------------------------------------------------------------------


def _user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str = "mine") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    monkeypatch.setenv("HIPEC_REGIMEN_PATH", str(folder))
    return folder


def test_a_valid_user_regimen_appears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _user_dir(tmp_path, monkeypatch)
    shutil.copy(EXAMPLE / "example-dutch-mmc-capped.toml", folder)
    ids = [r.id for r in list_regimens()]
    assert "example-dutch-mmc-capped" in ids
    assert set(ids) >= REQUIRED_IDS
    assert get_regimen("example-dutch-mmc-capped").doses[0].cap_mg == 70.0
    assert regimen_source_file("example-dutch-mmc-capped") == (
        folder / "example-dutch-mmc-capped.toml"
    )


def test_user_regimen_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _user_dir(tmp_path, monkeypatch)
    regimen = load_regimen_file(BUILTIN_DIR / "aspsm-mmc.toml")
    data = regimen.model_dump_json().replace('"aspsm-mmc"', '"my-aspsm"')
    (folder / "mine.json").write_text(data, encoding="utf-8")
    assert get_regimen("my-aspsm").doses == regimen.doses


def test_a_malformed_user_regimen_is_one_line_naming_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _user_dir(tmp_path, monkeypatch)
    text = (EXAMPLE / "example-dutch-mmc-capped.toml").read_text(encoding="utf-8")
    (folder / "broken.toml").write_text(text.replace("mg_per_m2 = 35.0", "mg_per_m2 = -35.0"))
    with pytest.raises(InvalidInputError) as caught:
        list_regimens()
    assert caught.value.field == f"{folder / 'broken.toml'}: doses[0].mg_per_m2"
    assert "\n" not in str(caught.value)


def test_a_user_file_that_is_not_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _user_dir(tmp_path, monkeypatch)
    (folder / "bad.toml").write_text("id = \n")
    with pytest.raises(InvalidInputError, match=r"bad\.toml: is not valid TOML"):
        get_regimen("dutch-mmc")


def test_an_id_clash_with_a_builtin_names_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _user_dir(tmp_path, monkeypatch)
    shutil.copy(BUILTIN_DIR / "dutch-mmc.toml", folder / "my-dutch.toml")
    with pytest.raises(InvalidInputError) as caught:
        list_regimens()
    message = str(caught.value)
    assert "regimen id 'dutch-mmc' is defined twice" in message
    assert str(BUILTIN_DIR / "dutch-mmc.toml") in message
    assert str(folder / "my-dutch.toml") in message


def test_an_id_clash_between_user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for folder in (first, second):
        shutil.copy(EXAMPLE / "example-dutch-mmc-capped.toml", folder / "x.toml")
    monkeypatch.setenv("HIPEC_REGIMEN_PATH", f"{first}{os.pathsep}{second}")
    with pytest.raises(InvalidInputError) as caught:
        get_regimen("prodige7")
    assert str(first / "x.toml") in str(caught.value)
    assert str(second / "x.toml") in str(caught.value)


def test_a_missing_user_folder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIPEC_REGIMEN_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(InvalidInputError) as caught:
        list_regimens()
    assert caught.value.field == "HIPEC_REGIMEN_PATH"


def test_other_files_in_a_user_folder_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _user_dir(tmp_path, monkeypatch)
    (folder / "README.md").write_text("my regimens")
    assert len(list_regimens()) == len(list(BUILTIN_DIR.glob("*.toml")))
