"""The field-of-view mask and the outside share on hand-made images and maps."""

import numpy as np
import pytest

from diffclip.fov import fov_mask, outside_share


def _disc(size=32, radius=12, dark_spot=True):
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2 <= radius**2
    img = np.zeros((size, size, 3), np.uint8)
    img[inside] = (150, 60, 40)
    if dark_spot:  # a dark lesion inside the disc is not outside the field of view
        img[14:18, 14:18] = 5
    return img, inside


def test_the_rim_is_outside_and_a_dark_spot_inside_stays_inside():
    img, inside = _disc()
    mask = fov_mask(img)
    assert np.array_equal(mask, inside)
    assert mask[15, 15]
    assert fov_mask(img[..., 0]).sum() == inside.sum()  # grey input


def test_a_photo_without_a_rim_is_all_inside():
    img = np.full((20, 30, 3), 90, np.uint8)
    assert fov_mask(img).all()


def test_outside_share_by_hand():
    inside = np.zeros((4, 4), bool)
    inside[1:3, 1:3] = True  # 4 pixels inside, 12 outside
    m = np.zeros((4, 4))
    m[1, 1], m[0, 0], m[3, 3] = 2.0, 1.0, -5.0  # negative values carry no mass
    assert outside_share(m, inside) == pytest.approx(1 / 3)
    # a 2 x 2 token map over the 4 x 4 image: every cell has 1 of its 4 pixels inside
    assert outside_share(np.array([[1.0, 0.0], [0.0, 3.0]]), inside) == pytest.approx(0.75)
    assert np.isnan(outside_share(np.zeros((4, 4)), inside))
    with pytest.raises(ValueError, match="does not tile"):
        outside_share(np.ones((3, 3)), inside)
