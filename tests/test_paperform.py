"""Paper-form tables, figures and the compiled preview, checked for content on a fabricated study: the rows
and headings each table declares, the series and error bars each figure draws, and that LaTeX compiles."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.ticker import MaxNLocator

from iqa.core import layout
from iqa.study import catalogue

from iqa.results import document

from iqa.results import figures

from iqa.results import paperform

from iqa.results import tables
from iqa.results.plotstyle import close, style
from iqa.results.aggregate import add_holm, aggregate
from iqa.results.audit import audit
from iqa.results.runs import load_runs, load_scores
from iqa.study.spec import expand
from test_tables import fabricated_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The fabricated study aggregated once: (config, results folder, builder, built tables)."""
    cfg, _, results = fabricated_study(tmp_path_factory.mktemp("paper"))
    aggregate(cfg, results)
    s = expand(cfg)
    runs = load_runs(s, results, {})
    b = tables.Builder(s, cfg, runs, results, load_scores(cfg, s, results, runs))
    built = {spec.name: getattr(tables, spec.build)(spec, b) for spec in catalogue.tables(cfg)}
    for t in built.values():
        add_holm(t)
    return cfg, results, b, built


def paper(results, name):
    return json.loads((results / "tables" / f"{name}.provenance.json").read_text())["paper"]


def rows_of(p):
    return list(dict.fromkeys(k.split("|")[0] for k in p["cells"]))


def test_every_paper_form_has_at_most_8_columns_and_both_files(study):
    cfg, results, _, _ = study
    for t in catalogue.tables(cfg):
        p = paper(results, t.name)
        assert 2 <= len(p["headings"]) <= paperform.MAX_COLUMNS, (t.name, p["headings"])
        tex = (results / "tables" / f"{t.name}.paper.tex").read_text()
        md = (results / "tables" / f"{t.name}.paper.md").read_text()
        assert "\\toprule" in tex and "\\bottomrule" in tex
        assert f"\\caption{{{paperform.tex(t.caption)}}}" in tex
        assert md.splitlines()[2] == "| " + " | ".join(p["headings"]) + " |"
        assert "\\cite" not in md and "\\cite" not in (results / "tables" / f"{t.name}.md").read_text()
        for note in p["notes"]:  # notes once, under the table, not per row
            assert md.count(note) == 1


def test_ablation_in_the_seed_layout_reads_the_full_record(study):
    cfg, results, _, _ = study
    p = paper(results, "ablation")
    assert p["headings"] == ["Configuration", "Model", "AFA", "Attention", "SRCC", "PLCC",
                             "Δ SRCC vs previous [95% CI]"]
    assert rows_of(p) == cfg["tables"]["ablation"]
    record = pd.read_csv(results / "tables" / "ablation.csv", index_col="row")
    assert p["cells"]["C3|SRCC"]["text"] == f"{record.loc['C3', 'srcc_median']:.4f}"
    assert [p["cells"][f"{e}|AFA"]["text"] for e in ("C0", "C1", "C2", "C3")] == ["--", "×", "✓", "✓"]
    d, lo, hi = record.loc["C3", ["srcc_delta_vs_prev", "srcc_ci_low_vs_prev", "srcc_ci_high_vs_prev"]]
    step = p["cells"]["C3|Δ SRCC vs previous [95% CI]"]["text"]
    assert step.startswith(paperform.signed(d, 4))
    assert paperform.signed(lo, 4) in step and paperform.signed(hi, 4) in step
    assert ("†" in step) == (record.loc["C3", "p_holm_vs_prev"] < paperform.SIGNIFICANT)


def test_comparison_sota_contributions_and_complexity_rows(study):
    cfg, results, b, _ = study
    assert rows_of(paper(results, "loss")) == cfg["tables"]["loss"]
    assert "Δ SRCC vs C3 [95% CI]" in paper(results, "loss")["headings"]
    sota = paper(results, "sota")
    assert sota["headings"] == ["Method", "Backbone", "SRCC", "PLCC"]
    # the demo's runs are synthetic: measured rows stand beside the published ones only as n/a
    assert [sota["cells"][f"{e}|SRCC"]["text"] for e in cfg["sota"]["measured"]] == ["n/a", "n/a"]
    assert sota["cells"]["LIQE|SRCC"]["text"] == "0.930"
    sota_md = (results / "tables" / "sota.paper.md").read_text()
    assert sota_md.index("*CNN-based") < sota_md.index("| WaDIQaM") < sota_md.index("*Transformer-based")
    cd = paper(results, "cross_dataset")  # the seed's layout: datasets as rows, SRCC and PLCC per model
    first, other = cfg["cross_dataset"]["experiments"]
    assert cd["headings"] == ["Dataset", f"{first} SRCC", f"{first} PLCC", f"{other} SRCC", f"{other} PLCC",
                              f"Δ SRCC {other} − {first} [95% CI]"]
    assert rows_of(cd) == list(cfg["cross_dataset"]["datasets"])
    contrib = (results / "tables" / "contributions.paper.md").read_text()
    groups = [t for _, t in paperform.CONTRIBUTION_GROUPS]
    assert [contrib.index(f"*{g}*") for g in groups] == sorted(contrib.index(f"*{g}*") for g in groups)
    cx = paper(results, "complexity")
    first, second = cfg["complexity"]["experiments"][:2]
    measured = {e: json.loads((results / "complexity" / f"{e}.json").read_text()) for e in (first, second)}
    ratio = measured[second]["throughput_images_per_s"] / measured[first]["throughput_images_per_s"]
    assert cx["cells"][f"{second}|Throughput vs {first}"]["text"] == f"{ratio:.2f}"
    speedup = measured[first]["latency_ms"] / measured[second]["latency_ms"]
    assert cx["cells"][f"{second}|Latency speed-up vs {first}"]["text"] == f"{speedup:.2f}"
    assert sum("All rows:" in n for n in cx["notes"]) == 1  # the measuring conditions, once


def test_audit_traces_a_paper_cell_and_names_an_edited_paper_file(study, tmp_path):
    cfg, results, _, _ = study
    text, ok = audit(results / "tables" / "ablation.paper.tex", "C3", "Δ SRCC vs previous [95% CI]")
    assert ok, text
    assert "srcc_delta_vs_prev" in text and "recomputed from predictions.csv" in text
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    tex = copy / "tables" / "ablation.paper.tex"
    tex.write_text(tex.read_text().replace("C3 &", "C3* &"))
    text, ok = audit(tex, "C3", "SRCC")
    assert not ok and "PUBLISHED FILE CHANGED" in text


def test_each_output_has_its_own_caption_for_the_report(study):
    cfg, results, _, _ = study
    for kind, outputs in (("tables", catalogue.tables(cfg)), ("figures", catalogue.figures(cfg))):
        for o in outputs:
            assert o.caption in layout.caption_file(results, kind, o.name).read_text()


# --- figures: what is drawn, read back from the matplotlib objects -------------------------------------


def drawn(name, study):
    cfg, _, b, built = study
    spec = next(f for f in catalogue.figures(cfg) if f.name == name)
    with style():
        return getattr(figures, spec.build)(spec, b, built)


def errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def has_identity_line(ax):
    return any(len(line.get_xdata()) == 2 and np.allclose(line.get_xdata(), line.get_ydata())
               for line in ax.get_lines())


def test_ablation_figure_plots_each_steps_paired_delta_with_its_ci(study):
    cfg, _, _, built = study
    fig = drawn("ablation_waterfall", study)
    srcc, plcc = fig.axes[:2]
    rows = cfg["tables"]["ablation"]
    for ax in (srcc, plcc):
        (bars,) = errorbars(ax)
        assert bars.has_xerr and len(bars.lines[0].get_xdata()) == len(rows) - 1
        assert [t.get_text() for t in ax.get_yticklabels()] == [f"{a} -> {b}" for a, b in zip(rows, rows[1:])]
    record = built["ablation"].frame()
    assert np.allclose(errorbars(srcc)[0].lines[0].get_xdata(), record.loc[rows[1:], "srcc_delta_vs_prev"])
    assert srcc.get_legend() is not None and plcc.get_legend() is not None
    close(fig)


def test_loss_and_prediction_scatters_have_identity_lines_and_legends(study):
    cfg, _, _, _ = study
    fig = drawn("loss_comparison", study)
    deltas, scatter = fig.axes[:2]
    assert len(errorbars(deltas)) == 2  # SRCC and PLCC, each with its CI
    assert [len(c.lines[0].get_xdata()) for c in errorbars(deltas)] == [len(cfg["tables"]["loss"]) - 1] * 2
    assert has_identity_line(scatter)
    labels = [t.get_text() for t in scatter.get_legend().get_texts()]
    assert labels[:len(cfg["tables"]["loss"])] == cfg["tables"]["loss"]
    close(fig)
    fig = drawn("pred_vs_mos", study)
    assert has_identity_line(fig.axes[0]) and fig.axes[0].get_legend() is not None
    close(fig)


def test_lr_on_a_log_axis_and_epochs_on_integer_ticks(study):
    fig = drawn("lr_sweep", study)
    assert all(ax.get_xscale() == "log" for ax in fig.axes[:2])
    (bars,) = errorbars(fig.axes[1])
    assert bars.has_yerr
    close(fig)
    fig = drawn("training_curves", study)
    for ax in fig.axes[:2]:
        locator = ax.xaxis.get_major_locator()
        assert isinstance(locator, MaxNLocator) and locator._integer
    close(fig)


def test_contributions_are_separated_by_kind(study):
    fig = drawn("contributions", study)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == [t for _, t in figures.CONTRIBUTION_GROUPS]
    assert all(len(errorbars(ax)) == 1 and errorbars(ax)[0].has_xerr for ax in fig.axes)
    close(fig)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex (.ci/run installs TeX Live)")
def test_the_paper_compiles_with_every_table_figure_and_number(study):
    cfg, results, _, _ = study
    document.build(cfg, results)
    assert (results / "paper.pdf").read_bytes()[:5] == b"%PDF-"
    log = (results / "paper" / "paper.log").read_text(errors="replace")
    assert "undefined" not in log, [line for line in log.splitlines() if "undefined" in line]
    tex = (results / "paper" / "paper.tex").read_text()
    for t in catalogue.tables(cfg):
        assert f"\\input{{../tables/{t.name}.paper.tex}}" in tex
    for f in catalogue.figures(cfg):
        assert f"{f.name}.pdf}}" in tex and f"\\caption{{{paperform.tex(f.caption)}}}" in tex
    numbers = json.loads((results / "numbers.json").read_text())
    assert all(f"\\{name}{{}}" in tex for name in numbers)
