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

/** The OGC TileMatrixSet JSON document of a set (levels 0..maxZoom). */
export function tileMatrixSetDocument(t: TileMatrixSetDef): Record<string, unknown> {
  const levels = [];
  for (let z = 0; z <= t.maxZoom; z++) {
    const [w, h] = matrixSize(t, z);
    const cellSize = t.extent[0] / w / t.tileSize;
    // Scale denominator: cell size in metres over the standard 0.28 mm pixel.
    const metresPerUnit = t.epsg === 4326 ? (2 * Math.PI * 6378137) / 360 : 1;
    levels.push({
      id: String(z),
      scaleDenominator: (cellSize * metresPerUnit) / 0.00028,
      cellSize,
      cornerOfOrigin: 'topLeft',
      pointOfOrigin: t.origin,
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
    wellKnownScaleSet:
      t.id === 'WebMercatorQuad'
        ? 'http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible'
        : 'http://www.opengis.net/def/wkss/OGC/1.0/GoogleCRS84Quad',
    tileMatrices: levels,
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
