import { converter, EPSG_WGS84 } from './crs.js';

/**
 * OGC Two Dimensional Tile Matrix Sets (OGC 17-083r4): WebMercatorQuad and WorldCRS84Quad as
 * defined in its annex, with the arithmetic a tiler needs (a tile's bounds, the matrices' sizes).
 */
export interface TileMatrixSetDef {
  id: 'WebMercatorQuad' | 'WorldCRS84Quad';
  title: string;
  /** EPSG code of the tiles' CRS (4326 with lon/lat order for CRS84). */
  epsg: number;
  crsUri: string;
  /** Top-left corner (x, y) in the CRS, x = easting / longitude. */
  origin: [number, number];
  /** Width and height of the level-0 matrix in the CRS's units. */
  extent: [number, number];
  /** Matrix width and height at level 0. */
  matrix0: [number, number];
  tileSize: number;
  maxZoom: number;
  /** The well-known scale set of OGC 17-083r4's annex (the WMTS 1.0 annex E name in its URN form). */
  wellKnownScaleSet: string;
}

const HALF = 20037508.3427892;

export const TILE_MATRIX_SETS: Record<string, TileMatrixSetDef> = {
  WebMercatorQuad: {
    id: 'WebMercatorQuad',
    title: 'Google Maps Compatible for the World',
    epsg: 3857,
    crsUri: 'http://www.opengis.net/def/crs/EPSG/0/3857',
    origin: [-HALF, HALF],
    extent: [2 * HALF, 2 * HALF],
    matrix0: [1, 1],
    tileSize: 256,
    maxZoom: 24,
    wellKnownScaleSet: 'GoogleMapsCompatible',
  },
  WorldCRS84Quad: {
    id: 'WorldCRS84Quad',
    title: 'CRS84 for the World',
    epsg: 4326,
    crsUri: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84',
    origin: [-180, 90],
    extent: [360, 180],
    matrix0: [2, 1],
    tileSize: 256,
    maxZoom: 23,
    wellKnownScaleSet: 'GoogleCRS84Quad',
  },
};

/** Matrix width and height at zoom z. */
export function matrixSize(t: TileMatrixSetDef, z: number): [number, number] {
  return [t.matrix0[0] * 2 ** z, t.matrix0[1] * 2 ** z];
}

/** Whether z/x/y names a tile of the set. */
export function tileExists(t: TileMatrixSetDef, z: number, x: number, y: number): boolean {
  if (!Number.isInteger(z) || z < 0 || z > t.maxZoom) return false;
  const [w, h] = matrixSize(t, z);
  return Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < w && y < h;
}

/** A tile's bounds [minX, minY, maxX, maxY] in the set's CRS. */
export function tileBounds(
  t: TileMatrixSetDef,
  z: number,
  x: number,
  y: number,
): [number, number, number, number] {
  const [w, h] = matrixSize(t, z);
  const tw = t.extent[0] / w;
  const th = t.extent[1] / h;
  const minX = t.origin[0] + x * tw;
  const maxY = t.origin[1] - y * th;
  return [minX, maxY - th, minX + tw, maxY];
}

/** Size of a pixel of zoom z in the set's CRS units (metres or degrees). */
export function cellSize(t: TileMatrixSetDef, z: number): number {
  return t.extent[0] / matrixSize(t, z)[0] / t.tileSize;
}

/**
 * Scale denominator of zoom z: the cell size in metres over the standard 0.28 mm pixel (OGC 17-083r4
 * 6.1.1; a degree is 2 pi 6378137 / 360 m).
 * @example scaleDenominator(TILE_MATRIX_SETS.WebMercatorQuad, 0) // 559082264.0287178
 */
export function scaleDenominator(t: TileMatrixSetDef, z: number): number {
  const metresPerUnit = t.epsg === 4326 ? (2 * Math.PI * 6378137) / 360 : 1;
  return (cellSize(t, z) * metresPerUnit) / 0.00028;
}

/**
 * The zoom whose pixels are about `resolutionM` metres (at the equator), within 0..maxZoom: the
 * deepest level a raster of that resolution needs.
 */
export function zoomForResolution(t: TileMatrixSetDef, resolutionM: number): number {
  const z0m = t.epsg === 4326 ? 40075016.686 / t.matrix0[0] / t.tileSize : 156543.03392804097;
  return Math.max(0, Math.min(t.maxZoom, Math.round(Math.log2(z0m / resolutionM))));
}

/**
 * The coarsest zoom at which a lon/lat box spans at least `minPixels` pixels on its longer side
 * (and one on the shorter), at most `maxZoom`: the top of a raster's pyramid of tiles.
 * @example zoomForExtent(TILE_MATRIX_SETS.WorldCRS84Quad, [0, 0, 0.25, 0.2], 256, 20) // 10
 */
export function zoomForExtent(
  t: TileMatrixSetDef,
  bbox: readonly [number, number, number, number],
  minPixels: number,
  maxZoom: number,
): number {
  const conv = t.epsg === EPSG_WGS84 ? null : converter(EPSG_WGS84, t.epsg);
  const maxLat = t.epsg === 3857 ? 85.0511287798066 : 90;
  const sw = [bbox[0], Math.max(-maxLat, bbox[1])];
  const ne = [bbox[2], Math.min(maxLat, bbox[3])];
  const [x0, y0] = conv ? conv.forward(sw) : sw;
  const [x1, y1] = conv ? conv.forward(ne) : ne;
  for (let z = 0; z < maxZoom; z++) {
    const w = (x1 - x0) / cellSize(t, z);
    const h = (y1 - y0) / cellSize(t, z);
    if (Math.max(w, h) >= minPixels && Math.min(w, h) >= 1) return z;
  }
  return maxZoom;
}

/** Tile indices of zoom z that cover a lon/lat box, inclusive (OGC 17-083r4 TileMatrixLimits). */
export interface TileLimits {
  tileMatrix: string;
  minTileRow: number;
  maxTileRow: number;
  minTileCol: number;
  maxTileCol: number;
}

/**
 * The tiles of zoom z that a lon/lat box [west, south, east, north] touches (its corners and edge
 * midpoints are projected; latitudes beyond Web Mercator's 85.0511 are clamped).
 * @example tileLimits(TILE_MATRIX_SETS.WebMercatorQuad, 1, [-10, -10, 10, 10]) // rows 0-1, cols 0-1
 */
export function tileLimits(
  t: TileMatrixSetDef,
  z: number,
  bbox: readonly [number, number, number, number],
): TileLimits {
  const maxLat = t.epsg === 3857 ? 85.0511287798066 : 90;
  const [w, s, e, n] = [bbox[0], Math.max(-maxLat, bbox[1]), bbox[2], Math.min(maxLat, bbox[3])];
  const conv = t.epsg === EPSG_WGS84 ? null : converter(EPSG_WGS84, t.epsg);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const lon of [w, (w + e) / 2, e])
    for (const lat of [s, (s + n) / 2, n]) {
      const [x, y] = conv ? conv.forward([lon, lat]) : [lon, lat];
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
  const [mw, mh] = matrixSize(t, z);
  const tw = t.extent[0] / mw;
  const th = t.extent[1] / mh;
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  return {
    tileMatrix: String(z),
    minTileCol: clamp(Math.floor((minX - t.origin[0]) / tw), mw - 1),
    maxTileCol: clamp(Math.ceil((maxX - t.origin[0]) / tw) - 1, mw - 1),
    minTileRow: clamp(Math.floor((t.origin[1] - maxY) / th), mh - 1),
    maxTileRow: clamp(Math.ceil((t.origin[1] - minY) / th) - 1, mh - 1),
  };
}

/** A tile's lon/lat bounds [west, south, east, north]. */
export function tileLonLatBounds(
  t: TileMatrixSetDef,
  z: number,
  x: number,
  y: number,
): [number, number, number, number] {
  const [minX, minY, maxX, maxY] = tileBounds(t, z, x, y);
  if (t.epsg === EPSG_WGS84) return [minX, minY, maxX, maxY];
  const conv = converter(t.epsg, EPSG_WGS84);
  const [w, s] = conv.forward([minX, minY]);
  const [e, n] = conv.forward([maxX, maxY]);
  return [w, s, e, n];
}

/**
 * The OGC TileMatrixSet JSON document of a set (levels 0..maxZoom), in the form of 17-083r4 (TMS
 * 2.0: id, crs, tileMatrices with id, cellSize, pointOfOrigin) with the members of its 1.0 JSON
 * encoding (17-083r2: type, identifier, supportedCRS, boundingBox, topLeftCorner and a level's
 * identifier) as well: GDAL before 3.7 reads only the 1.0 members (its OGC API driver needs them to
 * open map tiles), later versions and other clients read the 2.0 ones.
 */
export function tileMatrixSetDocument(t: TileMatrixSetDef): Record<string, unknown> {
  const levels = [];
  for (let z = 0; z <= t.maxZoom; z++) {
    const [w, h] = matrixSize(t, z);
    levels.push({
      id: String(z),
      identifier: String(z),
      scaleDenominator: scaleDenominator(t, z),
      cellSize: cellSize(t, z),
      cornerOfOrigin: 'topLeft',
      pointOfOrigin: t.origin,
      topLeftCorner: t.origin,
      tileWidth: t.tileSize,
      tileHeight: t.tileSize,
      matrixWidth: w,
      matrixHeight: h,
    });
  }
  return {
    id: t.id,
    title: t.title,
    uri: `http://www.opengis.net/def/tilematrixset/OGC/1.0/${t.id}`,
    crs: t.crsUri,
    orderedAxes: t.epsg === 4326 ? ['Lon', 'Lat'] : ['X', 'Y'],
    wellKnownScaleSet: `http://www.opengis.net/def/wkss/OGC/1.0/${t.wellKnownScaleSet}`,
    tileMatrices: levels,
    type: 'TileMatrixSetType',
    identifier: t.id,
    supportedCRS: t.crsUri,
    boundingBox: {
      type: 'BoundingBoxType',
      crs: t.crsUri,
      lowerCorner: [t.origin[0], t.origin[1] - t.extent[1]],
      upperCorner: [t.origin[0] + t.extent[0], t.origin[1]],
    },
  };
}

/** The WebMercatorQuad tile [x, y] at zoom z that holds a lon/lat. */
export function webMercatorTileAt(lon: number, lat: number, z: number): [number, number] {
  const n = 2 ** z;
  const r = (lat * Math.PI) / 180;
  return [
    Math.floor(((lon + 180) / 360) * n),
    Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n),
  ];
}
