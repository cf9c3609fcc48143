"""An efficient plain-numpy two-parameter CFAR (ESA SNAP AdaptiveThresholding's rules, as
test/helpers/cfar_ref.py), the reference of `npm run bench -- detect`: each integral image (values,
squares, valid counts) is built once, and the window sums for all three window sizes come from one
gather per integral image.

usage: cfar_numpy.py <in.f32> <width> <height> <half_target> <half_guard> <half_background> <pfa> <floor> <out.u8>
Prints the seconds spent in the computation (reading and writing left out) on stdout.
"""
import sys
import time
from statistics import NormalDist

import numpy as np


def integral(a):
    H, W = a.shape
    ii = np.zeros((H + 1, W + 1))
    np.cumsum(a, 0, out=ii[1:, 1:])
    np.cumsum(ii[1:, 1:], 1, out=ii[1:, 1:])
    return ii


def corners(H, W, hs):
    """Row and column indices of the four corners of every (2h+1)^2 window (clipped), for each h."""
    ys, xs = np.arange(H), np.arange(W)
    y0 = np.stack([np.clip(ys - h, 0, H) for h in hs])
    y1 = np.stack([np.clip(ys + h + 1, 0, H) for h in hs])
    x0 = np.stack([np.clip(xs - h, 0, W) for h in hs])
    x1 = np.stack([np.clip(xs + h + 1, 0, W) for h in hs])
    return y0, y1, x0, x1


def sums(ii, y0, y1, x0, x1, k):
    """Window sums of window size k by one gather of the four corners."""
    a, b, c, d = y0[k][:, None], y1[k][:, None], x0[k][None, :], x1[k][None, :]
    return ii[b, d] - ii[a, d] - ii[b, c] + ii[a, c]


def main():
    path, W, H, ht, hg, hb, pfa, floor, out = sys.argv[1:]
    W, H, ht, hg, hb = int(W), int(H), int(ht), int(hg), int(hb)
    a = np.fromfile(path, dtype="<f4").reshape(H, W)
    t0 = time.perf_counter()
    t = NormalDist().inv_cdf(1.0 - 10.0 ** (-float(pfa)))
    valid = ~np.isnan(a)
    v = np.where(valid, a, 0.0).astype(np.float64)
    n = valid.astype(np.float64)
    iv, iq, i_n = integral(v), integral(v * v), integral(n)
    y0, y1, x0, x1 = corners(H, W, [ht, hg, hb])
    ts, tn = sums(iv, y0, y1, x0, x1, 0), sums(i_n, y0, y1, x0, x1, 0)
    area = (y1[0] - y0[0])[:, None] * (x1[0] - x0[0])[None, :]
    rs = sums(iv, y0, y1, x0, x1, 2) - sums(iv, y0, y1, x0, x1, 1)
    rq = sums(iq, y0, y1, x0, x1, 2) - sums(iq, y0, y1, x0, x1, 1)
    rn = sums(i_n, y0, y1, x0, x1, 2) - sums(i_n, y0, y1, x0, x1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm = ts / tn
        mu = rs / rn
        sd = np.sqrt(np.maximum(rq / rn - mu * mu, 0))
        det = valid & (rn > 0) & (area - tn <= 0.1 * area) & (tm >= float(floor)) & (tm > mu + t * sd)
    res = det.astype(np.uint8)
    seconds = time.perf_counter() - t0
    res.tofile(out)
    print(seconds)


main()
