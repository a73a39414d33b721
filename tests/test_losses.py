import math

import pytest
import torch
import torch._dynamo  # the first Adam imports it, seconds; paid here at collection, not in a test
from scipy import stats

from iqa.training.losses import LOSSES, fidelity_loss, get_loss, hard_rank, ranking_loss, srcc_loss

RANKING_TYPE = ("rank", "fidelity", "srcc")


def toy_batch(scale: float, n: int = 32, dim: int = 8, seed: int = 0):
    """Random features and MOS-like targets (mean 50, sd 15) from a known linear map, times `scale`."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen)
    w = torch.randn(dim, generator=gen)
    y = 50 + 15 * (x @ w) / w.norm() + torch.randn(n, generator=gen)
    return x, scale * y


def fit(loss_fn, x, y, scale: float, steps: int = 200):
    """Adam on a linear model; its step is in parameter units, so the rate follows the label scale."""
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.Adam(model.parameters(), lr=scale)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x).squeeze(1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        return losses, model(x).squeeze(1)


@pytest.mark.parametrize("scale", [1.0, 0.01])
@pytest.mark.parametrize("name", list(LOSSES))
def test_each_loss_decreases_on_a_learnable_batch(name, scale):
    x, y = toy_batch(scale)
    losses, _ = fit(get_loss(name), x, y, scale)
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize("scale", [1.0, 0.01])
@pytest.mark.parametrize("name", RANKING_TYPE)
def test_ranking_type_losses_improve_srcc(name, scale):
    x, y = toy_batch(scale)
    torch.manual_seed(0)
    with torch.no_grad():
        before = stats.spearmanr(torch.nn.Linear(x.shape[1], 1)(x).squeeze(1), y).statistic
    _, pred = fit(get_loss(name), x, y, scale)
    after = stats.spearmanr(pred, y).statistic
    assert after > 0.9 and after > before + 0.3, (before, after)


def tied_cases():
    distinct = torch.tensor([3.0, 1.0, 4.0, 1.5, 9.0, 2.6])
    return [
        (torch.full((2,), 5.0), torch.tensor([1.0, 2.0])),  # tied predictions, batch of 2
        (torch.tensor([1.0, 2.0]), torch.full((2,), 5.0)),  # tied targets, batch of 2
        (torch.full((2,), 5.0), torch.full((2,), 5.0)),  # both tied
        (torch.full((6,), 0.5), distinct),
        (distinct, torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])),  # partly tied targets
        (torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0]), distinct),  # partly tied predictions
    ]


@pytest.mark.parametrize("name", RANKING_TYPE)
@pytest.mark.parametrize("pred, target", tied_cases())
def test_gradient_is_finite_with_tied_scores(name, pred, target):
    for scale in (1.0, 0.01):
        p = (pred * scale).requires_grad_()
        loss = get_loss(name)(p, target * scale)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(p.grad).all(), (loss, p.grad)


def test_srcc_gradient_from_tied_predictions_points_towards_the_target_order():
    target = torch.tensor([3.0, 1.0, 4.0, 1.5, 9.0, 2.6])
    pred = torch.zeros(6, requires_grad=True)
    srcc_loss(pred, target).backward()
    assert stats.spearmanr(-pred.grad, target).statistic == pytest.approx(1.0)


def test_srcc_loss_is_one_minus_spearman_for_well_separated_scores():
    gen = torch.Generator().manual_seed(3)
    target = torch.randint(0, 6, (40,), generator=gen).float()  # many ties
    pred = torch.randperm(40, generator=gen).float() * 10 + target
    expected = 1 - stats.spearmanr(pred, target).statistic
    assert srcc_loss(pred, target, temperature=0.01).item() == pytest.approx(expected, abs=1e-4)


def test_hard_rank_averages_ties_like_scipy():
    x = torch.tensor([2.0, 7.0, 2.0, 1.0, 7.0, 7.0])
    assert (hard_rank(x) + 0.5).tolist() == stats.rankdata(x).tolist()


def test_ranking_loss_counts_only_misordered_pairs():
    pred = torch.tensor([1.0, 3.0, 2.0])
    target = torch.tensor([1.0, 2.0, 3.0])  # only pair (1, 2) is misordered, by 1; 6 ordered pairs
    assert ranking_loss(pred, target).item() == pytest.approx(2 / 6)
    assert ranking_loss(target * 2, target).item() == 0


def test_fidelity_loss_values():
    # equal predictions for a strictly ordered pair: p = 1/2, p* = 1
    ordered = fidelity_loss(torch.zeros(2), torch.tensor([1.0, 2.0]))
    assert ordered.item() == pytest.approx(1 - math.sqrt(0.5), abs=1e-3)
    # equal predictions for a tied pair: p = p* = 1/2, the minimum
    assert fidelity_loss(torch.zeros(2), torch.ones(2)).item() == pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize("name", ["fidelity", "srcc"])
def test_scale_free_losses_agree_at_both_label_scales(name):
    _, y = toy_batch(1.0)
    pred = y + 10 * torch.randn(len(y), generator=torch.Generator().manual_seed(1))
    loss = get_loss(name)
    assert loss(pred * 0.01, y * 0.01).item() == pytest.approx(loss(pred, y).item(), rel=1e-4)


@pytest.mark.parametrize("name", list(LOSSES))
def test_half_precision_predictions_give_a_float32_loss(name):
    _, y = toy_batch(1.0)
    loss = get_loss(name)((y + 1).bfloat16(), y)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_mismatched_shapes_are_an_error():
    with pytest.raises(ValueError, match=r"\(4, 1\) and \(4,\)"):
        get_loss("l1")(torch.zeros(4, 1), torch.zeros(4))


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match="'huber'") as err:
        get_loss("huber")
    for name in ("l1", "l2", "rank", "fidelity", "srcc"):
        assert name in str(err.value)
