"""A picture made on the spot, for the demo's backstage post: no file to ship, no network."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def demo_picture(width: int = 1600, height: int = 1000) -> bytes:
    """A studio-ish scene as JPEG: an evening gradient, a mixing desk's faders, a warm lamp."""
    sky = Image.linear_gradient("L").resize((width, height))
    picture = Image.merge("RGB", (sky.point(lambda v: 40 + v // 2), sky.point(lambda v: 20 + v // 5), sky))
    draw = ImageDraw.Draw(picture)
    desk_top = height * 2 // 3
    draw.rectangle((0, desk_top, width, height), fill=(35, 30, 40))
    for n in range(24):
        x = 60 + n * (width - 120) // 24
        level = desk_top + 30 + (n * 37) % (height - desk_top - 80)
        draw.rectangle((x, desk_top + 20, x + 8, height - 30), fill=(70, 70, 80))
        draw.rectangle((x - 10, level, x + 18, level + 16), fill=(220, 210, 190))
    draw.ellipse((width - 360, 80, width - 160, 280), fill=(255, 200, 120))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()
