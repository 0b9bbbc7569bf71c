#!/usr/bin/env python3
# Usage: .venv/bin/python scripts/make_favicon.py web/console/favicon.ico (then copy it to web/stripchart/).
# Needs Pillow (python3-pil). The SVG favicons (web/*/favicon.svg) are written by hand.
# Renders the favicon (a yellow wave on a dark rounded square) into favicon.ico (16, 32, 48 px).
import math, sys
from PIL import Image, ImageDraw
def icon(n, s=8):
    N = n * s
    im = Image.new("RGBA", (N, N), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([0, 0, N - 1, N - 1], radius=N * 6 // 32, fill=(29, 35, 48, 255))
    pts = [(N * (3 + 26 * i / 200) / 32, N * (16 - 10 * math.sin(2 * math.pi * 1.1 * i / 200)) / 32) for i in range(201)]
    d.line(pts, fill=(250, 204, 21, 255), width=max(1, N * 3 // 32), joint="curve")
    return im.resize((n, n), Image.LANCZOS)
big = icon(48)
big.save(sys.argv[1], format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
