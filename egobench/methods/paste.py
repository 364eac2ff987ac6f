"""The `paste` reference point: the reference object cut out and pasted over the source object.

It needs no weights and shows what a method gains over copying pixels: identity is high by
construction, while lighting, pose and the source object's leftovers are left as they are.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from egobench.benches.base import LoadedPair
from egobench.methods import register_method
from egobench.methods.base import EditMethod
from egobench.methods.boxes import crop_object, mask_box


@register_method("paste")
class PasteMethod(EditMethod):
    """Paste the reference object, scaled into the source mask's box, with a feathered edge.

    Settings (`paste:` section): `resolution` in pixels, and `feather`, the Gaussian blur radius of
    the pasted object's alpha edge as a fraction of `resolution` (0 gives a hard edge).
    """

    @property
    def settings(self) -> dict:
        return self.config.get(self.name, {})

    @property
    def resolution(self) -> int:
        return int(self.settings.get("resolution", 512))

    def edit(self, pair: LoadedPair, seed: int) -> Image.Image:
        pair_id = pair.pair.pair_id
        reference, reference_mask = crop_object(pair.reference, pair.reference_mask, f"pair {pair_id} reference")
        left, top, right, bottom = mask_box(pair.source_mask, f"pair {pair_id} source")

        # Fit the object inside the source box without distorting it, centred on the box.
        box_width, box_height = right - left, bottom - top
        scale = min(box_width / reference.width, box_height / reference.height)
        width = max(1, round(reference.width * scale))
        height = max(1, round(reference.height * scale))
        offset = (left + (box_width - width) // 2, top + (box_height - height) // 2)

        object_image = reference.resize((width, height), Image.Resampling.LANCZOS)
        alpha = Image.fromarray(reference_mask.astype(np.uint8) * 255, mode="L")
        alpha = alpha.resize((width, height), Image.Resampling.BILINEAR)

        # Blur on a canvas of the full image so that the feather can spread past the box's edges.
        canvas_alpha = Image.new("L", pair.source.size, 0)
        canvas_alpha.paste(alpha, offset)
        radius = float(self.settings.get("feather", 0.01)) * self.resolution
        if radius > 0:
            canvas_alpha = canvas_alpha.filter(ImageFilter.GaussianBlur(radius))

        canvas = pair.source.convert("RGB").copy()
        canvas.paste(object_image, offset)
        return Image.composite(canvas, pair.source.convert("RGB"), canvas_alpha)
