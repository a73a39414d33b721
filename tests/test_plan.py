import json

import pytest
import yaml

from iqa import config
from iqa.core.errors import DataError
from iqa.study.plan import part_sizes, plan, run_work, suggest_runtime
from iqa.study.spec import expand

from fake_runs import small_study, write_study_runs

H200 = {"device": "NVIDIA H200", "throughput": [
    {"model": "swin_hyperiqa", "size": "base", "precision": "fp32", "batch_size": 32,
     "train_patches_per_s": 296.0, "eval_patches_per_s": 1073.9},
    {"model": "hyperiqa_resnet50", "size": "base", "precision": "fp32", "batch_size": 32,
     "train_patches_per_s": 1552.7}]}


def koniq_cfg(**train):
    return config.RunConfig.from_dict({"data": {"root": "data/not-here", "test_crops": "random:20"},
                                       "train": {"epochs": 10, "batch_size": 32, **train}})


def labels_only(root, n):
    """A KonIQ-format folder of n empty images: enough for the split, which never decodes."""
    (root / "512x384").mkdir(parents=True)
    names = [f"{i:04d}.jpg" for i in range(n)]
    for name in names:
        (root / "512x384" / name).write_bytes(b"")
    rows = "\n".join(f"{name},{50 + i % 40}" for i, name in enumerate(names))
    (root / "koniq10k_distributions_sets.csv").write_text("image_name,MOS\n" + rows + "\n")
    return root


def test_part_sizes_without_data_follow_the_split_rule_and_match_the_data_when_present(tmp_path):
    assert part_sizes(koniq_cfg(), 10_073, {}) == {"train": 7252, "val": 806, "test": 2015}
    here = config.RunConfig.from_dict({"data": {"root": str(labels_only(tmp_path / "d", 137))}})
    elsewhere = here.merged({"data": {"root": "nowhere"}})
    assert part_sizes(here, None, {}) == part_sizes(elsewhere, 137, {})
    with pytest.raises(DataError, match="--images N"):
        part_sizes(koniq_cfg(), None, {})


def test_run_work_counts_the_steps_training_takes_and_every_evaluation():
    sizes = {"train": 7252, "val": 806, "test": 2015}
    work = run_work(koniq_cfg(), sizes)
    assert work["train"] == 10 * 4533 * 32  # ceil(7252 * 20 / 32) steps of 32 patches, 10 epochs
    assert work["eval"] == (10 * 806 + 2015) * 20
    assert run_work(koniq_cfg(select="test"), sizes)["eval"] == (10 * (806 + 2015) + 2015) * 20


def test_runtime_suggestion_has_a_margin_and_rounds_up_to_ten_minutes():
    assert suggest_runtime(36.8) == 60 and suggest_runtime(40.0) == 60 and suggest_runtime(6.0) == 10


def test_paper_plan_from_measured_figures_counts_distinct_runs_and_warns_on_short_runtime(tmp_path):
    bench = tmp_path / "h200.json"
    bench.write_text(json.dumps(H200))
    study = yaml.safe_load(open("config/koniq10k.yaml"))
    text, table = plan("config/koniq10k.yaml", bench_json=bench, throughput=500.0, images=10_073)
    assert table["new_runs"].sum() == len(expand(study).runs)
    c3 = table.set_index("experiment").loc["C3"]
    seconds = 10 * 4533 * 32 / 296.0 + (10 * 806 + 2015) * 20 / 1073.9
    assert c3["min_per_run"] == pytest.approx(2 + seconds / 60)
    assert "upper bound" in text and "enough for every job" in text
    assert "--throughput: " in text  # tiny and small have no measured figure here
    study["resources"]["train"]["runtime"] = 60
    (tmp_path / "short.yaml").write_text(yaml.safe_dump(study))
    text, _ = plan(tmp_path / "short.yaml", bench_json=bench, throughput=500.0, images=10_073)
    assert "WARNING: C3: a run may take 87 min, suggested 140 min > resources.train.runtime 60 min" in text


def test_plan_from_finished_runs_uses_their_recorded_throughput(tmp_path):
    write_study_runs(small_study(), tmp_path / "results")
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({**small_study(), "resources": {"train": {
        "gpu": 0, "runtime": 30, "mem_mb": 3000, "threads": 1}}}))
    text, table = plan(tmp_path / "study.yaml", from_results=tmp_path / "results", images=200)
    assert (table["patch_per_s"] == 240.0).all() and "CPU-h" in text
    assert table["new_runs"].sum() == len(expand(small_study()).runs) < len(table) * 3  # shared runs once
    with pytest.raises(DataError, match="no throughput for hyperiqa_resnet50"):
        plan(tmp_path / "study.yaml", bench_json=_only_swin(tmp_path), images=200)


def _only_swin(tmp_path):
    path = tmp_path / "swin.json"
    entry = {"model": "swin_hyperiqa", "size": "nano", "train_patches_per_s": 1.0}
    path.write_text(json.dumps({"throughput": [entry]}))
    return path


def test_options_price_each_precision_and_pack_size_from_measured_figures():
    from iqa.study.plan import estimate, options

    study = expand(yaml.safe_load(open("config/koniq10k.yaml")))
    entries = [{**e, "source": "test"} for e in H200["throughput"]] + [
        {"model": "swin_hyperiqa", "size": "base", "precision": "bf16", "batch_size": 32,
         "train_patches_per_s": 426.0, "source": "test"},
        {"model": "swin_hyperiqa", "size": "base", "precision": "bf16", "batch_size": 32, "pack": 4,
         "train_patches_per_s": 1200.0, "source": "test"}]
    opts = options(study, entries, 500.0, None, 10_073, 2.0, [1, 4]).set_index(["precision", "runs_per_job"])
    alone = estimate(study, entries, 500.0, None, 10_073, 2.0, "bf16", 1)
    assert opts.loc[("bf16", 1), "jobs"] == len(study.runs)
    assert opts.loc[("bf16", 1), "hours"] == pytest.approx(alone["hours"].sum())  # a job per run: the plain plan
    packed = estimate(study, entries, 500.0, None, 10_073, 2.0, "bf16", 4)
    c3 = packed.set_index("experiment").loc["C3"]
    assert c3["gpu_min"] == pytest.approx((10 * 4533 * 32 / 1200 + (10 * 806 + 2015) * 20 / (3 * 1200)) / 60)
    assert opts.loc[("bf16", 4), "jobs"] == sum(-(-n // 4) for n in packed["new_runs"])
    assert opts.loc[("bf16", 4), "hours"] < opts.loc[("bf16", 1), "hours"]
    # fp32 has no packed figure: packing saves start-up only, and every experiment says so
    fp32 = estimate(study, entries, 500.0, None, 10_073, 2.0, "fp32", 4)
    assert opts.loc[("fp32", 4), "not_measured"] == (fp32["new_runs"] > 0).sum()
    saved = (len(study.runs) - opts.loc[("fp32", 4), "jobs"]) * 2.0 / 60
    assert opts.loc[("fp32", 1), "hours"] - opts.loc[("fp32", 4), "hours"] == pytest.approx(saved)
