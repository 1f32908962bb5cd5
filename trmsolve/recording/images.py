"""A recording as pictures: an animation (GIF, animated WebP, APNG) drawn with Pillow, and an SVG still.

Every frame has the same layout: two lines of text (where the frame is, then its figures or the verdict) above
the grid, whose cells take the kind's colours and labels (`PuzzleKind.picture`), with the cells that changed
since the previous frame outlined.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from trmsolve.errors import TrmsolveError
from trmsolve.kinds import Picture
from trmsolve.recording.frames import Recording

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

    from trmsolve.solver import Step

GRID_PIXELS = 480  # the grid's longer side, about
CELL_PIXELS = (12, 40)  # a cell's side, at least and at most
MARGIN = 8
TEXT_SIZE = 13
HEADER = 2 * TEXT_SIZE + 14  # two lines of text and their spacing
MIN_WIDTH = 380  # room for the text lines
LINES, BLOCK_LINES, BACKGROUND, TEXT, CHANGED = "#c8c8c8", "#444444", "#ffffff", "#1a1a1a", "#ff8c00"
VERDICT_COLOURS = {"✓": "#1b7f34", "✗": "#c62828", "?": "#00838f", "~": "#a66b00"}
FRAME_MS = (60, 400)  # a frame's time on screen: the animation lasts about ANIMATION_MS, within these bounds
ANIMATION_MS = 8000
LAST_FRAME_MS = 2500  # the reported answer stays up
ANIMATIONS = {".gif": "GIF", ".webp": "WEBP", ".png": "PNG"}  # suffix -> Pillow format (PNG: animated, APNG)


@dataclass(frozen=True)
class Layout:
    """Where things go on every frame of one recording."""

    rows: int
    cols: int
    cell: int

    @classmethod
    def of(cls, pictures: list[Picture]) -> Layout:
        rows = max((p.colours.shape[0] for p in pictures), default=1) or 1
        cols = max((p.colours.shape[1] for p in pictures), default=1) or 1
        cell = max(CELL_PIXELS[0], min(CELL_PIXELS[1], GRID_PIXELS // max(rows, cols)))
        return cls(rows, cols, cell)

    @property
    def width(self) -> int:
        return max(MIN_WIDTH, self.cols * self.cell + 2 * MARGIN)

    @property
    def height(self) -> int:
        return HEADER + self.rows * self.cell + 2 * MARGIN

    def block_lines(self, picture: Picture) -> list[tuple[int, int, int, int]]:
        """The thicker lines around the picture's blocks (Sudoku's boxes), as (x1, y1, x2, y2)."""
        rows, cols = picture.colours.shape
        if not picture.block or not rows:
            return []
        x0, y0, _, _ = self.cell_box(0, 0)
        down = [
            (x0 + k * self.cell, y0, x0 + k * self.cell, y0 + rows * self.cell)
            for k in range(0, cols + 1, picture.block)
        ]
        across = [
            (x0, y0 + k * self.cell, x0 + cols * self.cell, y0 + k * self.cell)
            for k in range(0, rows + 1, picture.block)
        ]
        return down + across

    def cell_box(self, r: int, c: int) -> tuple[int, int, int, int]:
        x, y = MARGIN + c * self.cell, HEADER + MARGIN + r * self.cell
        return x, y, x + self.cell, y + self.cell


def verdict_colour(recording: Recording, frame: Step) -> str:
    from trmsolve.render import verdict_style

    return VERDICT_COLOURS[verdict_style(recording.verdict)[0]] if frame.last else TEXT


# ------------------------------------------------------------------------------------------------ animation


def write_animation(recording: Recording, path: Path) -> None:
    """One frame per step shown, the last held longer; the format from the suffix (`ANIMATIONS`)."""
    require_pillow(path)
    from PIL import Image, ImageDraw, ImageFont

    pictures = [recording.picture(frame) for frame in recording.frames]
    layout = Layout.of(pictures)
    font = ImageFont.load_default(size=TEXT_SIZE)
    label_font = ImageFont.load_default(size=max(8, round(layout.cell * 0.6)))
    images = []
    for frame, picture in zip(recording.frames, pictures, strict=True):
        image = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        for number, line in enumerate(recording.headline(frame, words=True)):
            colour = verdict_colour(recording, frame) if number else TEXT
            draw.text((MARGIN, 6 + number * (TEXT_SIZE + 5)), fit(line, font, layout.width), fill=colour, font=font)
        draw_grid(draw, layout, picture, frame, recording.kind.palette, label_font)
        images.append(image)
    step_ms = max(FRAME_MS[0], min(FRAME_MS[1], ANIMATION_MS // max(1, len(images))))
    durations = [step_ms] * (len(images) - 1) + [LAST_FRAME_MS]
    fmt = ANIMATIONS[path.suffix.lower()]
    if fmt == "GIF":  # one palette for every frame: the kind's colours do not flicker, and the file stays small
        shared = gif_palette(recording.kind.palette)
        images = [image.quantize(palette=shared, dither=Image.Dither.NONE) for image in images]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    images[0].save(path, format=fmt, save_all=True, append_images=images[1:], duration=durations, loop=0, **extra)


def require_pillow(path: Path) -> None:
    """Say how to get Pillow when an animation is asked for without it (before anything runs, where possible)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise TrmsolveError(
            f"--record {path}: animations need Pillow; install it with pip install 'trmsolve[record]' (an .html "
            "or .svg recording needs nothing more)"
        ) from None


def gif_palette(palette: tuple[tuple[str, str], ...]) -> Image.Image:
    """Every colour a frame draws, and greys and tints between them for the edges of text."""
    from PIL import Image, ImageColor

    named = {colour for pair in palette for colour in pair}
    named |= {LINES, BLOCK_LINES, BACKGROUND, TEXT, CHANGED, *VERDICT_COLOURS.values()}
    rgb = [ImageColor.getrgb(colour)[:3] for colour in sorted(named)]
    pure = list(rgb)
    rgb += [(v, v, v) for v in range(0, 256, 17)]
    rgb += [tuple((a + b) // 2 for a, b in zip(x, y, strict=True)) for x in pure for y in pure]
    rgb = list(dict.fromkeys(rgb))[:256]
    swatch = Image.new("P", (1, 1))
    swatch.putpalette([channel for colour in rgb for channel in colour])
    return swatch


def fit(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`text` cut with an ellipsis to fit the frame's width."""
    room = width - 2 * MARGIN
    while len(text) > 1 and font.getlength(text) > room:
        text = text[:-2] + "…"
    return text


def draw_grid(
    draw: ImageDraw.ImageDraw,
    layout: Layout,
    picture: Picture,
    frame: Step,
    palette: tuple[tuple[str, str], ...],
    font: ImageFont.FreeTypeFont,
) -> None:
    """The cells in their colours and labels, the changed ones outlined, the blocks' lines over them."""
    rows, cols = picture.colours.shape
    if not rows:
        return
    top_left, bottom_right = layout.cell_box(0, 0), layout.cell_box(rows - 1, cols - 1)
    draw.rectangle((*top_left[:2], *bottom_right[2:]), fill=LINES)
    changed = frame.changed if frame.changed is not None and frame.changed.shape == (rows, cols) else None
    for r in range(rows):
        for c in range(cols):
            x0, y0, x1, y1 = layout.cell_box(r, c)
            fill, ink = palette[int(picture.colours[r, c])]
            draw.rectangle((x0 + 1, y0 + 1, x1 - 1, y1 - 1), fill=fill)
            if picture.labels[r, c]:
                centre = ((x0 + x1) / 2, (y0 + y1) / 2)
                draw.text(centre, str(picture.labels[r, c]), fill=ink, font=font, anchor="mm")
            if changed is not None and changed[r, c]:
                draw.rectangle((x0 + 1, y0 + 1, x1 - 1, y1 - 1), outline=CHANGED, width=2)
    for line in layout.block_lines(picture):
        draw.line(line, fill=BLOCK_LINES, width=2)


# ------------------------------------------------------------------------------------------------ SVG still


def svg_still(recording: Recording) -> str:
    """The last frame (the reported answer and its verdict) as a standalone SVG."""
    frame = recording.frames[-1]
    picture = recording.picture(frame)
    layout = Layout.of([picture])
    palette = recording.kind.palette
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{layout.width}" height="{layout.height}" '
        f'viewBox="0 0 {layout.width} {layout.height}" font-family="sans-serif">',
        f'<rect width="100%" height="100%" fill="{BACKGROUND}"/>',
    ]
    for number, line in enumerate(recording.headline(frame)):
        colour = verdict_colour(recording, frame) if number else TEXT
        y = 6 + TEXT_SIZE + number * (TEXT_SIZE + 5)
        parts.append(f'<text x="{MARGIN}" y="{y}" font-size="{TEXT_SIZE}" fill="{colour}">{escape(line)}</text>')
    rows, cols = picture.colours.shape
    if rows:
        x0, y0, _, _ = layout.cell_box(0, 0)
        parts.append(f'<rect x="{x0}" y="{y0}" width="{cols * layout.cell}" height="{rows * layout.cell}" '
                     f'fill="{LINES}"/>')  # fmt: skip
    for r in range(rows):
        for c in range(cols):
            x, y, _, _ = layout.cell_box(r, c)
            fill, ink = palette[int(picture.colours[r, c])]
            side = layout.cell - 2
            parts.append(f'<rect x="{x + 1}" y="{y + 1}" width="{side}" height="{side}" fill="{fill}"/>')
            if picture.labels[r, c]:
                parts.append(
                    f'<text x="{x + layout.cell / 2}" y="{y + layout.cell / 2}" fill="{ink}" text-anchor="middle" '
                    f'dominant-baseline="central" font-size="{round(layout.cell * 0.6)}">'
                    f"{escape(str(picture.labels[r, c]))}</text>"
                )
    for x1, y1, x2, y2 in layout.block_lines(picture):
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{BLOCK_LINES}" stroke-width="2"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
