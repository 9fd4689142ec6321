#!/usr/bin/env python3
"""make_corpus.py — writes the fuzz targets' seed inputs: small valid files of every kind
each reader accepts (tests/fuzz/corpus/NAME/) and hand-made malformed ones
(tests/fuzz/regressions/NAME/). Deterministic: running it again rewrites the same bytes.
Every file is named ok-* (must load) or err-* (must be refused with focalgrad::Error), which
tests/test_fuzz_regressions.cpp checks. Files it does not write (fuzzer findings) are kept.
Not here: progressive JPEG (no encoder at hand) and other rare variants; the fuzzer
mutates its way towards them from these.

Inputs begin with the option bytes of their target (see tests/fuzz/entries.h):
  idx      1 byte: expected_ndim = 1 + (b & 3) % 3; bit 2: the harness gzips the rest
  dataset  none: the image file, then SPLIT, then the label file
  image    2 bytes: width 1 + (b0 & 63), inversion b0 >> 6; height 1 + (b1 & 63)
  checkpoint  1 byte: the model, b & 3; bit 2: the harness rewrites the CRC; bit 3: load_model
  csv      1 byte: header (b & 3) % 3, label column (b >> 2) & 3, delimiter ';' if bit 4
  image_folder  1 byte: size 1 + (b & 7), RGB if bit 3; then files split by FILE_SPLIT

usage: tests/fuzz/make_corpus.py      (from anywhere; needs a C++ compiler for the JPEGs)
"""
import gzip
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPLIT = b"\n--labels--\n"  # entries.h: kSplit
FILE_SPLIT = b"\n--file--\n"  # entries.h: kFileSplit


def write(kind, target, name, data):
    """Writes tests/fuzz/KIND/TARGET/NAME (KIND is corpus or regressions)."""
    assert name.startswith(("ok-", "err-")), name
    d = os.path.join(HERE, kind, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def pattern(n, seed):
    """n deterministic bytes, different for every seed (a linear congruential generator)."""
    out, s = bytearray(n), (seed * 2654435761 + 1) & 0xFFFFFFFF
    for i in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = s >> 24
    return bytes(out)


# ---- IDX ------------------------------------------------------------------------------------

def idx(dims, data, type_code=0x08):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def labels(n, classes=10):
    return bytes((i * 7 + 3) % classes for i in range(n))


def idx_seeds():
    lab = idx([20], labels(20))
    img = idx([2, 5, 4], pattern(40, 1))
    mnist = idx([1, 28, 28], pattern(784, 2))
    # Mode byte: expected_ndim 1 -> 0x00, 2 -> 0x01, 3 -> 0x02; | 0x04 to gzip in the harness.
    ok = {
        "ok-labels-raw": b"\x00" + lab,
        "ok-labels-gz": b"\x00" + gz(lab),
        "ok-labels-harness-gz": b"\x04" + lab,
        "ok-labels-one": b"\x00" + idx([1], b"\x09"),
        "ok-matrix-2d-raw": b"\x01" + idx([3, 4], pattern(12, 3)),
        "ok-images-raw": b"\x02" + img,
        "ok-images-gz": b"\x02" + gz(img),
        "ok-images-harness-gz": b"\x06" + img,
        "ok-images-1x1x1": b"\x02" + idx([1, 1, 1], b"\xff"),
        "ok-images-28x28-gz": b"\x02" + gz(mnist),
        # gzip allows members back to back; the reader must join them.
        "ok-images-gz-two-members": b"\x02" + gz(img[:17]) + gz(img[17:]),
    }
    for name, data in ok.items():
        write("corpus", "idx", name, data)

    img_gz = gz(img)
    err = {
        "err-empty": b"\x02",
        "err-bad-magic": b"\x02" + b"\x01\x00" + img[2:],
        "err-html-page": b"\x02" + b"<!DOCTYPE html><html>404</html>",
        "err-type-int32": b"\x02" + idx([2, 5, 4], pattern(160, 1), type_code=0x0C),
        "err-wrong-ndim": b"\x00" + img,
        "err-zero-dim": b"\x02" + idx([2, 0, 4], b""),
        "err-header-cut": b"\x02" + img[:9],
        "err-truncated": b"\x02" + img[:-1],
        "err-trailing-byte": b"\x02" + img + b"\x00",
        "err-huge-dims": b"\x02" + idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b""),
        "err-huge-dims-gz": b"\x02" + gz(idx([60000, 28000, 28000], b"\x00" * 64)),
        "err-gz-truncated": b"\x02" + img_gz[:-5],
        "err-gz-bad-crc": b"\x02" + img_gz[:-8] + bytes([img_gz[-8] ^ 1]) + img_gz[-7:],
        "err-gz-garbage-after": b"\x02" + img_gz + b"junk",
        "err-gz-one-byte-after": b"\x02" + img_gz + b"\x1f",
        "err-gz-of-gz": b"\x06" + img_gz,
    }
    for name, data in err.items():
        write("regressions", "idx", name, data)


def dataset_seeds():
    imgs = idx([3, 4, 5], pattern(60, 4))
    labs = idx([3], labels(3))
    mnist_imgs = idx([2, 28, 28], pattern(2 * 784, 5))
    mnist_labs = idx([2], b"\x07\x02")
    ok = {
        "ok-raw-raw": imgs + SPLIT + labs,
        "ok-gz-gz": gz(imgs) + SPLIT + gz(labs),
        "ok-raw-gz": imgs + SPLIT + gz(labs),
        "ok-28x28-gz-raw": gz(mnist_imgs) + SPLIT + mnist_labs,
    }
    for name, data in ok.items():
        write("corpus", "dataset", name, data)
    err = {
        "err-no-split": imgs + labs,
        "err-count-mismatch": imgs + SPLIT + idx([2], labels(2)),
        "err-label-10": imgs + SPLIT + idx([3], b"\x01\x0a\x02"),
        "err-label-255": imgs + SPLIT + idx([3], b"\xff\x00\x00"),
        "err-files-swapped": labs + SPLIT + imgs,
        "err-labels-truncated-gz": imgs + SPLIT + gz(labs)[:-3],
    }
    for name, data in err.items():
        write("regressions", "dataset", name, data)


# ---- images ---------------------------------------------------------------------------------
# Test pictures: deterministic, with edges and gradients so that filters and predictors
# see varied data. Channels are interleaved, rows top to bottom.

def picture(w, h, channels):
    out = bytearray()
    for y in range(h):
        for x in range(w):
            ring = 255 if 9 <= (2 * x - w) ** 2 + (2 * y - h) ** 2 <= 40 else 0
            for c in range(channels):
                out.append([ring, (x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1),
                            255 - ring // 2][c % 4])
    return bytes(out)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_rows(rows, bpp, filters):
    """Filters each row (a bytes object) with the PNG filter given for it (0-4)."""
    out, prev = bytearray(), bytes(len(rows[0])) if rows else b""
    for row, f in zip(rows, filters):
        enc = bytearray([f])
        for i, v in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:  # Paeth
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            enc.append((v - pred) & 255)
        out += enc
        prev = row
    return bytes(out)


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s * 257) for s in samples)
    out, acc, n = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | (s >> (8 - depth) if depth < 8 else s)
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png(w, h, color_type, depth=8, interlace=False, palette=None, trns=None, idat_parts=1,
        samples=None, iphone=False):
    """A PNG; `samples` are 8-bit values per channel (palette indices for type 3)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    if samples is None:
        samples = picture(w, h, channels)
    bpp = max(1, channels * depth // 8)

    def rows_of(xs, ys):
        return [pack_row([samples[(y * w + x) * channels + c] for x in xs for c in range(channels)],
                         depth) for y in ys]

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            xs, ys = range(x0, w, dx), range(y0, h, dy)
            if len(xs) and len(ys):
                rows = rows_of(xs, ys)
                raw += png_rows(rows, bpp, [(i + 1) % 5 for i in range(len(rows))])
    else:
        rows = rows_of(range(w), range(h))
        raw = png_rows(rows, bpp, [i % 5 for i in range(h)])
    # Apple's CgBI PNGs hold raw deflate data (no zlib header); stb_image reads them, but
    # only with at least 4 bytes after the deflate data, where zlib's checksum would be.
    comp = zlib.compressobj(9, zlib.DEFLATED, -15 if iphone else 15)
    data = comp.compress(raw) + comp.flush() + (bytes(4) if iphone else b"")
    out = b"\x89PNG\r\n\x1a\n"
    if iphone:
        out += chunk(b"CgBI", b"\x50\x00\x20\x02")
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette:
        out += chunk(b"PLTE", palette)
    if trns:
        out += chunk(b"tRNS", trns)
    step = -(-len(data) // idat_parts)
    for i in range(0, len(data), step):
        out += chunk(b"IDAT", data[i:i + step])
    return out + chunk(b"IEND", b"")


def bmp(w, h, bpp, top_down=False, v4=False):
    """An uncompressed BMP (stb_image reads no RLE): 1/4/8-bit palette, 16/24/32-bit."""
    grey = picture(w, h, 1)
    rgba = picture(w, h, 4)
    palette = b""
    if bpp <= 8:
        n = 1 << bpp
        palette = b"".join(bytes([i * 255 // (n - 1), (i * 97) % 256, 255 - i * 255 // (n - 1), 0])
                           for i in range(n))
    rows = []
    for y in range(h):
        if bpp <= 8:
            row = pack_row([grey[y * w + x] for x in range(w)], bpp) if bpp < 8 else \
                bytes(grey[y * w + x] for x in range(w))
        elif bpp == 16:  # 5-6-5
            row = b"".join(struct.pack("<H", (rgba[4 * (y * w + x)] >> 3) << 11 |
                                       (rgba[4 * (y * w + x) + 1] >> 2) << 5 |
                                       rgba[4 * (y * w + x) + 2] >> 3) for x in range(w))
        elif bpp == 24:
            row = b"".join(bytes(rgba[4 * (y * w + x):4 * (y * w + x) + 3][::-1]) for x in range(w))
        else:
            row = b"".join(bytes([rgba[4 * (y * w + x) + 2], rgba[4 * (y * w + x) + 1],
                                  rgba[4 * (y * w + x)], rgba[4 * (y * w + x) + 3]])
                           for x in range(w))
        rows.append(row + bytes(-len(row) % 4))
    pixels = b"".join(rows if top_down else rows[::-1])
    bitfields = bpp in (16, 32)
    masks = {16: (0xF800, 0x07E0, 0x001F, 0), 32: (0xFF0000, 0xFF00, 0xFF, 0xFF000000)}.get(bpp)
    if v4:  # BITMAPV4HEADER: 108 bytes, masks inside the header
        header = struct.pack("<IiiHHIIiiII", 108, w, -h if top_down else h, 1, bpp,
                             3 if bitfields else 0, len(pixels), 2835, 2835, 0, 0)
        header += struct.pack("<IIII", *(masks or (0, 0, 0, 0))) + b"BGRs" + bytes(36 + 12)
    else:
        header = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp,
                             3 if bitfields else 0, len(pixels), 2835, 2835, 0, 0)
        if bitfields:
            header += struct.pack("<III", *masks[:3])
    offset = 14 + len(header) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + palette + pixels


def lzw(indices, min_code_size):
    """GIF's LZW: variable-width codes, least significant bit first, in 255-byte blocks."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    table = {bytes([i]): i for i in range(clear)}
    next_code, width = end + 1, min_code_size + 1
    bits, nbits, out = 0, 0, bytearray()

    def emit(code):
        nonlocal bits, nbits
        bits |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 255)
            bits >>= 8
            nbits -= 8

    emit(clear)
    run = b""
    for i in indices:
        cand = run + bytes([i])
        if cand in table:
            run = cand
            continue
        emit(table[run])
        if next_code < 4096:
            table[cand] = next_code
            next_code += 1
            if next_code > (1 << width) and width < 12:
                width += 1
        run = bytes([i])
    if run:
        emit(table[run])
    emit(end)
    if nbits:
        out.append(bits & 255)
    return bytes([min_code_size]) + b"".join(
        bytes([len(out[i:i + 255])]) + out[i:i + 255] for i in range(0, len(out), 255)) + b"\x00"


def gif(w, h, interlace=False, transparent=None, frames=1, local_palette=False):
    palette = b"".join(bytes([i * 36 % 256, i * 73 % 256, 255 - i * 16]) for i in range(16))
    grey = picture(w, h, 1)
    indices = bytes(grey[i] >> 4 for i in range(w * h))
    if interlace:  # rows in the order 0, 8, 16.. / 4, 12.. / 2, 6.. / 1, 3..
        order = [y for start, step in ((0, 8), (4, 8), (2, 4), (1, 2)) for y in range(start, h, step)]
        indices = b"".join(indices[y * w:(y + 1) * w] for y in order)
    out = b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80 | 0x30 | 3, 0, 0) + palette
    for f in range(frames):
        if transparent is not None or frames > 1:
            flags = (1 if transparent is not None else 0) | (1 << 2)
            out += b"\x21\xf9\x04" + struct.pack("<BHB", flags, 10, transparent or 0) + b"\x00"
        packed = (0x40 if interlace else 0) | (0x80 | 3 if local_palette else 0)
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, packed)
        if local_palette:
            out += palette[::-1]
        out += lzw(indices if f == 0 else indices[::-1], 4)
    return out + b"\x3b"


def pnm(w, h, colour=False, maxval=255):
    channels = 3 if colour else 1
    head = b"%s\n# a comment\n%d %d\n%d\n" % (b"P6" if colour else b"P5", w, h, maxval)
    px = picture(w, h, channels)
    if maxval > 255:
        return head + b"".join(struct.pack(">H", v * maxval // 255) for v in px)
    return head + bytes(v * maxval // 255 for v in px)


def tga(w, h, image_type, bpp, rle=False, colormap=False, top_left=False):
    channels = {8: 1, 16: 3, 24: 3, 32: 4}[bpp] if not colormap else 1
    px = picture(w, h, 4)
    cmap = b""
    if colormap:
        cmap = b"".join(bytes([i * 16, 255 - i * 16, (i * 40) % 256]) for i in range(16))
    head = struct.pack("<BBBHHBHHHHBB", 0, 1 if colormap else 0, image_type | (8 if rle else 0),
                       0, 16 if colormap else 0, 24 if colormap else 0, 0, 0, w, h, bpp,
                       (0x20 if top_left else 0) | (8 if bpp == 32 else 0))
    pixels = []
    for i in range(w * h):
        r, g, b, a = px[4 * i:4 * i + 4]
        if colormap:
            pixels.append(bytes([r >> 4]))
        elif bpp == 8:
            pixels.append(bytes([r]))
        elif bpp == 16:
            pixels.append(struct.pack("<H", (r >> 3) << 10 | (g >> 3) << 5 | b >> 3))
        else:
            pixels.append(bytes([b, g, r] + ([a] if channels == 4 else [])))
    if not rle:
        return head + cmap + b"".join(pixels)
    data, i = bytearray(), 0
    while i < len(pixels):  # runs of equal pixels, else raw packets of up to 128
        j = i
        while j + 1 < len(pixels) and pixels[j + 1] == pixels[i] and j - i < 127:
            j += 1
        if j > i:
            data += bytes([0x80 | (j - i)]) + pixels[i]
            i = j + 1
        else:
            k = i
            while k + 1 < len(pixels) and pixels[k + 1] != pixels[k] and k - i < 127:
                k += 1
            data += bytes([k - i]) + b"".join(pixels[i:k + 1])
            i = k + 1
    return head + cmap + bytes(data)


def hdr(w, h, rle):
    px = picture(w, h, 3)
    head = b"#?RADIANCE\n# made by make_corpus.py\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (h, w)
    rows = []
    for y in range(h):
        rgbe = [(px[3 * (y * w + x)] // 2, px[3 * (y * w + x) + 1] // 2, px[3 * (y * w + x) + 2] // 2,
                 129) for x in range(w)]
        if not rle:
            rows.append(b"".join(bytes(p) for p in rgbe))
            continue
        row = bytearray([2, 2, w >> 8, w & 255])
        for c in range(4):
            comp = [p[c] for p in rgbe]
            half = len(comp) // 2  # a run for the first half, a literal for the rest
            row += bytes([128 + half, comp[0]]) + bytes([len(comp) - half]) + bytes(comp[half:])
        rows.append(bytes(row))
    return head + b"".join(rows)


def psd(w, h, channels, rle):
    px = picture(w, h, 4)
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, h, w, 8, 3) + struct.pack(">III", 0, 0, 0)
    planes = [bytes(px[4 * i + c] for i in range(w * h)) for c in range(channels)]
    if not rle:
        return head + struct.pack(">H", 0) + b"".join(planes)
    counts, data = [], bytearray()
    for plane in planes:
        for y in range(h):
            row = plane[y * w:(y + 1) * w]
            # PackBits: a repeat packet for the first two bytes, a literal for the rest.
            packed = bytes([257 - 2, row[0]]) + bytes([len(row) - 3]) + row[2:]
            counts.append(len(packed))
            data += packed
    return head + struct.pack(">H", 1) + b"".join(struct.pack(">H", n) for n in counts) + bytes(data)


def pic(w, h, packet_type):
    px = picture(w, h, 4)
    head = b"\x53\x80\xf6\x34" + struct.pack(">f", 3.71) + b"make_corpus.py".ljust(80, b"\0")
    head += b"PICT" + struct.pack(">HHfHH", w, h, 1.0, 3, 0)
    head += bytes([0, 8, packet_type, 0xF0])  # one packet, 8 bits, R G B A
    data = bytearray()
    for y in range(h):
        row = [bytes(px[4 * (y * w + x):4 * (y * w + x) + 4]) for x in range(w)]
        if packet_type == 0:
            data += b"".join(row)
        else:  # mixed RLE: a repeat of the first pixel, then the rest raw
            data += bytes([128 + 1]) + row[0] + bytes([w - 3]) + b"".join(row[2:])
    return head + bytes(data)


def image_seeds(jpeg_dir):
    # Option bytes: output size and inversion (entries.h), a few combinations.
    options = [b"\x1b\x1b", b"\x5b\x1b", b"\x87\x09", b"\xff\x3f", b"\x0f\x0b", b"\x10\x0c"]
    pal16 = b"".join(bytes([i * 17, 255 - i * 17, (i * 50) % 256]) for i in range(16))
    seeds = {
        "png-grey8": png(16, 12, 0),
        "png-grey16": png(9, 7, 0, depth=16),
        "png-grey1": png(13, 5, 0, depth=1),
        "png-grey2-interlaced": png(11, 9, 0, depth=2, interlace=True),
        "png-grey4": png(7, 6, 0, depth=4),
        "png-rgb8": png(16, 12, 2),
        "png-rgb16": png(5, 4, 2, depth=16),
        "png-rgba8-interlaced": png(12, 10, 6, interlace=True),
        "png-grey-alpha8": png(8, 8, 4),
        "png-palette8-trns": png(9, 9, 3, palette=pal16, trns=bytes(range(0, 256, 16)),
                                 samples=bytes(v >> 4 for v in picture(9, 9, 1))),
        "png-palette4": png(10, 3, 3, depth=4, palette=pal16,
                            samples=bytes(v & 0xF0 for v in picture(10, 3, 1))),
        "png-grey8-trns": png(6, 6, 0, trns=b"\x00\x00"),
        "png-rgb8-idat-split": png(16, 12, 2, idat_parts=4),
        "png-cgbi-iphone": png(6, 5, 6, iphone=True),
        "png-28x28": png(28, 28, 0),
        "bmp-24": bmp(7, 5, 24),
        "bmp-32-v4-alpha": bmp(6, 4, 32, v4=True),
        "bmp-16-565": bmp(5, 3, 16),
        "bmp-8-palette-top-down": bmp(9, 4, 8, top_down=True),
        "bmp-4-palette": bmp(5, 5, 4),
        "bmp-1": bmp(17, 3, 1),
        "gif-basic": gif(10, 7),
        "gif-interlaced-transparent": gif(9, 11, interlace=True, transparent=3),
        "gif-two-frames-local-palette": gif(6, 5, frames=2, local_palette=True),
        "pgm-p5": pnm(8, 6),
        "ppm-p6": pnm(7, 5, colour=True),
        "pgm-p5-maxval-15": pnm(6, 5, maxval=15),
    }
    for name in sorted(os.listdir(jpeg_dir)):
        with open(os.path.join(jpeg_dir, name), "rb") as f:
            seeds["jpeg-" + name[:-4]] = f.read()
    # Options chosen by name: adding a seed moves no other. The 28 x 28 PNG is read at its
    # own size, the one case that copies pixels without resampling.
    for name, data in seeds.items():
        opts = options[zlib.crc32(name.encode()) % len(options)]
        write("corpus", "image", "ok-" + name, (b"\x1b\x1b" if name == "png-28x28" else opts) + data)

    opt = b"\x1b\x1b"
    png_ok = png(64, 64, 0)
    jpeg = seeds["jpeg-rgb-q50"]

    def png_header(w, h):
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))

    err = {
        "err-empty": b"",
        "err-options-only": opt,
        "err-text": opt + b"hello, this is not an image\n",
        "err-png-truncated": opt + png_ok[:len(png_ok) // 2],
        "err-png-no-idat": opt + png_header(4, 4) + chunk(b"IEND", b""),
        "err-png-huge-dims": opt + png_header(6000, 6000) + chunk(b"IEND", b""),
        "err-png-absurd-width": opt + png_header(1 << 30, 1) + chunk(b"IEND", b""),
        "err-png-bad-depth": opt + png_header(4, 4)[:24] + b"\x03" + png_header(4, 4)[25:],
        "err-jpeg-truncated": opt + jpeg[:len(jpeg) // 3],
        "err-jpeg-header-only": opt + jpeg[:2],
        "err-gif-huge-dims": opt + b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b"\x3b",
        "err-bmp-rle8": opt + bmp(4, 4, 8)[:30] + b"\x01" + bmp(4, 4, 8)[31:],
        # stbi_info gives a top-down BMP's height as negative: this passed the pixel limit.
        "err-bmp-top-down-huge": opt + bmp(1, 1, 24)[:18] + struct.pack("<ii", 10000, -10000) +
                                 bmp(1, 1, 24)[26:],
        "err-pnm-huge-dims": opt + b"P5\n60000 60000\n255\n" + bytes(16),
        # stb_image misreads 16-bit PNM, and read past its buffer converting one (a finding).
        "err-pgm-16bit-stb-read-past-buffer": opt + pnm(5, 4, maxval=65535),
        # Not read since stb_image's PSD loader converted out-of-range floats (a finding).
        "err-psd-rgba-rle-stb-float-cast-overflow": b"\x0f\x0b" + psd(6, 3, 4, rle=True),
        "err-psd-rgb-raw": opt + psd(5, 4, 3, rle=False),
        # Not read since stb_image's PIC loader dereferenced null on corrupt data (a finding).
        "err-pic-raw": opt + pic(5, 3, 0),
        "err-pic-mixed-rle": opt + pic(8, 2, 2),
        # Not read since stb_image's HDR loader looped forever on a cut scanline (a finding).
        "err-hdr-flat": opt + hdr(5, 4, rle=False),
        "err-hdr-rle": opt + hdr(16, 3, rle=True),
        "err-hdr-flat-truncated": opt + hdr(5, 4, rle=False)[:-7],
    }
    # TGA is not read: it has no magic number, and stb_image decoded a truncated one with
    # its missing pixels black.
    for name, data in {
            "tga-24": tga(6, 4, 2, 24),
            "tga-32-rle-top-left": tga(12, 3, 2, 32, rle=True, top_left=True),
            "tga-grey8-rle": tga(9, 4, 3, 8, rle=True),
            "tga-colormapped": tga(5, 5, 1, 8, colormap=True),
            "tga-16": tga(4, 4, 2, 16),
            "tga-truncated": tga(6, 4, 2, 24)[:-10],
    }.items():
        err["err-" + name] = opt + data
    ok = {}
    err["err-pgm-truncated"] = opt + b"P5\n64 64\n255\n" + bytes([200]) * 10
    err["err-ppm-truncated-by-one"] = opt + pnm(7, 5, colour=True)[:-1]
    # Truncated files of every format read are refused (stb_image decoded a cut GIF with
    # its missing part white, a cut BMP with its missing rows black).
    err["err-gif-truncated"] = opt + gif(10, 7)[:-12]
    err["err-gif-no-trailer"] = opt + gif(10, 7)[:-1]
    err["err-bmp-truncated"] = opt + bmp(5, 5, 24)[:-20]
    err["err-png-no-iend-crc"] = opt + png_ok[:-4]
    err["err-pgm-sample-above-maxval"] = opt + b"P5\n2 2\n15\n" + bytes([0, 15, 16, 3])
    err["err-pgm-maxval-0"] = opt + b"P5\n2 2\n0\n" + bytes(4)
    err["err-png-100000x100000"] = opt + png_header(100000, 100000) + chunk(b"IEND", b"")
    for name, data in list(err.items()) + list(ok.items()):
        write("regressions", "image", name, data)


# ---- checkpoints ----------------------------------------------------------------------------
# The layout of nn/checkpoint.h, written here from its documentation, not by save(): the
# target checks that save() writes back exactly these bytes, so the two must agree.

# The parameters of the target's models, in named_parameters() order (entries.h).
MODELS = [
    [("0.weight", [3, 4]), ("0.bias", [3]), ("2.weight", [2, 3]), ("2.bias", [2])],
    [("0.weight", [3, 4]), ("2.weight", [2, 3]), ("2.bias", [2])],
    [("temperature", []), ("encoder.0.weight", [2, 1, 2, 2]), ("encoder.0.bias", [2]),
     ("head.weight", [2, 8]), ("head.bias", [2])],
]
RESEAL = 0x04  # option bit: the harness rewrites the CRC


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def record(name, shape, data, rank=None):
    """One tensor: name length, name, rank, int64 sizes, data (bytes)."""
    name = name.encode() if isinstance(name, str) else name
    rank = len(shape) if rank is None else rank
    return (struct.pack("<I", len(name)) + name + struct.pack("<I", rank) +
            b"".join(struct.pack("<q", s) for s in shape) + data)


def floats(n, seed):
    """n little-endian floats in [-1, 1), exactly representable, different for every seed."""
    return b"".join(struct.pack("<f", (b - 128) / 128) for b in pattern(n, seed))


def checkpoint(records, count=None, magic=b"FOCALGRD", version=1):
    """A checkpoint with a correct CRC; `records` are bytes from record()."""
    body = magic + struct.pack("<II", version, len(records) if count is None else count)
    body += b"".join(records)
    return body + struct.pack("<I", zlib.crc32(body))


def model_records(arch, seed, values=None):
    """Every tensor of model `arch`, with floats from `seed` (or the bytes `values` cut up)."""
    out, at = [], 0
    for i, (name, shape) in enumerate(MODELS[arch]):
        n = numel(shape)
        data = floats(n, seed * 16 + i) if values is None else values[4 * at:4 * (at + n)]
        at += n
        out.append(record(name, shape, data))
    return out


def checkpoint_seeds():
    # Bits load() must copy unchanged: NaNs with payloads (quiet and signalling), both
    # infinities, -0, the smallest and largest subnormals, the largest float.
    special = [0x7FC00001, 0xFFC12345, 0x7F800001, 0x7F800000, 0xFF800000, 0x80000000,
               0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0x3F800000, 0x00000000, 0xBF800000]
    special_bytes = b"".join(struct.pack("<I", v) for v in special) + floats(32, 9)
    mlp = model_records(0, 1)
    conv = model_records(2, 3)
    ok = {
        "ok-mlp": b"\x00" + checkpoint(mlp),
        "ok-mlp-no-bias": b"\x01" + checkpoint(model_records(1, 2)),
        "ok-conv": b"\x02" + checkpoint(conv),
        "ok-mlp-special-floats": b"\x00" + checkpoint(model_records(0, 0, special_bytes)),
        "ok-conv-special-floats": b"\x02" + checkpoint(model_records(2, 0, special_bytes)),
        # load() matches tensors by name, whatever their order in the file.
        "ok-conv-records-reversed": b"\x02" + checkpoint(conv[::-1]),
        "ok-mlp-no-bias-records-rotated": b"\x01" + checkpoint(model_records(1, 4)[1:] +
                                                               model_records(1, 4)[:1]),
        # The CRC field holds zeros; the harness writes the right one.
        "ok-mlp-crc-by-harness": bytes([RESEAL]) + checkpoint(mlp)[:-4] + bytes(4),
    }
    for name, data in ok.items():
        write("corpus", "checkpoint", name, data)

    good = checkpoint(mlp)

    def mlp_with_first(first, **kw):
        """Model 0's file with its first tensor replaced by the record `first`."""
        return b"\x00" + checkpoint([first] + mlp[1:], **kw)

    w = floats(12, 5)  # 12 floats, what 0.weight [3, 4] holds
    err = {
        "err-empty": b"\x00",
        "err-magic-only": b"\x00FOCALGRD",
        "err-header-only": b"\x00" + good[:16],
        "err-truncated-by-2": b"\x00" + good[:-2],
        "err-truncated-mid-name": b"\x00" + good[:22],
        "err-trailing-byte": b"\x00" + checkpoint(mlp + [b"\x00"], count=4),
        "err-crc-flipped": b"\x00" + good[:-1] + bytes([good[-1] ^ 0x80]),
        "err-data-flipped": b"\x00" + good[:-6] + bytes([good[-6] ^ 1]) + good[-5:],
        "err-wrong-magic": b"\x00" + checkpoint(mlp, magic=b"FOCALGRX"),
        "err-zip-file": b"\x00" + checkpoint(mlp, magic=b"PK\x03\x04\x14\x00\x00\x00"),
        "err-version-3": b"\x00" + checkpoint(mlp, version=3),
        "err-version-huge": b"\x00" + checkpoint(mlp, version=0xFFFFFFFF),
        "err-html-page": b"\x00<!DOCTYPE html><html>404</html>",
        # Counts, lengths and sizes that announce more than the file holds, or nonsense.
        "err-huge-count": b"\x00" + checkpoint(mlp, count=0xFFFFFFFF),
        "err-count-one-more": b"\x00" + checkpoint(mlp, count=5),
        "err-count-zero": b"\x00" + checkpoint([]),
        "err-huge-name-length": mlp_with_first(struct.pack("<I", 0xFFFFFFFF) + b"0.weight"),
        "err-name-length-4097": mlp_with_first(record("w" * 4097, [1], floats(1, 5))),
        "err-name-length-zero": mlp_with_first(record("", [3, 4], w)),
        "err-huge-rank": mlp_with_first(record("0.weight", [3, 4], w, rank=0xFFFFFFFF)),
        "err-rank-9": mlp_with_first(record("0.weight", [1] * 9, floats(1, 5))),
        "err-huge-shape": mlp_with_first(record("0.weight", [1 << 62, 4], w)),
        "err-shape-product-overflows": mlp_with_first(
            record("0.weight", [1 << 32, 1 << 32, 1 << 32, 3], w)),
        "err-negative-size": mlp_with_first(record("0.weight", [-3, -4], w)),
        "err-huge-shape-times-zero": mlp_with_first(record("0.weight", [1 << 62, 0], b"")),
        # Sound files that do not fit the model.
        "err-duplicate-name": b"\x00" + checkpoint(mlp[:3] + [record("0.weight", [2], w[:8])]),
        "err-wrong-shape-transposed": mlp_with_first(record("0.weight", [4, 3], w)),
        "err-rank-0-for-a-vector": b"\x00" + checkpoint(mlp[:1] + [record("0.bias", [], w[:4])] +
                                                         mlp[2:]),
        "err-name-with-nul": mlp_with_first(record(b"0.weight\x00", [3, 4], w)),
        "err-mlp-into-no-bias-model": b"\x01" + good,
        "err-no-bias-into-mlp-model": b"\x00" + checkpoint(model_records(1, 2)),
        "err-mlp-into-conv-model": b"\x02" + good,
        "err-conv-into-mlp-model": b"\x00" + checkpoint(conv),
    }
    for name, data in err.items():
        write("regressions", "checkpoint", name, data)
    checkpoint_v2_seeds()


# Version 2: typed records; the model's parameters, then buffers, then generators, then
# info and state, in the order save() writes them (entries.h checks it writes these bytes).
F32, F64, I64, BYTES = 0, 1, 2, 3
MODELS.append([("0.weight", [3, 4]), ("0.bias", [3]), ("1.weight", [3]), ("1.bias", [3]),
               ("3.weight", [2, 3]), ("3.bias", [2]), ("1.running_mean", [3]), ("1.running_var", [3])])
ARCHITECTURES = [
    "Sequential(\n  (0): Linear(4, 3)\n  (1): ReLU()\n  (2): Linear(3, 2)\n)",
    "Sequential(\n  (0): Linear(4, 3, bias=false)\n  (1): ReLU()\n  (2): Linear(3, 2)\n)",
    None,  # a custom module: not rebuildable
    "Sequential(\n  (0): Linear(4, 3)\n  (1): BatchNorm1d(3, eps=1e-05, momentum=0.1)\n  (2): Dropout(p=0.5)\n"
    "  (3): Linear(3, 2)\n)",
]
LOAD_MODEL = 0x08  # option bit: load_model


def record2(name, type_code, shape, data, rank=None):
    """One version-2 record: name length, name, type, rank, int64 sizes, data (bytes)."""
    name = name.encode() if isinstance(name, str) else name
    rank = len(shape) if rank is None else rank
    return (struct.pack("<I", len(name)) + name + struct.pack("<II", type_code, rank) +
            b"".join(struct.pack("<q", s) for s in shape) + data)


def model_records2(arch, seed):
    out = [record2("model:" + name, F32, shape, floats(numel(shape), seed * 16 + i))
           for i, (name, shape) in enumerate(MODELS[arch])]
    if arch == 3:
        out.append(record2("model:2.generator", I64, [2], struct.pack("<QQ", 0x0123456789ABCDEF, 0xDA3E39CB94B95BDB)))
    return out


def text(name, value):
    value = value.encode()
    return record2(name, BYTES, [len(value)], value)


def info_records(arch, classes=("cat", "dog")):
    names = "".join(c + "\n" for c in classes)
    return [text("info:architecture", ARCHITECTURES[arch]), record2("info:input_shape", I64, [1], struct.pack("<q", 4)),
            record2("info:input_mean", F64, [1], struct.pack("<d", 0.5)),
            record2("info:input_std", F64, [1], struct.pack("<d", 0.25)), text("info:class_names", names)]


def state_records():
    """A StateDict of every kind, keys in sorted order."""
    return [record2("state:epoch", I64, [1], struct.pack("<q", 3)),
            record2("state:optimizer.exp_avg.0", F32, [3, 4], floats(12, 77)),
            record2("state:optimizer.lr", F64, [1], struct.pack("<d", 0.01)),
            text("state:optimizer.type", "Adam")]


def checkpoint_v2_seeds():
    mlp, bn = model_records2(0, 1), model_records2(3, 2)
    ok = {
        "ok-v2-mlp": b"\x00" + checkpoint(mlp, version=2),
        "ok-v2-no-bias": b"\x01" + checkpoint(model_records2(1, 3), version=2),
        "ok-v2-conv": b"\x02" + checkpoint(model_records2(2, 4), version=2),
        "ok-v2-batchnorm-dropout": b"\x03" + checkpoint(bn, version=2),
        "ok-v2-mlp-info-and-state": b"\x00" + checkpoint(mlp + info_records(0) + state_records(), version=2),
        "ok-v2-records-reversed": b"\x03" + checkpoint((bn + info_records(3))[::-1], version=2),
        "ok-v2-crc-by-harness": bytes([RESEAL | 3]) + checkpoint(bn, version=2)[:-4] + bytes(4),
        "ok-v2-load-model-mlp": bytes([LOAD_MODEL]) + checkpoint(mlp + info_records(0), version=2),
        "ok-v2-load-model-no-bias": bytes([LOAD_MODEL]) + checkpoint(model_records2(1, 5) + info_records(1),
                                                                     version=2),
        "ok-v2-load-model-batchnorm-dropout": bytes([LOAD_MODEL]) + checkpoint(bn + info_records(3) + state_records(),
                                                                               version=2),
    }
    for name, data in ok.items():
        write("corpus", "checkpoint", name, data)
    odd_gen = bn[:-1] + [record2("model:2.generator", I64, [2], struct.pack("<QQ", 5, 6))]
    err = {
        "err-v2-unknown-info": b"\x00" + checkpoint(mlp + [text("info:colour", "red")], version=2),
        "err-v2-record-without-part": b"\x00" + checkpoint(mlp + [record2("0.weight", F32, [1], floats(1, 1))],
                                                             version=2),
        "err-v2-type-7": b"\x00" + checkpoint(mlp + [record2("state:x", 7, [1], b"\x00")], version=2),
        "err-v2-model-as-float64": b"\x00" + checkpoint(
            [record2("model:0.weight", F64, [3, 4], bytes(96))] + mlp[1:], version=2),
        "err-v2-state-int64-rank-2": b"\x00" + checkpoint(mlp + [record2("state:n", I64, [1, 1], bytes(8))],
                                                            version=2),
        "err-v2-input-shape-as-float64": b"\x00" + checkpoint(
            mlp + [record2("info:input_shape", F64, [1], bytes(8))], version=2),
        "err-v2-class-names-without-newline": b"\x00" + checkpoint(mlp + [text("info:class_names", "a\nb")],
                                                                    version=2),
        "err-v2-empty-class-name": b"\x00" + checkpoint(mlp + [text("info:class_names", "a\n\n")], version=2),
        "err-v2-mean-without-std": b"\x00" + checkpoint(mlp + info_records(0)[2:3], version=2),
        "err-v2-std-zero": b"\x00" + checkpoint(
            mlp + info_records(0)[2:3] + [record2("info:input_std", F64, [1], struct.pack("<d", 0.0))], version=2),
        "err-v2-generator-even-increment": b"\x03" + checkpoint(odd_gen, version=2),
        "err-v2-generator-missing": b"\x03" + checkpoint(bn[:-1], version=2),
        "err-v2-buffer-missing": b"\x03" + checkpoint(bn[:-2] + bn[-1:], version=2),
        "err-v2-huge-count": b"\x00" + checkpoint(mlp, count=70000, version=2),
        "err-v2-huge-text": b"\x00" + checkpoint(mlp + [record2("info:architecture", BYTES, [1 << 40], b"")],
                                                   version=2),
        "err-v2-load-model-without-architecture": bytes([LOAD_MODEL]) + checkpoint(mlp, version=2),
        "err-v2-load-model-version-1": bytes([LOAD_MODEL]) + checkpoint(model_records(0, 1)),
        "err-v2-load-model-custom-module": bytes([LOAD_MODEL]) + checkpoint(
            model_records2(2, 1) + [text("info:architecture", "CheckpointConvNet")], version=2),
        "err-v2-load-model-architecture-too-big": bytes([LOAD_MODEL]) + checkpoint(
            mlp + [text("info:architecture", "Linear(100000, 100000)")], version=2),
        "err-v2-load-model-architecture-mismatch": bytes([LOAD_MODEL]) + checkpoint(
            mlp + [text("info:architecture", ARCHITECTURES[1])], version=2),
        "err-v2-load-model-architecture-garbage": bytes([LOAD_MODEL]) + checkpoint(
            mlp + [text("info:architecture", "Sequential(\n  (0): Linear(4, 3")], version=2),
    }
    for name, data in err.items():
        write("regressions", "checkpoint", name, data)


# ---- CSV tables -----------------------------------------------------------------------------

def csv_seeds():
    ok = {
        "ok-header-text-labels": b"\x00x,y,label\n0.5,1,cat\n-2,3e2,dog\n+.25,4,cat\n",
        "ok-no-header-integer-labels": b"\x00" + b"".join(b"%d.5,%d,%d\n" % (i, -i, i % 3) for i in range(20)),
        "ok-label-first-by-number": b"\x04label,a,b\n1,2,3\n0,4,5\n",
        "ok-label-by-name": b"\x0cx,y,z\n1,2,3\n4,5,6\n",
        "ok-semicolons-quotes-crlf": b"\x10a;b;kind\r\n1;\"2\";\"x;\"\"y\"\"\"\r\n\r\n3;4;z\r\n",
        "ok-forced-header": b"\x011,2,0\n3,4,1\n",
        "ok-forced-no-header": b"\x025,6,1\n7,8,0\n",
        "ok-minus-one-plus-one": b"\x001,-1\n2,1\n3,-1\n",
    }
    for name, data in ok.items():
        write("corpus", "csv", name, data)
    err = {
        "err-empty": b"\x00",
        "err-blank-lines": b"\x00\n \r\n\n",
        "err-header-only": b"\x00a,b,y\n",
        "err-one-column": b"\x001\n2\n",
        "err-ragged": b"\x00a,b,y\n1,2,0\n3,4\n",
        "err-bad-cell": b"\x00a,b,y\n1,x7,0\n",
        "err-nan": b"\x00a,b,y\n1,nan,0\n",
        "err-inf": b"\x00a,b,y\n1,inf,0\n",
        "err-too-large-for-float": b"\x00a,b,y\n1,1e39,0\n",
        "err-empty-cell": b"\x00a,b,y\n1,,0\n",
        "err-empty-label": b"\x00a,b,y\n1,2,\n",
        "err-unclosed-quote": b"\x00a,b,y\n1,\"2,0\n",
        "err-text-after-quote": b"\x00a,b,y\n1,\"2\"x,0\n",
        "err-no-such-label-column": b"\x0ca,b,c\n1,2,3\n",
        "err-label-name-without-header": b"\x0e1,2,3\n",
        "err-control-bytes": b"\x00a,b,y\n1,\x01\x1b[2J,0\n",
        "err-binary": b"\x00\x89PNG\r\n\x1a\n\x00\x00",
    }
    for name, data in err.items():
        write("regressions", "csv", name, data)


# ---- image folders --------------------------------------------------------------------------

def image_folder_seeds():
    grey = [png(3, 3, 0, samples=pattern(9, i)) for i in range(4)]
    rgb = [png(4, 2, 2, samples=pattern(24, i)) for i in range(3)]
    ok = {
        "ok-grey-3-classes": b"\x02" + FILE_SPLIT.join(grey),
        "ok-rgb-resized": b"\x0b" + FILE_SPLIT.join(rgb),
        "ok-grey-from-rgb": b"\x00" + FILE_SPLIT.join(rgb[:2]),
        "ok-one-class": b"\x07" + grey[0],
        "ok-palette-and-alpha": b"\x0a" + FILE_SPLIT.join(
            [png(2, 2, 3, palette=bytes(range(12)), samples=bytes([0, 1, 2, 3])), png(2, 2, 6),
             pnm(3, 2), pnm(2, 2, colour=True)]),
    }
    for name, data in ok.items():
        write("corpus", "image_folder", name, data)
    err = {
        "err-empty": b"\x00",
        "err-not-an-image": b"\x00" + grey[0] + FILE_SPLIT + b"hello",
        "err-truncated-png": b"\x00" + grey[1][:-20],
        "err-all-broken": b"\x00" + FILE_SPLIT.join([b"x", b"y", b"z", b"w"]),
    }
    for name, data in err.items():
        write("regressions", "image_folder", name, data)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "write_jpeg_seeds")
        cxx = os.environ.get("CXX", "c++")
        subprocess.run([cxx, "-std=c++17", "-O1", "-o", exe, os.path.join(HERE, "write_jpeg_seeds.cpp")],
                       check=True)
        jpeg_dir = os.path.join(tmp, "jpeg")
        os.mkdir(jpeg_dir)
        subprocess.run([exe, jpeg_dir], check=True)
        idx_seeds()
        dataset_seeds()
        image_seeds(jpeg_dir)
    checkpoint_seeds()
    csv_seeds()
    image_folder_seeds()
    print("make_corpus: wrote", sum(len(fs) for _, _, fs in os.walk(os.path.join(HERE, "corpus"))),
          "corpus files and", sum(len(fs) for _, _, fs in os.walk(os.path.join(HERE, "regressions"))),
          "regression inputs under", os.path.relpath(HERE, ROOT), file=sys.stderr)


if __name__ == "__main__":
    main()
