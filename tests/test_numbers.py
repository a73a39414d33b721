import json
import math
import re
import shutil
import subprocess

import pytest

from iqa.study.catalogue import Output
from iqa.cli import main
from iqa.core.errors import DataError
from iqa.results.quoted import camel, collect, column_name, format_number
from iqa.results.tables import Table

from fake_runs import small_study, write_study_runs


@pytest.mark.parametrize("text, name", [
    ("C3", "CThree"), ("C3_rerun", "CThreeRerun"), ("lr=3e-05", "LrThreeEZeroFive"),
    ("r2_rank0.3", "RTwoRankZeroPointThree"), ("AdamW + cosine", "AdamWPlusCosine"), ("A/A rerun", "AARerun"),
    ("C10", "COneZero"), ("ablation", "Ablation"),
])
def test_names_are_letters_only_with_digits_spelled(text, name):
    assert camel(text) == name and name.isalpha()


def test_column_names():
    assert column_name("srcc_median") == "SRCCMedian"
    assert column_name("srcc_ci_low_x100") == "SRCCCILowPoints"
    assert column_name("p_x100", scaled=False) == "P"
    assert column_name("p_holm") == "PHolm"


@pytest.mark.parametrize("stat, value, metric, text", [
    ("median", 0.93781, "srcc", "0.9378"), ("delta", 0.0123, "srcc", "+0.0123"),
    ("ci_low", -0.004, "srcc", "\\ensuremath{-}0.0040"), ("p", 0.5, "srcc", "0.500"),
    ("holm", 1.0, None, "1.00"),
    ("p", 0.012345, "srcc", "0.0123"), ("p", 1.2345e-5, "srcc", "\\ensuremath{1.23\\times10^{-5}}"),
    ("count", 10, None, "10"), ("gain", 3.1849, "srcc", "+3.18"), ("mean", 90.48213, "parameters", "90.48"),
    ("delta", math.nan, "srcc", "--"),
])
def test_number_text(stat, value, metric, text):
    assert format_number(stat, value, metric) == text


def comparison(name, rows):
    t = Table(name, name)
    for row, value in rows.items():
        t.put(row, "srcc_median", value, ["r"], "median", "srcc")
    return Output(name, name, "comparison", f"tables.{name}"), t


def test_an_experiment_in_two_tables_is_one_macro_and_gains_are_relative_to_the_first_row():
    rows = {"C0": 0.8, "C3": 0.9}
    specs, built = zip(comparison("main", rows), comparison("ablation", rows))
    numbers = collect(specs, {t.name: t for t in built})
    assert numbers["CThreeSRCCMedian"].table == "main"
    assert numbers["AblationCThreeVsCZeroSRCCMedianGainPercent"].text == "+12.50"


def test_two_cells_under_one_name_stop_with_both_named():
    spec, t = comparison("main", {"C3_rerun": 0.9, "C3-rerun": 0.8})
    with pytest.raises(DataError, match=r"CThreeRerunSRCCMedian.*'C3_rerun'.*'C3-rerun'"):
        collect([spec], {"main": t})


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from iqa.results.aggregate import aggregate

    results = tmp_path_factory.mktemp("numbers") / "results"
    write_study_runs(small_study(), results)
    aggregate(small_study(), results)
    return results


MACROS = ("CThreeSRCCMedian", "AblationCThreeVsCZeroSRCCDelta", "AblationCThreeVsCZeroPHolm",
          "ContributionsMultiscaleSRCCDeltaPoints", "MainCThreeVsCZeroSRCCMedianGainPercent",
          "ControlsShuffledLabelsSRCCCIHigh", "LrSweepZeroPointZeroZeroZeroOneVsCThreeP")


@pytest.mark.slow
def test_every_macro_in_the_tex_file_is_in_the_json_with_its_cell(results):
    entries = json.loads((results / "numbers.json").read_text())
    tex = (results / "numbers.tex").read_text()
    line = r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}  % table (\S+), row (.+?), column ([^\s,]+)"
    defined = re.findall(line, tex, re.M)
    assert len(defined) == len(entries) > 100
    for name, text, table, row, column in defined:
        e = entries[name]
        assert (e["text"], e["table"], e["column"]) == (text, table, column) and row == e["row"]
        cells = json.loads((results / "tables" / f"{table}.provenance.json").read_text())["cells"]
        assert f"{e['row']}|{column}" in cells
    assert set(MACROS) <= set(entries)


@pytest.mark.slow
@pytest.mark.parametrize("macro", MACROS)
def test_audit_traces_a_macro_to_its_cell(results, macro, capsys):
    assert main(["audit", str(results / "numbers.tex"), "\\" + macro]) == 0
    out = capsys.readouterr().out
    recomputed = "recomputed from predictions.csv"  # Holm p too: over every published raw p
    assert recomputed in out and out.rstrip().endswith("matches")
    assert main(["audit", "\\" + macro, "--results", str(results)]) == 0


@pytest.mark.slow
def test_audit_of_a_macro_notices_an_edited_tex_file_or_prediction(results, tmp_path, capsys):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    tex = copy / "numbers.tex"
    macro = "\\newcommand{\\CThreeSRCCMedian}{"
    tex.write_text(tex.read_text().replace(macro + "0.", macro + "1."))
    assert main(["audit", str(tex), "\\CThreeSRCCMedian"]) == 1
    assert "TEX CHANGED" in capsys.readouterr().out
    e = json.loads((copy / "numbers.json").read_text())["MainCThreeVsCZeroSRCCDelta"]
    cells = json.loads((copy / "tables" / "main.provenance.json").read_text())["cells"]
    run = cells["C3|srcc_delta_vs_C0"]["runs"][0]
    pred = copy / "runs" / run / "predictions.csv"
    pred.write_text(pred.read_text() + "\n")  # the same numbers, other bytes
    assert main(["audit", str(tex), "\\MainCThreeVsCZeroSRCCDelta"]) == 1
    assert "TAMPERED" in capsys.readouterr().out and e["text"].startswith("+")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on this machine")
def test_a_latex_document_using_every_macro_compiles(results, tmp_path):
    names = json.loads((results / "numbers.json").read_text())
    body = "\n".join(f"{name}: \\{name}{{}} (and in math: $\\{name}$)\\par" for name in names)
    doc = (f"\\documentclass{{article}}\n\\input{{{results / 'numbers.tex'}}}\n"
           f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    (tmp_path / "paper.tex").write_text(doc)
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000
    assert "Undefined control sequence" not in r.stdout and "Missing $" not in r.stdout
