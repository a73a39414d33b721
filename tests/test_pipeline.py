import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from iqa.data import crops
from iqa.data.pipeline import augment, batched_color_jitter, gather_patches, normalize


def test_gather_patches_cuts_the_requested_windows():
    images = torch.randint(0, 256, (3, 40, 50, 3), dtype=torch.uint8)
    index = torch.tensor([2, 0, 2])
    corners = torch.tensor([[0, 0], [5, 7], [24, 34]])
    out = gather_patches(images, index, corners, 16)
    assert out.shape == (3, 16, 16, 3)
    for k, (i, (y, x)) in enumerate(zip(index.tolist(), corners.tolist())):
        assert torch.equal(out[k], images[i, y:y + 16, x:x + 16])


def test_flip_and_normalize():
    x = torch.randint(0, 256, (4, 8, 8, 3), dtype=torch.uint8)
    flip = torch.tensor([True, False, True, False])
    out = augment(x.clone(), flip, jitter=None)
    assert torch.equal(out[0], x[0].flip(1)) and torch.equal(out[1], x[1])
    z = normalize(out)
    assert z.shape == (4, 3, 8, 8) and z.is_contiguous()
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    expected = (out.permute(0, 3, 1, 2).float() / 255 - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    torch.testing.assert_close(z, expected)


@pytest.mark.parametrize("op, fn", [(0, TF.adjust_brightness), (1, TF.adjust_contrast),
                                    (2, TF.adjust_saturation), (3, TF.adjust_hue)])
def test_batched_color_jitter_is_torchvisions_maths_per_patch(op, fn):
    x = torch.rand(5, 3, 12, 12)
    strengths = [0.0, 0.0, 0.0, 0.0]
    strengths[op] = 0.1 if op == 3 else 0.2
    torch.manual_seed(7)
    out = batched_color_jitter(x, *strengths)
    torch.manual_seed(7)
    u = torch.rand(5, 4) * 2 - 1  # the draws batched_color_jitter makes
    factors = strengths[op] * u[:, op] + (0 if op == 3 else 1)
    assert factors.unique().numel() == 5  # every patch gets its own factor
    expected = torch.stack([fn(x[i], float(factors[i])) for i in range(5)])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_color_jitter_is_seeded_and_stays_in_range():
    x = torch.randint(0, 256, (9, 16, 16, 3), dtype=torch.uint8)
    torch.manual_seed(3)
    a = augment(x.clone(), torch.zeros(9, dtype=torch.bool), jitter=[0.2, 0.2, 0.2, 0.1])
    torch.manual_seed(3)
    b = augment(x.clone(), torch.zeros(9, dtype=torch.bool), jitter=[0.2, 0.2, 0.2, 0.1])
    assert torch.equal(a, b)
    assert a.dtype == torch.float32 and a.shape == x.shape
    assert 0 <= a.min() and a.max() <= 255 and not torch.allclose(a, x.float())


def test_crop_positions_stay_inside_and_are_seeded():
    for spec in ("center", "random:7", "grid:9"):
        pos = crops.test_positions(spec, 384, 512, 224, crop_seed=1, key=3)
        assert pos.shape[1] == 2 and (pos >= 0).all()
        assert (pos[:, 0] <= 384 - 224).all() and (pos[:, 1] <= 512 - 224).all()
        assert torch.equal(pos, crops.test_positions(spec, 384, 512, 224, crop_seed=1, key=3))
    assert not torch.equal(crops.test_positions("random:7", 384, 512, 224, 1, 3),
                           crops.test_positions("random:7", 384, 512, 224, 1, 4))
    img, corners, flips = crops.train_positions(4, 3, 384, 512, 224, torch.Generator().manual_seed(0))
    assert sorted(img.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert corners.max() <= 512 - 224 and flips.dtype == torch.bool
