"""The template bank indexes see-through templates over a light background too, opaque ones once."""

from __future__ import annotations

import cv2
import numpy as np

from pixelpad.overlay.bank import BACKGROUNDS, GREY, LIGHT, SCALES, TemplateBank, on_grey, see_through
from pixelpad.overlay.features import extractor


def test_see_through_is_about_the_alpha_channel():
    picture = np.full((40, 60, 4), 255, np.uint8)
    assert not see_through(picture)
    picture[:10, :, 3] = 0  # a quarter of the canvas shows the game
    assert see_through(picture)
    np.testing.assert_array_equal(on_grey(picture, LIGHT)[:10], LIGHT)
    np.testing.assert_array_equal(on_grey(picture)[:10], GREY)
    np.testing.assert_array_equal(on_grey(picture, LIGHT)[10:], 255)


def test_light_features_only_for_see_through_templates(real_skins):
    """Per template, the index holds the features of its picture over each background it needs, at each
    scale (a plain loop over the extractor), so opaque skins (NintendoSpy's) are not indexed twice."""
    skins = [
        s
        for s in real_skins
        if s.name in ("nintendospy/pc360-default/default", "input-overlay/gamepad/default")
    ]
    bank = TemplateBank(skins, ("sift",), progress=False)
    assert [see_through(t.image) for t in bank.templates] == [s.name.startswith("input") for s in skins]
    assert LIGHT in BACKGROUNDS["sift"]
    extract = extractor("sift", 300)
    index = bank.indexes["sift"]
    for t, template in enumerate(bank.templates):
        expected = []
        for background in BACKGROUNDS["sift"]:
            if background != GREY and not see_through(template.image):
                continue
            picture = on_grey(template.image, background)
            for scale in SCALES["sift"]:
                h, w = picture.shape[:2]
                image = cv2.resize(
                    picture, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
                )
                expected.append(extract([picture if scale == 1.0 else image])[0].descriptors)
        np.testing.assert_allclose(
            index.descriptors[index.template == t], np.concatenate(expected), atol=1e-6
        )
