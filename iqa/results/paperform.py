"""Paper-form tables: each table as a paper prints it, beside its full record (`iqa.results.tables`).

The full record (`<table>.csv`, every column) is for audit and reuse; the paper form
(`<table>.paper.tex`, booktabs, and its Markdown twin `<table>.paper.md`) has the rows and headings of
the seed paper's corresponding table where it has one (ablation: Configuration | AFA | Attention | SRCC
| PLCC; state of the art grouped by family; cross-dataset; loss functions), at most 8 columns, human
headings, one number format per quantity, and the notes once, under the table.

Every paper cell is read from full-record cells, never recomputed: the sidecar `<table>.provenance.json`
gets a `paper` section mapping each paper cell to those cells, so `iqa audit <table>.paper.tex ROW
HEADING` audits them.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from iqa.core import layout
from iqa.core.registry import Registry
from iqa.core.vocab import INTERVAL_STATS, TABLE_METRICS, Metric, Stat, TableBuild, cell_key
from iqa.training.record import sha256_file
from iqa.study.spec import synthetic_datasets
from iqa.stats.claim import CLAIMS, delta_note
from iqa.results.tables import QUOTED_NOTE, Table, _tex_escape

SIGNIFICANT = 0.05  # Holm-adjusted p below this earns the mark
RUN_STATUS = re.compile(r"split \d+: run \S+ is ")  # the record's note on one run that is not ok
VERSIONS_NOTE = "runs from different code versions"
MARK = "†"
MAX_COLUMNS = 8
PAPER_FORMS = Registry("paper form")  # TableBuild name -> function(spec, full-record Table, Builder)
paper_form = PAPER_FORMS.register
LATEX_PACKAGES = ("booktabs", "amssymb", "adjustbox")
# Unicode a cell may hold, as LaTeX (text mode; \checkmark needs amssymb)
TEX_GLYPHS = {"−": "$-$", "†": "$^{\\dagger}$", "±": "$\\pm$", "✓": "$\\checkmark$", "×": "$\\times$",
              "Δ": "$\\Delta$", "→": "$\\rightarrow$", "<": "$<$", ">": "$>$"}


def tex(text: str) -> str:
    """Plain cell text as LaTeX: specials escaped, then the glyphs above."""
    out = _tex_escape(str(text))
    for glyph, latex in TEX_GLYPHS.items():
        out = out.replace(glyph, latex)
    return out


@dataclass
class Cell:
    text: str  # as Markdown shows it
    sources: list[str] = field(default_factory=list)  # full-record cells "row|column" it is read from
    latex: str | None = None  # when it differs from tex(text), e.g. a \cite

    def tex(self) -> str:
        return self.latex if self.latex is not None else tex(self.text)


@dataclass
class PaperTable:
    name: str
    caption: str
    headings: list[str]
    align: str = ""  # LaTeX column spec; default: first column left, the rest right
    lines: list = field(default_factory=list)  # ("group", title) or ("row", [Cell, ...])
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if len(self.headings) > MAX_COLUMNS:
            raise ValueError(f"{self.name}: {len(self.headings)} columns; a paper table has at most "
                             f"{MAX_COLUMNS}")
        self.align = self.align or "l" + "r" * (len(self.headings) - 1)

    def group(self, title: str) -> None:
        self.lines.append(("group", title))

    def add(self, cells: list) -> None:
        cells = [c if isinstance(c, Cell) else Cell(str(c)) for c in cells]
        assert len(cells) == len(self.headings), (self.name, [c.text for c in cells], self.headings)
        self.lines.append(("row", cells))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def rows(self) -> dict[str, list[Cell]]:
        return {cells[0].text: cells for kind, cells in self.lines if kind == "row"}

    def markdown(self) -> str:
        def line(items):
            return "| " + " | ".join(items) + " |"

        out = [f"**{self.caption}**", "", line(self.headings),
               line([{"l": ":--", "c": ":-:", "r": "--:"}.get(a, ":--") for a in _columns(self.align)])]
        for kind, item in self.lines:
            out.append(line([f"*{item}*"] + [""] * (len(self.headings) - 1)) if kind == "group"
                       else line([c.text.replace("|", "\\|") for c in item]))
        return "\n".join(out + [""] + [f"- {n}" for n in self.notes] + [""])

    def latex(self) -> str:
        n = len(self.headings)
        body = []
        for kind, item in self.lines:
            if kind == "group":
                if body:
                    body.append("\\midrule")
                body.append(f"\\multicolumn{{{n}}}{{l}}{{\\textit{{{tex(item)}}}}} \\\\")
            else:
                body.append(" & ".join(c.tex() for c in item) + " \\\\")
        notes = " ".join(tex(x) for x in self.notes)
        return "\n".join([
            f"% {self.name}: paper form of {self.name}.csv; needs \\usepackage{{{','.join(LATEX_PACKAGES)}}}",
            "\\begin{table}[htbp]", "\\centering", f"\\caption{{{tex(self.caption)}}}",
            f"\\label{{tab:{self.name}}}", "\\small",
            "\\begin{adjustbox}{max width=\\linewidth}",  # shrinks only a table wider than the text
            f"\\begin{{tabular}}{{{self.align}}}", "\\toprule",
            " & ".join(tex(h) for h in self.headings) + " \\\\", "\\midrule", *body, "\\bottomrule",
            "\\end{tabular}", "\\end{adjustbox}",
            f"\\par\\smallskip\\noindent\\parbox{{\\linewidth}}{{\\footnotesize {notes}}}" if notes else "",
            "\\end{table}", ""])

    def write(self, out: Path) -> dict:
        """`<name>.paper.tex` and `.paper.md`; returns the sidecar's `paper` section."""
        (out / f"{self.name}.{layout.PAPER_TEX}").write_text(self.latex())
        (out / f"{self.name}.{layout.PAPER_MD}").write_text(self.markdown())
        cells = {cell_key(cells[0].text, h): {"text": c.text, "from": c.sources}
                 for kind, cells in self.lines if kind == "row" for h, c in zip(self.headings, cells)}
        return {"caption": self.caption, "headings": self.headings, "notes": self.notes, "cells": cells,
                "files": {ext: sha256_file(out / f"{self.name}.{ext}") for ext in layout.PAPER_FILES}}


def _columns(align: str) -> list[str]:
    return re.findall(r"p\{[^}]*\}|[lrc]", align)


# --- number formats: one per quantity ---------------------------------------------------------------


def _get(t: Table, row: str, col: str):
    v = t.rows.get(row, {}).get(col)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def signed(v: float, decimals: int) -> str:
    return f"{'−' if v < 0 else '+'}{abs(v):.{decimals}f}"


def number(t: Table, row: str, col: str, decimals: int = 4) -> Cell:
    """A metric (SRCC, PLCC: 4 decimals), a cost, or -- when the record has none."""
    v = _get(t, row, col)
    return Cell("--" if v is None else f"{v:.{decimals}f}".replace("-", "−"), [cell_key(row, col)])


def rate(t: Table, row: str, col: str) -> Cell:
    """A learning rate: 3 significant digits in scientific notation (0.0000 would hide it)."""
    v = _get(t, row, col)
    return Cell("--" if v is None else f"{v:.2e}", [cell_key(row, col)])


def delta(t: Table, row: str, suffix: str = "", unit: str = "", decimals: int = 4,
          metric: str = Metric.SRCC) -> Cell:
    """Paired delta with its 95% CI, marked when its Holm-adjusted p is below SIGNIFICANT:
    `+0.0123 [−0.0040, +0.0280]†`."""
    cols = [f"{metric}_{s}{unit}{suffix}" for s in INTERVAL_STATS] + [f"p_holm{suffix}"]
    d, lo, hi, p = (_get(t, row, c) for c in cols)
    pairs = _get(t, row, f"pairs{suffix}")
    sources = [cell_key(row, c) for c in cols if c in t.rows.get(row, {})]
    if d is None:
        return Cell("--", sources)
    if lo is None or hi is None:  # no CI: fewer than 2 pairs, or the same difference on every split
        why = f"same on all {pairs} splits" if pairs and pairs >= 2 else "one split: no CI"
        return Cell(f"{signed(d, decimals)} ({why})", sources + [cell_key(row, f"pairs{suffix}")])
    mark = MARK if p is not None and p < SIGNIFICANT else ""
    return Cell(f"{signed(d, decimals)} [{signed(lo, decimals)}, {signed(hi, decimals)}]{mark}", sources)


def mark_note(t: Table) -> str:
    family = next((c.get("family_size") for c in t.provenance.values() if c["stat"] == Stat.HOLM), None)
    over = f"over the {family} comparisons of this table" if family else "over the table's comparisons"
    claim = next((c["claim"] for c in t.provenance.values() if c.get("claim")), "dataset")
    method = {"dataset": "paired t; claim: this dataset's images",
              "population": "paired t with the image pool's own variance; claim: new images from the same "
                            "population"}[claim]
    return (f"Δ: paired difference, mean over the splits both rows finished, with its 95% CI ({method}); "
            f"{MARK}: Holm-adjusted p < {SIGNIFICANT} {over}.")


def _record_notes(p: PaperTable, t: Table, skip: tuple[str, ...] = ()) -> None:
    """The full record's notes that still apply to the paper form (missing runs, code versions, ...);
    those the paper form says in its own words (`skip`: their openings) stay in the record."""
    flagged = [n for n in t.notes if RUN_STATUS.search(n)]
    versions = [n for n in t.notes if n.startswith(VERSIONS_NOTE)]
    for n in t.notes:
        deltas = [delta_note(c) for c in CLAIMS]  # said by `mark_note` in the paper form's words
        if n not in (*deltas, QUOTED_NOTE, *flagged, *versions) and not n.startswith(("p_holm:",) + skip):
            p.note(n)
    # run lists belong to the record; the paper form says that they exist
    if flagged:
        p.note(f"{len(flagged)} run(s) are not clean (dirty tree, stale or missing): listed in {t.name}.md.")
    if versions:
        p.note(f"The runs come from more than one code version or environment: listed in {t.name}.md.")
    p.note(f"Every column and p value: {t.name}.csv.")


def _median_note(b, rows) -> str:
    splits = sorted({len(b.split_runs(e)) for e in rows if e in b.study.cells})
    return f"SRCC, PLCC: test set, median over {'/'.join(map(str, splits)) or 'no'} splits."


# --- row descriptions ---------------------------------------------------------------------------------

BACKBONES = {"hyperiqa_resnet50": "ResNet-50", "swin_hyperiqa": "Swin"}
METHODS = {"hyperiqa_resnet50": "HyperIQA", "swin_hyperiqa": "Swin-HyperIQA"}


def model_of(b, experiment: str) -> str:
    """`HyperIQA (ResNet-50, nano)`: the method and its backbone as the study ran it."""
    m = b.study.experiments[experiment].model
    return f"{METHODS.get(m.name, m.name)} ({BACKBONES.get(m.name, m.name)}, {m.size})"


def _flag(b, experiment: str, key: str) -> str:
    m = b.study.experiments[experiment].model
    if m.name != "swin_hyperiqa":
        return "--"  # the ResNet baseline has neither module
    return "✓" if getattr(m, key) else "×"


def _quoted(b, rows) -> bool:
    return any(((b.cfg.get("reported") or {}).get(e) or {}).get(Metric.SRCC) is not None for e in rows)


# --- one form per kind of table -------------------------------------------------------------------------


@paper_form(TableBuild.COMPARISON)
def comparison(spec, t: Table, b) -> PaperTable:
    rows = list(t.rows)
    first = rows[0] if rows else ""
    models = len({model_of(b, e) for e in rows}) > 1
    cost = any("params_m" in t.rows[e] for e in rows)
    quoted = _quoted(b, rows)
    headings = (["Configuration"] + (["Model"] if models else [])
                + ["SRCC", "PLCC", f"Δ SRCC vs {first} [95% CI]"]
                + (["SRCC (seed, quoted)"] if quoted else [])
                + (["Params (M)", "GFLOPs/patch"] if cost else []))
    p = PaperTable(spec.name, spec.caption, headings,
                   "l" + ("l" if models else "") + "r" * (len(headings) - 1 - models))
    for e in rows:
        cells = [e] + ([model_of(b, e)] if models else [])
        cells += [number(t, e, "srcc_median"), number(t, e, "plcc_median"),
                  delta(t, e, f"_vs_{first}") if e != first else "--"]
        cells += [number(t, e, "quoted_srcc")] if quoted else []
        cells += [number(t, e, "params_m", 2), number(t, e, "gflops", 3)] if cost else []
        p.add(cells)
    p.note(_median_note(b, rows))
    p.note(mark_note(t))
    if quoted:
        p.note("Seed (quoted): the number the seed study reported, one split selected on test; never "
               "measured here.")
    if cost:
        p.note("Params: parameters in millions; GFLOPs per input patch.")
    _record_notes(p, t)
    return p


@paper_form(TableBuild.PRECISION)
def precision(spec, t: Table, b) -> PaperTable:
    """The comparison's columns, plus the TOST p that each precision is equivalent to the first row's."""
    p = comparison(spec, t, b)
    first = next(iter(t.rows), "")
    p.headings = p.headings + [f"TOST p vs {first}"]
    p.align += "r"
    for line, e in zip([ln for ln in p.lines if ln[0] == "row"], t.rows):
        v = _get(t, e, f"p_tost_vs_{first}")
        line[1].append(Cell("--" if v is None else f"{v:.4f}", [cell_key(e, f"p_tost_vs_{first}")]))
    return p


@paper_form(TableBuild.FORWARD_PATH)
def forward_path(spec, t: Table, b) -> PaperTable:
    rows = list(t.rows)
    headings = ["Configuration", "Model", "AFA", "Attention", "SRCC", "PLCC", "Δ SRCC vs previous [95% CI]"]
    p = PaperTable(spec.name, spec.caption, headings, "llccrrr")
    for i, e in enumerate(rows):
        p.add([e, model_of(b, e), _flag(b, e, "multiscale"), _flag(b, e, "attention_fusion"),
               number(t, e, "srcc_median"), number(t, e, "plcc_median"),
               delta(t, e, "_vs_prev") if i else "--"])
    p.note(_median_note(b, rows))
    p.note("AFA: multi-scale feature aggregation; Attention: scale attention over the stages; ✓ on, × off, "
           "-- not part of the model.")
    p.note(mark_note(t))
    _record_notes(p, t)
    return p


SETTINGS = {"train.lr": "Learning rate", "train.batch_size": "Batch size", "train.epochs": "Epochs",
            "train.weight_decay": "Weight decay", "model.size": "Backbone size"}


@paper_form(TableBuild.SWEEP)
def sweep(spec, t: Table, b) -> PaperTable:
    s = b.cfg["sweeps"][spec.arg]
    ref = s.get("of")
    headings = [SETTINGS.get(s["key"], s["key"]), "SRCC", "PLCC", "Validation SRCC"]
    headings += ([f"Δ SRCC vs {ref} [95% CI]"] if ref else []) + ["Chosen"]
    p = PaperTable(spec.name, spec.caption, headings, "l" + "r" * (len(headings) - 2) + "c")
    for row in t.rows:
        chosen = Cell("✓" if _get(t, row, "chosen") == "yes" else "", [cell_key(row, "chosen")])
        p.add([row, number(t, row, "srcc_median"), number(t, row, "plcc_median"),
               number(t, row, "val_srcc_median")]
              + ([delta(t, row, f"_vs_{ref}")] if ref else []) + [chosen])
    p.note("SRCC, PLCC, validation SRCC: median over splits. Chosen: the value with the best validation SRCC "
           "(never chosen on test).")
    if ref:
        p.note(mark_note(t))
    _record_notes(p, t)
    return p


@paper_form(TableBuild.CONTROLS)
def controls(spec, t: Table, b) -> PaperTable:
    p = PaperTable(spec.name, spec.caption, ["Control", "Compared", "Δ SRCC [95% CI]", "Expected", "Outcome"],
                   "llrll")
    for label, c in b.cfg["tables"]["controls"].items():
        p.add([label, f"{c['run']} vs {c['reference']}", delta(t, label),
               Cell(c["expect"], [cell_key(label, "expect")]),
               Cell(str(_get(t, label, "outcome")), [cell_key(label, "outcome")])])
    p.note(mark_note(t))
    _record_notes(p, t)
    return p


@paper_form(TableBuild.SELECTION_GAP)
def selection_gap(spec, t: Table, b) -> PaperTable:
    p = PaperTable(spec.name, spec.caption, ["Model", "SRCC, selected on validation",
                                             "SRCC, selected on test",
                                             "Gap, test − validation [95% CI]"])
    for val_exp, test_exp in b.cfg["tables"]["selection"].items():
        gap = f"gap {test_exp} - {val_exp}"
        p.add([val_exp, number(t, val_exp, "srcc_median"), number(t, test_exp, "srcc_median"), delta(t, gap)])
    p.note("SRCC: test set, median over splits; selected on test = the epoch with the best test SRCC (the "
           "seed's and the original's protocol), an optimistic number.")
    p.note(mark_note(t))
    selected = b.cfg["tables"]["selection"].values()
    _record_notes(p, t, skip=tuple(f"{e}: selected on the TEST set" for e in selected))
    return p


CONTRIBUTION_GROUPS = (("Shapley", "Shapley value of each component"), ("total", "Total"),
                       ("interaction", "Interaction"),
                       ("one at a time", "One at a time (full model vs one change)"))


@paper_form(TableBuild.CONTRIBUTIONS)
def contributions(spec, t: Table, b) -> PaperTable:
    p = PaperTable(spec.name, spec.caption, ["Component", "Δ SRCC ×100 [95% CI]", "Share of total"])
    for prefix, title in CONTRIBUTION_GROUPS:
        rows = [r for r in t.rows if str(_get(t, r, "kind") or "").startswith(prefix)]
        if rows:
            p.group(title)
        for r in rows:
            kind = str(_get(t, r, "kind"))
            label = f"{r} ({kind.split(': ', 1)[1]})" if kind.startswith("one at a time:") else r
            share = number(t, r, "share_of_total", 2) if "share_of_total" in t.rows[r] else Cell("")
            p.add([label, delta(t, r, unit="_x100", decimals=2), share])
    p.note("Δ SRCC ×100: change in test SRCC in points (×100), mean over splits.")
    p.note(mark_note(t))
    _record_notes(p, t)
    return p


@paper_form(TableBuild.CROSS_DATASET)
def cross_dataset(spec, t: Table, b) -> PaperTable:
    cd = b.cfg["cross_dataset"]
    exps = cd["experiments"]
    first = exps[0]
    # SRCC and PLCC per experiment as the seed's table has them; SRCC alone where both would not fit
    metrics = TABLE_METRICS if 3 * len(exps) <= MAX_COLUMNS else (Metric.SRCC,)
    headings = ["Dataset"] + [f"{e} {m.upper()}" for e in exps for m in metrics]
    headings += [f"Δ SRCC {e} − {first} [95% CI]" for e in exps[1:]]
    p = PaperTable(spec.name, spec.caption, headings)
    for name in cd["datasets"]:
        cells = [name] + [number(t, e, f"{name}_{m}_median") for e in exps for m in metrics]
        cells += [delta(t, e, f"_vs_{first}", metric=f"{name}_srcc") for e in exps[1:]]
        p.add(cells)
    p.note("Models trained on the study's data, scored on each dataset without retraining, each run with "
           "its test-crop protocol: median over splits; PLCC is raw Pearson (the scales differ).")
    p.note(mark_note(t))
    _record_notes(p, t, skip=("Scored without retraining",))
    return p


@paper_form(TableBuild.COMPLEXITY)
def complexity(spec, t: Table, b) -> PaperTable:
    rows = list(t.rows)
    first = b.cfg["complexity"]["experiments"][0]
    headings = ["Model", "Params (M)", "GFLOPs/patch", "Latency (ms)", f"Latency speed-up vs {first}",
                "Patches/s", f"Throughput vs {first}", "SRCC"]
    p = PaperTable(spec.name, spec.caption, headings)
    for e in rows:
        p.add([e, number(t, e, "params_m", 2), number(t, e, "gflops", 3), number(t, e, "latency_ms", 2),
               number(t, e, f"latency_speedup_vs_{first}", 2), number(t, e, "patches_per_s", 0),
               number(t, e, f"throughput_ratio_vs_{first}", 2), number(t, e, "srcc_median")])
    p.note(f"Latency: one patch at batch 1 (median); speed-up = {first}'s latency / the row's (above 1: "
           f"faster). Patches/s: throughput in batches; throughput vs {first} = the row's / {first}'s "
           "(above 1: faster). "
           "SRCC: test set, median over splits.")
    _record_notes(p, t)
    return p


@paper_form(TableBuild.SOTA)
def sota(spec, t: Table, b) -> PaperTable:
    p = PaperTable(spec.name, spec.caption, ["Method", "Backbone", "SRCC", "PLCC"], "llrr")
    synthetic = synthetic_datasets(b.cfg, b.study)
    measured = list(b.cfg["sota"].get("measured", []))
    published = [r for r in t.rows if r not in measured]
    for family in dict.fromkeys(str(_get(t, r, "family") or "Other") for r in published):
        p.group(f"{family}-based methods (published, quoted)")
        for r in [r for r in published if str(_get(t, r, "family") or "Other") == family]:
            cite = (t.provenance.get(cell_key(r, Metric.SRCC)) or {}).get("cite")
            p.add([Cell(r, [], f"{tex(r)} \\cite{{{cite}}}" if cite else None),
                   Cell(str(_get(t, r, "backbone") or ""), [cell_key(r, "backbone")]),
                   number(t, r, Metric.SRCC, 3), number(t, r, Metric.PLCC, 3)])
    comparable = [e for e in measured if b.study.experiments[e].data.root not in synthetic]
    if comparable:
        p.group("This study (measured on KonIQ-10k, median over splits)")
        for e in comparable:
            p.add([e, Cell(model_of(b, e), [cell_key(e, "backbone")]), *(number(t, e, m) for m in TABLE_METRICS)])
    others = [e for e in measured if e not in comparable]
    if others:
        roots = sorted({b.study.experiments[e].data.root for e in others})
        p.group("This study: not KonIQ-10k, no comparison")
        for e in others:
            p.add([e, Cell(model_of(b, e), [cell_key(e, "backbone")]), "n/a", "n/a"])
        p.note(f"n/a: {', '.join(others)} ran on synthetic data ({', '.join(roots)}), not KonIQ-10k, so the "
               f"comparison with the published rows does not apply; their numbers are in {t.name}.csv.")
    cites = {r: (t.provenance.get(cell_key(r, Metric.SRCC)) or {}).get("cite") for r in published}
    p.note("Published rows: the numbers their papers report on KonIQ-10k (each its own protocol and split), "
           "quoted as the seed paper's table gives them (3 decimals); they enter no statistic. Sources: "
           + ", ".join(f"{r} [{c}]" for r, c in cites.items() if c) + ".")
    _record_notes(p, t, skip=("Quoted rows are", "The measured rows come from synthetic"))
    return p


@paper_form(TableBuild.HYPERPARAMETERS)
def hyperparameters(spec, t: Table, b) -> PaperTable:
    """Settings as rows: the value most runs used, and the experiments that used another."""
    p = PaperTable(spec.name, spec.caption, ["Setting", "Value", "Experiments with another value"],
                   "llp{0.5\\linewidth}")
    keys = list(dict.fromkeys(k for cols in t.rows.values() for k in cols))
    for key in keys:
        values = {e: cols.get(key) for e, cols in t.rows.items()}
        shown = {e: _setting(v) for e, v in values.items()}
        common = max(set(shown.values()), key=list(shown.values()).count)
        others = {e: v for e, v in shown.items() if v != common}
        p.add([key, Cell(common, [cell_key(e, key) for e, v in shown.items() if v == common]),
               Cell("; ".join(f"{e}: {v}" for e, v in others.items()), [cell_key(e, key) for e in others])])
    p.note(f"Read back from the runs' own metrics.json (what ran, not the study file), {len(t.rows)} "
           "experiments.")
    _record_notes(p, t)
    return p


def _setting(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


HISTORY_HEADINGS = {"train_loss": "Training loss", "val_srcc": "Validation SRCC",
                    "val_plcc": "Validation PLCC",
                    "seconds": "Time (s)", "lr": "Learning rate", "lr_backbone": "LR (backbone)",
                    "lr_head": "LR (head)"}


@paper_form(TableBuild.TRAINING_LOG)
def training_log(spec, t: Table, b) -> PaperTable:
    cols = list(dict.fromkeys(c for cols in t.rows.values() for c in cols))[:MAX_COLUMNS - 1]
    p = PaperTable(spec.name, spec.caption, ["Epoch"] + [HISTORY_HEADINGS.get(c, c) for c in cols])
    for epoch in t.rows:
        p.add([epoch] + [number(t, epoch, c, 1 if c == "seconds" else 4) if not c.startswith("lr") else
                         rate(t, epoch, c) for c in cols])
    _record_notes(p, t)
    return p


def form(spec, t: Table, b) -> PaperTable:
    """The paper form of the full-record table `t` (built by `spec.build`)."""
    return PAPER_FORMS[spec.build](spec, t, b)


def write(spec, t: Table, b, out: Path) -> PaperTable:
    """Write `<name>.paper.{tex,md}` and add their cells and file hashes to the table's sidecar."""
    p = form(spec, t, b)
    sidecar = out / f"{t.name}.{layout.PROVENANCE}"
    side = json.loads(sidecar.read_text())
    side["paper"] = p.write(out)
    sidecar.write_text(json.dumps(side, indent=2, default=str))
    return p
