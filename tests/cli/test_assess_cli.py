from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cases"
CANDIDATE = str(EXAMPLES / "candidate-colorectal.toml")
REFUSAL = str(EXAMPLES / "refusal-extraperitoneal.json")
REVIEW = str(EXAMPLES / "review-appendix.toml")


@pytest.mark.parametrize(
    ("case_file", "rules", "decision", "problem_rules"),
    [
        (CANDIDATE, "default", "candidate", set()),
        (CANDIDATE, "prodige7", "candidate", set()),
        (
            REFUSAL,
            "default",
            "not a candidate",
            {
                "extraperitoneal-disease",
                "no-progression",
                "pci-colorectal",
                "complete-cytoreduction",
            },
        ),
        (
            REVIEW,
            "default",
            "needs team review",
            {
                "systemic-therapy-given",
                "pci-other-sites",
                "complete-cytoreduction-appendix",
                "albumin",
                "weight-loss",
            },
        ),
        (
            REVIEW,
            "prodige7",
            "not a candidate",
            {
                "p7-colorectal-primary",
                "p7-histology",
                "p7-pci",
                "p7-age-maximum",
                "p7-complete-cytoreduction",
                "p7-residual-under-1mm",
            },
        ),
    ],
)
def test_examples_as_json(
    hipec: Any, case_file: str, rules: str, decision: str, problem_rules: set[str]
) -> None:
    result = hipec("assess", case_file, "--rules", rules, "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert set(data) == {"decision", "rule_set", "case", "reasons"}
    assert data["decision"] == decision
    assert data["rule_set"] == rules
    problems = {r["rule"] for r in data["reasons"] if r["outcome"] in ("exclude", "review")}
    assert problems == problem_rules
    for reason in data["reasons"]:
        assert set(reason) == {
            "rule",
            "outcome",
            "field",
            "value",
            "operator",
            "threshold",
            "message",
            "source",
            "verified",
        }
        assert reason["outcome"] in ("met", "review", "exclude", "not applicable")
        assert reason["message"]


def test_pci_regions_are_normalised_in_the_output(hipec: Any) -> None:
    data = hipec("assess", CANDIDATE, "--json").json()
    assert data["case"]["pci"] == 8  # 2 + 1 + LS-2 (18 mm) + 2 + 1
    assert data["case"]["anticipated_cc"] == 0  # from "CC-0"


def test_readable_output_shows_decision_and_problems_first(hipec: Any) -> None:
    result = hipec("assess", REFUSAL)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "NOT A CANDIDATE" in out
    assert out.index("extraperitoneal-disease") < out.index("Criteria met")
    assert "EXCLUDE" in out
    assert "patient-education page on CRS + HIPEC (seeds)" in out
    assert result.stderr == ""


def test_readable_review(hipec: Any) -> None:
    result = hipec("assess", REVIEW)
    assert result.exit_code == 0
    assert "NEEDS TEAM REVIEW" in result.stdout
    assert "[verified: no]" in result.stdout


def test_custom_rule_file(hipec: Any, tmp_path: Path) -> None:
    rules = tmp_path / "strict.toml"
    rules.write_text(
        'name = "strict"\ndescription = "PCI under 6"\n[[rules]]\nid = "pci-6"\n'
        'description = "PCI under 6."\nfield = "pci"\noperator = "<"\nvalue = 6\n'
        'outcome = "exclude"\nsource = "our MDT"\nverified = false\n',
        encoding="utf-8",
    )
    data = hipec("assess", CANDIDATE, "--rules", str(rules), "--json").json()
    assert data["rule_set"] == "strict"
    assert data["decision"] == "not a candidate"
    assert [r["rule"] for r in data["reasons"]] == ["pci-6"]


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("broken.toml", 'primary_site = "colorectal"\npci = \n', ("broken.toml", "not valid TOML")),
        (
            "extra.toml",
            'primary_site = "colorectal"\necog = 1\n',
            ("extra.toml: ecog", "unknown field"),
        ),
        ("pci.toml", 'primary_site = "colorectal"\npci = 40\n', ("pci.toml: pci", "0-39")),
        (
            "ecog.json",
            json.dumps({"primary_site": "colorectal", "performance_status": 5}),
            ("ecog.json: performance_status", "0-4"),
        ),
        (
            "albumin.toml",
            'primary_site = "colorectal"\nalbumin_g_per_l = -2\n',
            ("albumin.toml: albumin_g_per_l", "10-70 g/L"),
        ),
        (
            "site.toml",
            'primary_site = "colon"\n',
            ("site.toml: primary_site", "colorectal"),
        ),
        ("case.txt", "primary_site = 'colorectal'\n", ("case.txt", ".toml or .json")),
    ],
)
def test_malformed_case_files_are_refused(
    hipec: Any, tmp_path: Path, name: str, text: str, expected: tuple[str, ...]
) -> None:
    # --json changes nothing about refusals: half the files are tried with it
    json_flag = ("--json",) if len(name) % 2 else ()
    hipec("assess", _write(tmp_path, name, text), *json_flag).assert_refused(*expected)


def test_missing_case_file_is_refused(hipec: Any, tmp_path: Path) -> None:
    hipec("assess", str(tmp_path / "nope.toml")).assert_refused("nope.toml", "no such file")


def test_malformed_rule_file_is_refused(hipec: Any, tmp_path: Path) -> None:
    rules = _write(
        tmp_path,
        "bad-rules.toml",
        'name = "bad"\ndescription = "x"\n[[rules]]\nid = "pci-limit"\ndescription = "x"\n'
        'field = "pci"\noperator = "=<"\nvalue = 20\noutcome = "exclude"\nsource = "x"\n'
        "verified = false\n",
    )
    hipec("assess", CANDIDATE, "--rules", rules, "--json").assert_refused(
        "bad-rules.toml: rule 'pci-limit' operator",
        "'<='",
    )


def test_unknown_rule_set_is_refused(hipec: Any) -> None:
    hipec("assess", CANDIDATE, "--rules", "strict").assert_refused("rules", "default, prodige7")


def test_missing_argument_is_a_usage_error(hipec: Any) -> None:
    result = hipec("assess")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "CASE_FILE" in result.stderr
    assert "Traceback" not in result.stderr
