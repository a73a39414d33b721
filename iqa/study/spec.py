"""A study config (base run + named experiments + sweeps + splits) expanded into concrete runs.

    base:        a run config (any key of iqa/config.py)
    splits:      [0, 1, 2]  -> every experiment is run once per split (data.split_index and seed)
                 {adaptive: {k0: 3, step: 2, k_max: 10, margin: 0}}  -> splits 0 .. k_max - 1 declared, trained
                 K0 first and more only while a comparison is unresolved (`adaptive_splits`, iqa/study/adaptive.py)
    experiments: {C3: {}, C2: {of: C3, model: {attention_fusion: false}}, ...}
    sweeps:      {lr: {of: C3, key: train.lr, values: [1e-7, 5e-7]}}  -> experiments lr=1e-07, ...
    factorial:   {of: C3, factors: {multiscale: {model: {multiscale: false}}, ...}}
                 -> every on/off combination as an experiment (each factor's value is the override that
                 switches it OFF in `of`); combinations equal to declared experiments share their runs
    experiments may carry `reseed: N`: the same runs under seed split_index + N (an A/A control)

Runs whose resolved configs are identical are trained once: the run id is derived from the
config hash, and every experiment that resolves to it points at the same run.

    rehearsal:   {root, images, external_images, splits, run: {...}}  -> the same study at a toy scale
                 (`rehearse`): every experiment, table and job kind, fewer splits, generated data in each
                 dataset's release layout, and `run` (scale keys only) set on every run after inheritance
"""
from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from iqa import config as config_mod
from iqa.config import RunConfig
from iqa.stats.sequential import Schedule

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def load_study(paths) -> dict:
    """A study config read as plain YAML (`read_study`) and checked against the schema (`check_study`); from
    several files, each merged over the ones before as Snakemake merges its --configfile list
    (`config/koniq10k.yaml config/rehearsal.yaml`)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    study_cfg: dict = {}
    for path in paths:
        part = read_study(path)
        if not isinstance(part, dict):
            check_study(part, path)  # names the file whose top level is not a mapping
        study_cfg = config_mod.merge_dicts(study_cfg, part)
    check_study(study_cfg, " + ".join(map(str, paths)))
    return study_cfg


def read_study(path: str | Path):
    """A study file's YAML, safely (no tags that build Python objects); errors name the file, line and fix."""
    path = Path(path)
    if not path.is_file():
        raise config_mod.ConfigError(f"study config not found: {path}")
    text = path.read_text()
    try:
        study_cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark, lines = getattr(e, "problem_mark", None), text.splitlines()
        where = str(path)
        if mark is not None:
            where += f": line {mark.line + 1}"
            if mark.line < len(lines):
                where += f" ({lines[mark.line].strip()!r})"
        if isinstance(e, yaml.constructor.ConstructorError) and e.problem and "tag" in e.problem:
            raise config_mod.ConfigError(f"{where}: a YAML tag that builds Python objects is not allowed; "
                                         f"remove the tag (a study config holds plain values)") from None
        problem = " ".join(str(e.problem or e).split())  # one line
        raise config_mod.ConfigError(f"{where}: not valid YAML ({problem}); fix the syntax there") from None
    return study_cfg


def check_study(study_cfg, where: str | Path) -> None:
    """The study's top-level layout against workflow/schemas/config.schema.yaml (the schema Snakemake
    validates with), the first problem as one line naming the key and the fix.

    Needs jsonschema (installed with Snakemake, the `workflow` extra) and the schema file of a checkout;
    without them only the experiments' run configs are checked (by `expand`)."""
    if not isinstance(study_cfg, dict):
        raise config_mod.ConfigError(f"{where}: a study config is a mapping of keys (base, splits, "
                                     f"experiments, ...), got {type(study_cfg).__name__}")
    try:  # before the schema: its message for a bad `oneOf` branch names neither the key nor the fix
        adaptive_splits(study_cfg)
    except config_mod.ConfigError as e:
        raise config_mod.ConfigError(f"{where}: {e}") from None
    try:
        import jsonschema
    except ImportError:
        return
    if not SCHEMA.is_file():
        return
    schema = yaml.safe_load(SCHEMA.read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(study_cfg))
    if error is None:
        return
    at = ".".join(map(str, error.absolute_path))
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(known)):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
            raise config_mod.ConfigError(f"{where}: unknown key '{at + '.' if at else ''}{key}'; {hint}")
    message = error.message if len(error.message) < 200 else error.message[:200] + "..."
    raise config_mod.ConfigError(f"{where}: {at or 'top level'}: {message}".replace("\n", " "))


@dataclass
class Study:
    base: RunConfig  # resolved base run config
    experiments: dict[str, RunConfig] = field(default_factory=dict)  # name -> resolved config (split 0 values)
    runs: dict[str, RunConfig] = field(default_factory=dict)  # run id -> resolved config
    cells: dict[str, dict[int, str]] = field(default_factory=dict)  # experiment -> split -> run id
    splits: list[int] = field(default_factory=list)
    factorial: dict | None = None  # {factors: [...], cells: {frozenset(factors on): experiment}}

    def run_ids(self, experiment: str) -> list[str]:
        # an adaptive study's experiments may end with fewer splits than it declares (iqa/study/adaptive.py)
        return [self.cells[experiment][k] for k in self.splits if k in self.cells[experiment]]

    def experiments_of(self, run: str) -> list[str]:
        return [e for e, by_split in self.cells.items() if run in by_split.values()]


ADAPTIVE_KEYS = ("k0", "step", "k_max", "margin")


def adaptive_splits(study_cfg: dict) -> tuple[Schedule, float] | None:
    """`splits: {adaptive: {k0, step, k_max, margin}}` as (looks schedule, margin); None for a fixed list."""
    splits = study_cfg.get("splits")
    if not isinstance(splits, dict):
        return None
    spec = splits.get("adaptive")
    if set(splits) != {"adaptive"} or not isinstance(spec, dict):
        raise config_mod.ConfigError("splits: a list of split indices, or {adaptive: {k0, step, k_max, margin}}")
    unknown = sorted(set(spec) - set(ADAPTIVE_KEYS))
    if unknown:
        raise config_mod.ConfigError(f"unknown key 'splits.adaptive.{unknown[0]}'; known: {', '.join(ADAPTIVE_KEYS)}")
    for key, low in (("k0", 2), ("step", 1), ("k_max", 2)):
        value = spec.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise config_mod.ConfigError(f"splits.adaptive.{key}: a whole number >= {low} is required, got {value!r}")
    if spec["k_max"] < spec["k0"]:
        raise config_mod.ConfigError(f"splits.adaptive.k_max: {spec['k_max']} is below k0 ({spec['k0']}); "
                                     f"k_max is the most splits an experiment may get")
    margin = spec.get("margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
        raise config_mod.ConfigError(f"splits.adaptive.margin: a number >= 0 is required, got {margin!r}")
    if (study_cfg.get("stats") or {}).get("claim") == "population":
        raise config_mod.ConfigError("splits.adaptive: the sequential design is for stats.claim dataset (under the "
                                     "population claim the pool's variance does not shrink with splits); "
                                     "use a fixed splits list")
    return Schedule(spec["k0"], spec["step"], spec["k_max"]), float(margin)


def split_indices(study_cfg: dict) -> list[int]:
    """Every split the study declares: the fixed list, or 0 .. k_max - 1 of an adaptive one."""
    adaptive = adaptive_splits(study_cfg)
    return list(range(adaptive[0].k_max)) if adaptive else list(study_cfg.get("splits") or [0])


def sweep_name(sweep: str, value) -> str:
    return f"{sweep}={value:g}" if isinstance(value, float) else f"{sweep}={value}"


def declared_experiments(study_cfg: dict) -> dict[str, dict]:
    """Experiments by name (sweeps and factorial cells expanded), each as {of, reseed, overrides}."""
    out = {}
    for name, spec in (study_cfg.get("experiments") or {}).items():
        spec = dict(spec or {})
        out[str(name)] = {"of": spec.pop("of", None), "reseed": spec.pop("reseed", 0), "overrides": spec}
    for sweep, spec in (study_cfg.get("sweeps") or {}).items():
        for value in spec["values"]:
            out[sweep_name(sweep, value)] = {"of": spec.get("of"), "reseed": 0,
                                             "overrides": config_mod.parse_override(f"{spec['key']}={value}")}
    for name, (of, overrides, _) in factorial_cells(study_cfg).items():
        out.setdefault(name, {"of": of, "reseed": 0, "overrides": overrides})
    return out


def factorial_cells(study_cfg: dict) -> dict[str, tuple[str, dict, frozenset]]:
    """Experiment name -> (of, overrides, factors on) for every on/off combination of the factorial."""
    fac = study_cfg.get("factorial")
    if not fac:
        return {}
    names = list(fac["factors"])
    cells = {}
    for mask in range(2 ** len(names)):
        off = [f for i, f in enumerate(names) if mask >> i & 1]
        overrides: dict = {}
        for f in off:
            overrides = config_mod.merge_dicts(overrides, fac["factors"][f])
        name = fac["of"] + "".join(f"-no_{f}" for f in off)
        cells[name] = (fac["of"], overrides, frozenset(set(names) - set(off)))
    return cells


def _factorial_map(study_cfg: dict) -> dict | None:
    fac = study_cfg.get("factorial")
    if not fac:
        return None
    cells = {on: name for name, (_, _, on) in factorial_cells(study_cfg).items()}
    return {"factors": list(fac["factors"]), "cells": cells}


# What a rehearsal may change in a run: its scale, never what an experiment compares.
SCALE_KEYS = ("model.size", "model.pretrained", "data.root", "data.resize", "data.patch_size",
              "data.train_patches", "data.test_crops", "train.epochs", "train.batch_size")


def rehearse(study_cfg: dict) -> dict:
    """The study at the scale its `rehearsal:` section sets (the study itself when it has none): the first
    `splits` splits, KonIQ-10k and every cross-dataset set generated under `root` in its release layout,
    and `run` set on every run. Idempotent, so every entry point may apply it."""
    r = study_cfg.get("rehearsal")
    if not r:
        return study_cfg
    bad = sorted(set(config_mod.flatten(r.get("run") or {})) - {tuple(k.split(".")) for k in SCALE_KEYS})
    if bad:
        raise config_mod.ConfigError(f"rehearsal.run: {'.'.join(bad[0])} is not a scale key; a rehearsal may set "
                                     f"only {', '.join(SCALE_KEYS)}")
    cfg = copy.deepcopy(study_cfg)
    root = r.get("root", "data/rehearsal")
    cfg["splits"] = split_indices(cfg)[: int(r.get("splits", 2))]  # an adaptive study rehearses fixed splits
    cfg["base"] = config_mod.merge_dicts(cfg.get("base") or {}, {"data": {"root": f"{root}/koniq10k"}})
    cfg["rehearsal"] = {**r, "run": config_mod.merge_dicts(r.get("run") or {}, {"data": {"root": f"{root}/koniq10k"}})}
    cfg["dataset"] = {"synthetic": {"n": int(r.get("images", 48)), "seed": 0, "kind": "koniq10k"}}
    for i, (name, spec) in enumerate(((cfg.get("cross_dataset") or {}).get("datasets") or {}).items()):
        spec.update(root=f"{root}/{name}",
                    synthetic={"n": int(r.get("external_images", 12)), "seed": i + 1, "mix": "shifted",
                               "kind": spec["kind"]})
    return cfg


def _scaled(cfg: RunConfig, scale: dict) -> RunConfig:
    """A run at a rehearsal's scale. A centre-crop test is a protocol, not a scale: only random:N crops
    are cut to the rehearsal's count."""
    if not str(cfg.data.test_crops).startswith("random") and "test_crops" in scale.get("data", {}):
        scale = config_mod.merge_dicts(scale, {"data": {"test_crops": cfg.data.test_crops}})
    return cfg.merged(scale, where="rehearsal.run")


def expand(study_cfg: dict) -> Study:
    """Resolve every experiment and split into run configs; config errors name the experiment and key."""
    study_cfg = rehearse(study_cfg)
    scale = (study_cfg.get("rehearsal") or {}).get("run") or {}
    base = RunConfig.from_dict(study_cfg.get("base"), where="base")
    declared = declared_experiments(study_cfg)
    resolved: dict[str, RunConfig] = {}

    def resolve(name: str, chain: tuple = ()) -> RunConfig:
        if name in resolved:
            return resolved[name]
        if name not in declared:
            raise config_mod.ConfigError(f"experiment '{chain[-1]}': 'of: {name}' names no experiment")
        if name in chain:
            raise config_mod.ConfigError(f"experiments inherit in a cycle: {' -> '.join(chain + (name,))}")
        spec = declared[name]
        parent = resolve(spec["of"], chain + (name,)) if spec["of"] else base
        merged = config_mod.merge(parent.to_dict(), spec["overrides"], where=f"experiment '{name}'")
        try:
            cfg = RunConfig.from_dict(merged)
        except config_mod.ConfigError as e:
            raise config_mod.ConfigError(f"experiment '{name}': {e}") from None
        resolved[name] = cfg
        return cfg

    study = Study(base=base, splits=split_indices(study_cfg), factorial=_factorial_map(study_cfg))
    by_hash: dict[str, str] = {}
    for name in declared:
        cfg = _scaled(resolve(name), scale) if scale else resolve(name)
        study.experiments[name] = cfg
        study.cells[name] = {}
        for k in study.splits:
            readable = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{name}_s{k}")
            run_cfg = replace(cfg, name=readable, seed=k + declared[name]["reseed"],
                              data=replace(cfg.data, split_index=k))
            h = config_mod.config_hash(run_cfg)
            if h not in by_hash:  # first declared experiment names a shared run
                by_hash[h] = config_mod.run_id(run_cfg)
                study.runs[by_hash[h]] = run_cfg
            study.cells[name][k] = by_hash[h]
    check_references(study_cfg, study)
    return study


SYNTHETIC_DEFAULTS = {"n": 300, "seed": 0, "mix": "default", "kind": None}


def synthetic_datasets(study_cfg: dict, study: Study) -> dict[str, dict]:
    """root -> {n, seed, mix, kind} of every synthetic dataset the workflow generates: the training data and
    external test sets declared with `synthetic:`. `kind` None: the demo's own KonIQ-style layout
    (`iqa make-synthetic`); a dataset kind: that dataset's release layout (`iqa.data.fixtures`)."""
    study_cfg = rehearse(study_cfg)
    out = {}
    if (study_cfg.get("dataset") or {}).get("synthetic"):
        out[study.base.data.root] = {**SYNTHETIC_DEFAULTS, **study_cfg["dataset"]["synthetic"]}
    for spec in ((study_cfg.get("cross_dataset") or {}).get("datasets") or {}).values():
        if spec.get("synthetic"):
            out[spec["root"]] = {**SYNTHETIC_DEFAULTS, **spec["synthetic"]}
    return out


def generated_label_file(spec: dict) -> str:
    """The label file a generated dataset's job writes (the workflow's output for it)."""
    from iqa.data.fixtures import LABEL_FILES

    return LABEL_FILES[spec["kind"]] if spec["kind"] else "koniq10k_distributions_sets.csv"


def cross_dataset_jobs(study_cfg: dict, study: Study) -> list[tuple[str, str]]:
    """(dataset name, run id) of every evaluation-only job: each selected experiment's runs on each dataset."""
    spec = rehearse(study_cfg).get("cross_dataset") or {}
    rids = sorted({rid for e in spec.get("experiments", []) for rid in study.run_ids(e)})
    return [(name, rid) for name in spec.get("datasets", {}) for rid in rids]


def referenced_experiments(study_cfg: dict) -> dict[str, list[str]]:
    """Where the study config names experiments outside `experiments:` -> the names it uses."""
    tables = study_cfg.get("tables") or {}
    refs = {f"tables.{k}": list(v) for k, v in tables.items() if isinstance(v, list)}
    refs["tables.best_of"] = [tables["best_of"]] if tables.get("best_of") else []
    refs["tables.contributions"] = [e for pair in (tables.get("contributions") or {}).values() for e in pair]
    refs["tables.controls"] = [e for c in (tables.get("controls") or {}).values() for e in (c["run"], c["reference"])]
    refs["tables.selection"] = [e for pair in (tables.get("selection") or {}).items() for e in pair]
    for section in ("cross_dataset", "complexity"):
        refs[f"{section}.experiments"] = list((study_cfg.get(section) or {}).get("experiments", []))
    refs["sota.measured"] = list((study_cfg.get("sota") or {}).get("measured", []))
    refs["factorial.of"] = [study_cfg["factorial"]["of"]] if study_cfg.get("factorial") else []
    return refs


def check_references(study_cfg: dict, study: Study) -> None:
    for kind, section in (("score", "cross_dataset"), ("complexity", "complexity")):
        if study_cfg.get(section) and kind not in (study_cfg.get("resources") or {"score": 0, "complexity": 0}):
            raise config_mod.ConfigError(f"resources.{kind}: missing; a study with `{section}:` declares what its "
                                         f"{kind} jobs ask for ({{gpu, runtime, mem_mb, threads}})")
    for where, names in referenced_experiments(study_cfg).items():
        for name in names:
            if name not in study.cells:
                raise config_mod.ConfigError(f"{where}: '{name}' names no experiment")
