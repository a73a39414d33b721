import argparse

import pytest
import torch

from iqa import config

from iqa.measure import bench
from iqa.cli import add_bench_arguments, main, options
from iqa.models.builder import build_model, count_parameters

# The start of every line `iqa bench` prints on CPU with --bare-backbone, in order.
CPU_LINES = ["iqa bench: swin_hyperiqa nano", "machine: ", "test images: 4 generated",
             "(a) decoded-image cache: 4 images",
             "(a) per-epoch cropping (", "(a) time split: gather_patches", "(a) first epoch including",
             "(b) per-patch decode", "model: ", "(c) train step (forward+l1 loss+backward+adamw",
             "bare backbone forward_intermediates+backward", "(d) evaluation (score_images, random:20 crops",
             "peak memory: ", "train step / bare backbone: ", "load average ", "input pipeline speedup"]


def bench_args(*argv):
    """The options `iqa bench` hands the library for these flags."""
    p = argparse.ArgumentParser()
    add_bench_arguments(p)
    return options(bench.BenchOptions, p.parse_args(list(argv)))


@pytest.mark.parametrize("argv, message", [(["--batch", "0"], "--batch must be >= 1"),
                                           (["--eval-batch", "0"], "--eval-batch must be >= 1"),
                                           (["--images", "1", "--batch", "64"], "fewer than one --batch"),
                                           (["--size", "huge"], "'model.size'")])
def test_bench_config_rejects_bad_options(argv, message):
    with pytest.raises(ValueError, match=message):
        bench.bench_config(bench_args(*argv))


def test_cli_reports_a_bad_option_as_an_error(capsys):
    assert main(["bench", "--steps", "0"]) == 2
    assert "--steps must be >= 1" in capsys.readouterr().err


def test_bench_config_trains_at_the_model_input_size():
    cfg = bench.bench_config(bench_args("--model", "hyperiqa_resnet50", "--size", "base", "--batch", "8"))
    assert cfg.data.patch_size == 224 and cfg.train.batch_size == 8


def test_our_epoch_cuts_every_patch_and_stage_shares_add_up():
    cfg = config.load(None, {"model": {"size": "nano"}, "data": {"patch_size": 64, "train_patches": 3,
                                                                  "color_jitter": True}})
    images = torch.randint(0, 256, (5, 96, 128, 3), dtype=torch.uint8)
    assert bench.ours_epoch(images, cfg.data, 3, 4, seed=0) == 15
    shares = bench.stage_shares(images, cfg.data, 4)
    assert list(shares) == ["gather_patches", "augment", "normalize"]
    assert sum(shares.values()) == pytest.approx(1) and all(v > 0 for v in shares.values())


@pytest.mark.slow  # ~5-15 s: JPEG generation, 80 per-patch decodes, a nano model's train steps
def test_bench_runs_on_nano_and_prints_every_line(capsys):
    r = bench.run(bench_args("--steps", "1", "--images", "4", "--batch", "4", "--threads", "1",
                             "--bare-backbone"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CPU_LINES)
    for line, start in zip(lines, CPU_LINES):
        assert line.startswith(start), (line, start)
    assert "1 timed step after 2 warm-up" in lines[0]
    built = build_model(bench.bench_config(bench_args()).model)
    assert r["model"]["parameters"] == count_parameters(built)
    assert r["train"]["per_s"] > 0 and r["backbone"]["per_s"] > 0 and r["eval"]["items"] == 1
    assert r["ours"]["one_thread"]["items"] == 80 and r["original"]["items"] == 80  # every patch of 4 images
    assert r["ours"]["one_thread"]["per_s"] > r["original"]["per_s"]  # cached crops beat decoding each patch
    # The CUDA lines (peak GPU memory, autocast) format from the same figures; no GPU here to measure them.
    r["setup"].update(cuda=True, precision="bf16", gpu="a GPU", device="cuda")
    r["train"]["peak_bytes"] = r["eval"]["peak_bytes"] = 2**30
    cuda_lines = [line for section in bench.PRINTERS for line in bench.PRINTERS[section](r)]
    assert len(cuda_lines) == len(CPU_LINES)
    assert "bf16 autocast, channels_last, batch 4): " in cuda_lines[9] and "peak 1.00 GiB" in cuda_lines[9]
    assert cuda_lines[12].startswith("peak memory: training 1.00 GiB GPU")


@pytest.mark.slow  # a nano model's train steps, twice over
def test_bench_pack_reports_mfu_and_writes_the_entry_plan_reads(tmp_path, capsys):
    from iqa.study.plan import bench_throughput

    r = bench.run(bench_args("--steps", "1", "--images", "4", "--batch", "4", "--threads", "1", "--pack", "2",
                             "--peak-tflops", "0.5", "--json", str(tmp_path / "tp.json")))
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("(c)"))
    assert "batch 4, 2 runs in turn): " in line and "MFU" in line and "--peak-tflops" in line
    assert r["train"]["items"] == 2 * 4  # one timed step of each model
    assert r["mfu"]["mfu"] == pytest.approx(r["train"]["per_s"] * 3 * r["model"]["gflops"] / 1e3 / 0.5)
    entry = bench_throughput(tmp_path / "tp.json")[0]
    assert (entry["pack"], entry["precision"], entry["batch_size"]) == (2, "fp32", 4)
    assert entry["train_patches_per_s"] == round(r["train"]["per_s"], 1)
