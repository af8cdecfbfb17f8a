"""report --html: one self-contained page (nothing fetched from anywhere) with
the summary, the heap over time, the flame graph and the site tables, loaded
in headless Chromium: it renders, the screenshot is not blank, the console
has no message at all (the flame graph's own script runs without a word).
An output that cannot be written leaves nothing behind and says why."""

import base64
import json
import os
import re
import struct
import subprocess
import zlib

import htcheck as h


def png_pixels(path):
    """(width, height, set of distinct pixels) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    h.expect(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            h.expect(depth == 8 and color in (2, 6) and not interlace,
                     "unexpected PNG layout: depth %d colour %d" % (depth, color))
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    pixels = set()
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 8 == 0:
            for x in range(0, stride, channels * 8):
                pixels.add(bytes(line[x:x + 3]))
        prev = line
    return width, height, pixels


def main():
    p = h.common_args(__doc__)
    p.add_argument("--chromium", required=True)
    args = p.parse_args()
    work = h.fresh_dir(args.workdir)
    trace = os.path.join(work, "patterns.ht")
    h.record(args.heaptrail, trace, [os.path.join(args.programs, "patterns")], ["-q"])
    page = os.path.join(work, "report.html")
    h.run([args.heaptrail, "report", "--html", page, trace])
    with open(page) as f:
        html = f.read()

    # Self-contained: no reference that a browser would fetch.
    for attr in re.findall(r'(?:src|href|data)\s*=\s*"([^"]*)"', html):
        h.expect(attr.startswith("data:") or attr.startswith("#"),
                 "the page refers to something outside itself: %s" % attr[:80])
    for needle in ("Summary", "Heap over time", "Flame graph", "Top sites by allocations",
                   "make_peak", "Sizes", "Threads"):
        h.expect(needle in html, "the page lacks %r" % needle)
    # The pictures are the plot and the flame graph, as SVG documents.
    images = re.findall(r'data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)', html)
    h.expect(len(images) == 2, "expected 2 embedded pictures, found %d" % len(images))
    flame = base64.b64decode(images[1]).decode()
    h.expect("<script" in flame and "make_peak" in flame,
             "the flame graph lacks its script or the peak site")

    shot = os.path.join(work, "report.png")
    cmd = [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
           "--hide-scrollbars", "--window-size=1200,1800", "--enable-logging=stderr", "--v=0",
           "--user-data-dir=" + os.path.join(work, "profile"), "--screenshot=" + shot,
           "file://" + page]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    h.expect(proc.returncode == 0 and os.path.exists(shot),
             "chromium did not render the page\n" + proc.stderr[-2000:])
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    h.expect(not console, "the console is not silent:\n" + "\n".join(console))
    width, height, pixels = png_pixels(shot)
    h.expect(width >= 1000 and height >= 1000, "screenshot of %dx%d" % (width, height))
    h.expect(len(pixels) > 20, "the screenshot is blank (%d distinct colours)" % len(pixels))

    # A destination that cannot be written: an error naming it, nothing left.
    bad = os.path.join(work, "no-such-dir", "report.html")
    cmd = [args.heaptrail, "report", "--html", bad, trace]
    proc = h.run(cmd, check=False)
    h.expect(proc.returncode == 1 and "no-such-dir" in proc.stderr,
             "an unwritable --html is not refused by name\n" + h.describe(cmd, proc))
    leftovers = [n for n in os.listdir(work) if n.startswith(".") or "tmp" in n]
    h.expect(not leftovers, "temporary files left behind: %s" % leftovers)
    cmd = [args.heaptrail, "report", "--html", page, "--json", trace]
    proc = h.run(cmd, check=False)
    h.expect(proc.returncode == 2 and "--html" in proc.stderr,
             "--json with --html is not a usage error\n" + h.describe(cmd, proc))


h.main_wrapper(main)
