import json

from iqa.tables import Table


def test_table_files_keep_small_settings_and_trace_every_cell(tmp_path):
    t = Table("lr_sweep", "Learning rates")
    t.put("3e-05", "splits", 3, ["a", "b", "c"], "count")
    t.put("3e-05", "srcc_median", 0.123456, ["a", "b", "c"], "median", "srcc")
    t.put("3e-05", "lr_head", 3e-5, ["a"], "value")
    t.put("0.001", "srcc_median", float("nan"), [], "median", "srcc")
    t.notes.append("run x is missing")
    t.write(tmp_path)
    md = (tmp_path / "lr_sweep.md").read_text()
    row = [c.strip() for c in next(line for line in md.splitlines() if line.startswith("| 3e-05")).split("|")]
    assert row[1:5] == ["3e-05", "3", "0.1235", "3e-05"]  # lr not rounded to 0.0000, count not 3.0000
    assert "--" in md and "run x is missing" in md
    tex = (tmp_path / "lr_sweep.tex").read_text()
    assert "\\toprule" in tex and "3e-05" in tex and "0.1235" in tex
    sidecar = json.loads((tmp_path / "lr_sweep.provenance.json").read_text())
    assert sidecar["cells"]["3e-05|srcc_median"]["runs"] == ["a", "b", "c"]
    assert (tmp_path / "lr_sweep.csv").read_text().splitlines()[0].startswith("row,")
