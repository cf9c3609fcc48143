"""Independent reference for sarbridge's two-parameter CFAR: ESA SNAP AdaptiveThresholding's rules
written directly in numpy, one pixel at a time (windows as array slices, clipped at the border).

usage: cfar_ref.py <in.f32> <width> <height> <half_target> <half_guard> <half_background> <pfa> <floor> <out.u8>
The input is raw little-endian float32 (NaN = nodata); the output raw uint8 (1 = detected).
Also: cfar_ref.py --t <pfa> prints the Gaussian design parameter from Python's statistics module.
With --numpy-fast, the same rules by integral images (the plain-numpy benchmark reference).
"""
import sys
from statistics import NormalDist

import numpy as np


def design_t(pfa):
    return NormalDist().inv_cdf(1.0 - 10.0 ** (-pfa))


def direct(a, ht, hg, hb, t, floor):
    H, W = a.shape
    valid = ~np.isnan(a)
    out = np.zeros((H, W), np.uint8)
    for y in range(H):
        for x in range(W):
            if not valid[y, x]:
                continue
            ty0, ty1 = max(0, y - ht), min(H, y + ht + 1)
            tx0, tx1 = max(0, x - ht), min(W, x + ht + 1)
            tw = a[ty0:ty1, tx0:tx1]
            tv = tw[~np.isnan(tw)]
            if tw.size - tv.size > 0.1 * tw.size:
                continue
            tm = tv.mean()
            if tm < floor:
                continue
            by0, by1 = max(0, y - hb), min(H, y + hb + 1)
            bx0, bx1 = max(0, x - hb), min(W, x + hb + 1)
            bw = a[by0:by1, bx0:bx1].copy()
            gy0, gy1 = max(0, y - hg) - by0, min(H, y + hg + 1) - by0
            gx0, gx1 = max(0, x - hg) - bx0, min(W, x + hg + 1) - bx0
            bw[gy0:gy1, gx0:gx1] = np.nan
            bv = bw[~np.isnan(bw)]
            if bv.size == 0:
                continue
            mu = bv.mean()
            sd = bv.std()  # population standard deviation, as SNAP
            if tm > mu + t * sd:
                out[y, x] = 1
    return out


def box(a, h):
    """Window sums over (2h+1)^2 windows clipped at the border, by an integral image."""
    H, W = a.shape
    ii = np.zeros((H + 1, W + 1))
    ii[1:, 1:] = a.cumsum(0).cumsum(1)
    y0 = np.clip(np.arange(H) - h, 0, H)
    y1 = np.clip(np.arange(H) + h + 1, 0, H)
    x0 = np.clip(np.arange(W) - h, 0, W)
    x1 = np.clip(np.arange(W) + h + 1, 0, W)
    return ii[y1][:, x1] - ii[y0][:, x1] - ii[y1][:, x0] + ii[y0][:, x0]


def fast(a, ht, hg, hb, t, floor):
    valid = ~np.isnan(a)
    v = np.where(valid, a, 0.0).astype(np.float64)
    n = valid.astype(np.float64)
    ones = np.ones_like(v)
    ts, tn, area = box(v, ht), box(n, ht), box(ones, ht)
    rs = box(v, hb) - box(v, hg)
    rq = box(v * v, hb) - box(v * v, hg)
    rn = box(n, hb) - box(n, hg)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm = ts / tn
        mu = rs / rn
        sd = np.sqrt(np.maximum(rq / rn - mu * mu, 0))
        det = valid & (rn > 0) & (area - tn <= 0.1 * area) & (tm >= floor) & (tm > mu + t * sd)
    return det.astype(np.uint8)


def main():
    if sys.argv[1] == "--t":
        print(repr(design_t(float(sys.argv[2]))))
        return
    use_fast = sys.argv[1] == "--numpy-fast"
    args = sys.argv[2:] if use_fast else sys.argv[1:]
    path, W, H, ht, hg, hb, pfa, floor, out = args
    W, H, ht, hg, hb = int(W), int(H), int(ht), int(hg), int(hb)
    a = np.fromfile(path, dtype="<f4").reshape(H, W).astype(np.float64)
    t = design_t(float(pfa))
    res = (fast if use_fast else direct)(a, ht, hg, hb, t, float(floor))
    res.tofile(out)


main()
