import sharp from 'sharp';
import type { TileMatrixSetDef } from '../geo/tms.js';
import { LruCache } from '../util/lru.js';
import { colorizeLut, colormap, float16Lut } from './colormap.js';
import type { RasterAsset, RenderOptions, Tiler } from './tiler.js';

const TILE = 256;

/** Value-to-colour tables by display range and unit, shared by every mosaic. */
const luts = new LruCache<string, Uint16Array>(64, () => 1);

function lutOf(lo: number, hi: number, unit: 'dB' | 'linear'): Uint16Array {
  const key = `${lo},${hi},${unit}`;
  let lut = luts.get(key);
  if (!lut) {
    lut = float16Lut(lo, hi, unit === 'linear' ? (v) => (v > 0 ? 10 * Math.log10(v) : Number.NaN) : (v) => v);
    luts.set(key, lut);
  }
  return lut;
}

/**
 * Where the layers of a mosaic tile come from: each asset coloured the way the item's own tile is
 * (its display range, the colour map), then laid top first: a pixel shows the first layer that has
 * data there; where none has, the tile is transparent.
 */
export interface MosaicPlan {
  /** Top layer first (the caller orders them, e.g. most recent acquisition first). */
  layers: RasterAsset[];
  tms: TileMatrixSetDef;
  z: number;
  x: number;
  y: number;
}

/**
 * A 256 x 256 RGBA tile of several assets, top layer first, encoded as PNG (or WebP). Each pixel
 * is the top layer's colour where that layer has data, else the next layer's; transparent where
 * none has. Rendering stops at the first layer after which every pixel is filled. The colours of
 * one layer equal those of `tiler.tile` for the same asset and options (same values, display range
 * and colour table), so a mosaic of one item is that item's tile.
 */
export async function mosaicTile(tiler: Tiler, plan: MosaicPlan, o: RenderOptions): Promise<Buffer> {
  const out = new Uint8Array(TILE * TILE * 4);
  const layer = new Uint8Array(TILE * TILE * 4);
  const rgb = colormap(o.colormap ?? 'gray');
  let empty = TILE * TILE;
  for (const asset of plan.layers) {
    if (empty === 0) break;
    const values = await tiler.tileValues(
      asset,
      plan.tms,
      plan.z,
      plan.x,
      plan.y,
      o.resampling ?? 'bilinear',
    );
    if (values === null) continue;
    const [lo, hi] = o.rescale ?? (await tiler.displayRange(asset));
    colorizeLut(values, lutOf(lo, hi, asset.unit), rgb, layer);
    for (let p = 3; p < out.length; p += 4) {
      if (out[p] !== 0 || layer[p] === 0) continue;
      out[p - 3] = layer[p - 3];
      out[p - 2] = layer[p - 2];
      out[p - 1] = layer[p - 1];
      out[p] = layer[p];
      empty--;
    }
  }
  const img = sharp(Buffer.from(out.buffer), { raw: { width: TILE, height: TILE, channels: 4 } });
  return (o.format ?? 'png') === 'webp'
    ? img.webp({ quality: 90, effort: 2 }).toBuffer()
    : img.png({ compressionLevel: 3, adaptiveFiltering: false }).toBuffer();
}
