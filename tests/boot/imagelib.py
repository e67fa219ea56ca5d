"""Pictures for the display tests (display_test.py): PNG files as emu64's screendump writes them (8-bit RGB) and XWD
screenshots as X's xwd writes them (32 bits per pixel, TrueColor), both decoded to rows of (r, g, b) tuples with no
library beyond zlib; and the check that a line of text is where the Linux console put it."""
import struct
import zlib


def read_png(path):
    """(width, height, rows) of an 8-bit RGB or RGBA PNG, non-interlaced (PNG spec, sections 11-12: filters 0-4)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "only 8-bit RGB(A), not interlaced"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        filt, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            if filt == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filt == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                line[i] = (line[i] + pred) & 0xFF
        rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(width)])
        previous = line
    return width, height, rows


def read_xwd(path):
    """(width, height, rows) of an XWD (X11 window dump, XWDFileHeader of X11/XWDFile.h) in ZPixmap format with 24
    (packed, as Xvfb's 24-bit screen stores them) or 32 bits per pixel; the colour masks say where red, green and blue
    are."""
    data = open(path, "rb").read()
    fields = struct.unpack(">25I", data[:100])
    header_size, version, pixmap_format, depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    visual_class, red_mask, green_mask, blue_mask, ncolors = fields[13], fields[14], fields[15], fields[16], fields[19]
    assert version == 7 and pixmap_format == 2 and bits_per_pixel in (24, 32), f"unsupported XWD: {fields}"
    size = bits_per_pixel // 8
    pixels = data[header_size + 12 * ncolors:]
    order = "little" if byte_order == 0 else "big"

    # DirectColor (class 5): each channel's value indexes the colormap (XWDColor: pixel, red, green, blue, flags, pad);
    # TrueColor: the value is the intensity.
    colormap = [struct.unpack(">IHHHBB", data[header_size + 12 * i:header_size + 12 * (i + 1)]) for i in range(ncolors)]

    def channel(value, mask, which=0):
        shift = (mask & -mask).bit_length() - 1
        index = (value & mask) >> shift
        if visual_class == 5 and index < len(colormap):
            return colormap[index][1 + which] >> 8
        return index

    rows = []
    for y in range(height):
        line = pixels[y * bytes_per_line:y * bytes_per_line + size * width]
        values = [int.from_bytes(line[x * size:(x + 1) * size], order) for x in range(width)]
        rows.append([(channel(v, red_mask), channel(v, green_mask, 1), channel(v, blue_mask, 2)) for v in values])
    return width, height, rows


CELL_W, CELL_H = 8, 16  # the console font Linux picks for 1024x768 (VGA 8x16)
# The console's colours (the VGA palette fbcon uses): the default light grey on black, and bright yellow on blue
# (ESC [1;33;44m).
FOREGROUND, BACKGROUND = (0xAA, 0xAA, 0xAA), (0, 0, 0)
BRIGHT_YELLOW, BLUE = (0xFF, 0xFF, 0x55), (0, 0, 0xAA)


def cell(rows, row, col, origin=(0, 0)):
    """The pixels of console cell (row, col) as a tuple of tuples, from an image whose console starts at origin."""
    x0, y0 = origin[0] + col * CELL_W, origin[1] + row * CELL_H
    return tuple(tuple(rows[y][x0:x0 + CELL_W]) for y in range(y0, y0 + CELL_H))


def glyph_mask(pixels, fg):
    """The cell's shape: which pixels have the foreground colour."""
    return tuple(tuple(p == fg for p in line) for line in pixels)


def text_problems(rows, row, col, text, origin=(0, 0), fg=FOREGROUND, bg=BACKGROUND, masks=None):
    """What is wrong with `text` (letters from a small alphabet, e.g. "ABABAB") printed at console cell (row, col) in
    colours fg on bg: each cell must hold exactly those two colours, a glyph (some foreground), equal letters the same
    shape and different letters different ones, and the cells either side blank (black). `masks` (letter -> shape)
    collects the shapes and, when it already has a letter, compares with it: the same letter in other colours must
    have the same shape. An empty list means the text is there."""
    problems, masks = [], {} if masks is None else masks
    seen = {}
    for i, letter in enumerate(text):
        pixels = cell(rows, row, col + i, origin)
        colours = {p for line in pixels for p in line}
        if colours != {fg, bg}:
            problems.append(f"cell {col + i}: colours {sorted(colours)[:4]}, expected {fg} on {bg}")
        mask = glyph_mask(pixels, fg)
        if sum(sum(line) for line in mask) < 10:
            problems.append(f"cell {col + i}: no glyph")
        masks.setdefault(letter, mask)
        seen.setdefault(letter, mask)
        if masks[letter] != mask:
            problems.append(f"cell {col + i}: '{letter}' has another shape than elsewhere")
    if len(set(seen.values())) != len(seen):
        problems.append("different letters drawn the same")
    for side in (col - 1, col + len(text)):
        if any(p != BACKGROUND for line in cell(rows, row, side, origin) for p in line):
            problems.append(f"cell {side} beside the text is not blank")
    return problems
