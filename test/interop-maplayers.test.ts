import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL } from '../src/access/scope.js';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import { parseSearch } from '../src/catalog/search-params.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import type { StacCollection, StacItem } from '../src/catalog/types.js';
import { TILE_MATRIX_SETS, tileBounds, webMercatorTileAt } from '../src/geo/tms.js';
import { mapLayerPaths } from '../src/server/routes/map-layer-paths.js';
import { loadDemo } from './helpers/demo-scenes.js';
import { PYTHON, tempDir } from './helpers/gdal.js';
import { freshDatabase } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';

// Map layers for desktop GIS (issue 12), against GDAL 3.6 from Debian as the client: its WMTS
// driver on the capabilities documents, its OGC API driver on a collection (map tiles and items),
// and HTTP range requests on previews.

const execFileAsync = promisify(execFile);
const tmp = tempDir('maplayers-');
const demoDir = join(tmp.dir, 'demo');
let store: SqliteCatalog;
let server: Awaited<ReturnType<typeof testServer>>;
let base: string;
let demo: StacItem[];
/** Keys and headers: the provider-admin and a partner cleared to NATO UNCLASSIFIED only. */
const KEY: Record<'admin' | 'partner', string> = { admin: '', partner: '' };
const H = (who: 'admin' | 'partner') => ({ authorization: `Bearer ${KEY[who]}` });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A GDAL command line tool or script with the caller's key sent as GDAL_HTTP_HEADERS. */
async function gdal(who: 'admin' | 'partner', cmd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, {
    env: {
      ...process.env,
      GDAL_HTTP_HEADERS: `Authorization: Bearer ${KEY[who]}`,
      GDAL_PAM_ENABLED: 'NO',
      GDAL_HTTP_MAX_RETRY: '0',
      GDAL_DEFAULT_WMS_CACHE_PATH: join(tmp.dir, `wms-cache-${who}`),
    },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/**
 * GDAL reads the window of a raster whose top-left corner is at (x, y) in the dataset's CRS, w x h
 * pixels, as RGBA (pixel-interleaved); also the offset of that corner in pixels, unrounded.
 */
const READ_WINDOW = `
import sys, json, base64
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.OpenEx(sys.argv[1], gdal.OF_RASTER)
gt = ds.GetGeoTransform()
x, y, w, h = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
col, row = (x - gt[0]) / gt[1], (y - gt[3]) / gt[5]
data = ds.ReadRaster(int(round(col)), int(round(row)), w, h, band_list=[1, 2, 3, 4],
                     buf_pixel_space=4, buf_line_space=4 * w, buf_band_space=1)
print(json.dumps({"col": col, "row": row, "bands": ds.RasterCount, "size": [ds.RasterXSize, ds.RasterYSize],
                  "gt": gt, "rgba": base64.b64encode(data).decode()}))
`;

async function gdalWindow(
  who: 'admin' | 'partner',
  source: string,
  x: number,
  y: number,
  size = 256,
): Promise<{ col: number; row: number; bands: number; size: number[]; gt: number[]; rgba: Buffer }> {
  const out = JSON.parse(
    await gdal(who, PYTHON, ['-c', READ_WINDOW, source, String(x), String(y), String(size), String(size)]),
  );
  return { ...out, rgba: Buffer.from(out.rgba, 'base64') };
}

async function rgbaOf(png: Buffer): Promise<Buffer> {
  return sharp(png).ensureAlpha().raw().toBuffer();
}

/** The first pixel (x, y) where two 256 x 256 RGBA buffers differ, or null. */
function firstDifferentPixel(
  a: Buffer,
  b: Buffer,
): { x: number; y: number; a: number[]; b: number[] } | null {
  for (let i = 0; i < Math.max(a.length, b.length); i += 4)
    if (a.readUInt32BE(i) !== b.readUInt32BE(i)) {
      const p = i / 4;
      return {
        x: p % 256,
        y: Math.floor(p / 256),
        a: [...a.subarray(i, i + 4)],
        b: [...b.subarray(i, i + 4)],
      };
    }
  return null;
}

async function get(url: string, who: 'admin' | 'partner' = 'admin', headers: Record<string, string> = {}) {
  return server.app.inject({ url, headers: { ...H(who), ...headers } });
}

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  // Elements that may repeat (the TileMatrixSet of a TileMatrixSetLink is a name, once).
  isArray: (name, jpath) =>
    ['Layer', 'TileMatrix', 'TileMatrixSetLink', 'TileMatrixLimits', 'Style'].includes(name) ||
    jpath === 'Capabilities.Contents.TileMatrixSet',
});

beforeAll(async () => {
  store = new SqliteCatalog(join(tmp.dir, 'catalog.db'));
  demo = await loadDemo(store, demoDir);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await testServer(store, { assetRoot: demoDir, publicUrl: base });
  await server.app.listen({ host: '127.0.0.1', port });
  KEY.admin = server.access.adminKey;
  const id = server.access.services.identity;
  id.createOrganisation({
    id: 'natou',
    kind: 'partner',
    codes: ['NATO'],
    clearance: [{ policy: 'NATO', classification: 'UNCLASSIFIED' }],
    caveats: [],
  });
  id.createPrincipal('natou', 'user', { id: 'natou-analyst', roles: ['partner-analyst'] });
  KEY.partner = id.createKey('user:natou-analyst').key;
}, 300_000);

afterAll(async () => {
  await server?.close();
  await store?.close();
  tmp.cleanup();
});

const scenes = () =>
  demo
    .filter((it) => it.properties.datetime)
    .map((it) => it.id)
    .sort();
const center = (it: StacItem): [number, number] => {
  const [w, s, e, n] = it.bbox as number[];
  return [(w + e) / 2, (s + n) / 2];
};

describe('OGC WMTS 1.0 capabilities, read by GDAL', () => {
  it('WMTS 1.0 §10.2 (RESTful): GDAL opens an item layer and its tile at the deepest level equals the tile endpoint', async () => {
    const it0 = demo.find((i) => i.id === scenes()[0]) as StacItem;
    const cap = `${base}/collections/demo/items/${it0.id}/WMTSCapabilities.xml`;
    const info = JSON.parse(await gdal('admin', 'gdalinfo', ['-json', `WMTS:${cap}`]));
    // Two tile matrix sets: one subdataset per layer and set.
    expect(Object.values(info.metadata.SUBDATASETS)).toContain(
      `WMTS:${cap},layer=data,tilematrixset=WebMercatorQuad`,
    );
    const src = `WMTS:${cap},layer=data,tilematrixset=WebMercatorQuad`;
    const ds = JSON.parse(await gdal('admin', 'gdalinfo', ['-json', src]));
    expect(ds.bands.length).toBe(4);
    // The deepest level is the asset's native resolution (10 m pixels: zoom 14, 9.55 m).
    const z = Math.round(Math.log2(156543.03392804097 / ds.geoTransform[1]));
    expect(z).toBe(14);
    const [x, y] = webMercatorTileAt(...center(it0), z);
    const [minX, , , maxY] = tileBounds(TILE_MATRIX_SETS.WebMercatorQuad, z, x, y);
    const win = await gdalWindow('admin', src, minX, maxY);
    // The tile's corner falls on a pixel corner of GDAL's raster: the window is exactly one tile.
    expect(Math.abs(win.col - Math.round(win.col))).toBeLessThan(1e-6);
    expect(Math.abs(win.row - Math.round(win.row))).toBeLessThan(1e-6);
    const tile = await get(`/tiles/demo/${it0.id}/data/WebMercatorQuad/${z}/${x}/${y}.png`);
    expect(tile.statusCode).toBe(200);
    const ours = await rgbaOf(tile.rawPayload);
    expect(firstDifferentPixel(win.rgba, ours)).toBeNull();
    // Not an empty tile: the scene covers it.
    expect(ours.filter((_, i) => i % 4 === 3 && ours[i] === 255).length).toBe(256 * 256);
  }, 180_000);

  it('WMTS 1.0 §7.1 ServiceMetadata: the elements QGIS reads (Layer, WGS84BoundingBox, Style, Format, TileMatrixSetLink, ResourceURL, TileMatrixSet)', async () => {
    const r = await get('/collections/demo/WMTSCapabilities.xml');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/xml/);
    const doc = xml.parse(r.body).Capabilities;
    expect(doc['@version']).toBe('1.0.0');
    expect(doc['@xmlns']).toBe('http://www.opengis.net/wmts/1.0');
    expect(doc['ows:ServiceIdentification']['ows:ServiceType']).toBe('OGC WMTS');
    const sets = new Map<string, Record<string, unknown>>(
      doc.Contents.TileMatrixSet.map((t: Record<string, unknown>) => [t['ows:Identifier'], t]),
    );
    expect([...sets.keys()].sort()).toEqual(['WebMercatorQuad', 'WorldCRS84Quad']);
    for (const l of doc.Contents.Layer) {
      expect(typeof l['ows:Identifier']).toBe('string');
      expect(typeof l['ows:Title']).toBe('string');
      const [w, s] = String(l['ows:WGS84BoundingBox']['ows:LowerCorner']).split(' ').map(Number);
      const [e, n] = String(l['ows:WGS84BoundingBox']['ows:UpperCorner']).split(' ').map(Number);
      expect(w).toBeLessThan(e);
      expect(s).toBeLessThan(n);
      expect(
        l.Style.some((st: Record<string, unknown>) => st['@isDefault'] === 'true' && st['ows:Identifier']),
      ).toBe(true);
      expect(l.Format).toBe('image/png');
      expect(l.ResourceURL['@resourceType']).toBe('tile');
      expect(l.ResourceURL['@format']).toBe('image/png');
      for (const v of ['{TileMatrixSet}', '{TileMatrix}', '{TileRow}', '{TileCol}'])
        expect(l.ResourceURL['@template']).toContain(v);
      for (const link of l.TileMatrixSetLink) {
        const set = sets.get(link.TileMatrixSet) as { TileMatrix: Record<string, unknown>[] };
        expect(set, link.TileMatrixSet).toBeDefined();
        // Each limit names a level of the set and stays inside its matrix (WMTS 1.0 Table 19).
        for (const lim of link.TileMatrixSetLimits.TileMatrixLimits) {
          const tm = set.TileMatrix.find((m) => String(m['ows:Identifier']) === String(lim.TileMatrix));
          expect(tm, `level ${lim.TileMatrix}`).toBeDefined();
          expect(lim.MinTileRow).toBeGreaterThanOrEqual(0);
          expect(lim.MaxTileRow).toBeLessThan(Number(tm?.MatrixHeight));
          expect(lim.MinTileCol).toBeLessThanOrEqual(lim.MaxTileCol);
          expect(lim.MaxTileCol).toBeLessThan(Number(tm?.MatrixWidth));
        }
      }
    }
    // WMTS 1.0 Annex E.4: GoogleMapsCompatible, level 0 scale denominator 559082264.0287178, one tile.
    const wm = sets.get('WebMercatorQuad') as Record<string, unknown> & {
      TileMatrix: Record<string, unknown>[];
    };
    expect(wm['ows:SupportedCRS']).toBe('urn:ogc:def:crs:EPSG::3857');
    expect(wm.WellKnownScaleSet).toBe('urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible');
    expect(Number(wm.TileMatrix[0].ScaleDenominator)).toBeCloseTo(559082264.0287178, 3);
    expect(wm.TileMatrix[0].TopLeftCorner).toBe('-20037508.3427892 20037508.3427892');
    expect([wm.TileMatrix[0].MatrixWidth, wm.TileMatrix[0].TileWidth]).toEqual([1, 256]);
    for (let z = 1; z < wm.TileMatrix.length; z++)
      expect(
        Number(wm.TileMatrix[z - 1].ScaleDenominator) / Number(wm.TileMatrix[z].ScaleDenominator),
      ).toBeCloseTo(2, 12);
    const geo = sets.get('WorldCRS84Quad') as Record<string, unknown> & {
      TileMatrix: Record<string, unknown>[];
    };
    expect(geo['ows:SupportedCRS']).toBe('urn:ogc:def:crs:OGC:1.3:CRS84');
    expect([geo.TileMatrix[0].MatrixWidth, geo.TileMatrix[0].MatrixHeight]).toEqual([2, 1]);
    expect(geo.TileMatrix[0].TopLeftCorner).toBe('-180 90');
  });

  it("WMTS 1.0 §7.1.1 Contents: a partner's collection capabilities list only the items of its scope", async () => {
    const layers = async (who: 'admin' | 'partner') => {
      const r = await get('/collections/demo/WMTSCapabilities.xml', who);
      expect(r.statusCode).toBe(200);
      return xml
        .parse(r.body)
        .Capabilities.Contents.Layer.map((l: Record<string, unknown>) => l['ows:Identifier']);
    };
    const visible = async (who: 'admin' | 'partner') =>
      (await get('/collections/demo/items?limit=100', who)).json().features.map((f: StacItem) => f.id);
    const partnerItems = await visible('partner');
    // The partner is cleared to UNCLASSIFIED: the first pass only (the second and the change are RESTRICTED).
    expect(partnerItems).toEqual([scenes()[0]]);
    expect((await layers('partner')).sort()).toEqual(['demo', ...partnerItems].sort());
    expect((await layers('admin')).sort()).toEqual(['demo', ...(await visible('admin'))].sort());
    // And GDAL, as the partner, sees those layers only.
    const info = JSON.parse(
      await gdal('partner', 'gdalinfo', ['-json', `WMTS:${base}/collections/demo/WMTSCapabilities.xml`]),
    );
    const names = Object.entries(info.metadata.SUBDATASETS as Record<string, string>)
      .filter(([k]) => k.endsWith('_NAME'))
      .map(([, v]) => /layer=([^,]+)/.exec(v)?.[1]);
    expect([...new Set(names)].sort()).toEqual(['demo', ...partnerItems].sort());
    // A hidden item's capabilities answer exactly as a missing item's.
    const hidden = await get(`/collections/demo/items/${scenes()[1]}/WMTSCapabilities.xml`, 'partner');
    const missing = await get('/collections/demo/items/no-such-item/WMTSCapabilities.xml', 'partner');
    expect([hidden.statusCode, missing.statusCode]).toEqual([404, 404]);
    expect(hidden.json().code).toBe(missing.json().code);
    expect(
      (await get('/collections/demo/WMTSCapabilities.xml', 'admin', { authorization: '' })).statusCode,
    ).toBe(401);
  }, 120_000);
});

describe('OGC API - Tiles (OGC 20-057), read by GDAL', () => {
  it('OGC 20-057 §7 tilesets list and tileset (17-083r4 TileSetMetadata): dataType map, crs, tiling-scheme and templated item links', async () => {
    const coll = (await get('/collections/demo')).json();
    const link = coll.links.find(
      (l: { rel: string }) => l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/tilesets-map',
    );
    expect(link?.href).toBe(`${base}/collections/demo/map/tiles`);
    expect(coll.links).toContainEqual(
      expect.objectContaining({
        rel: 'wmts',
        href: `${base}/collections/demo/WMTSCapabilities.xml`,
        'wmts:layer': 'demo',
      }),
    );
    const list = (await get('/collections/demo/map/tiles')).json();
    expect(list.tilesets.map((t: { dataType: string }) => t.dataType)).toEqual(['map', 'map']);
    // /collections/{id}/tiles lists vector and coverage tilesets: none, and a link to the map ones.
    const data = (await get('/collections/demo/tiles')).json();
    expect(data.tilesets).toEqual([]);
    expect(data.links).toContainEqual(expect.objectContaining({ rel: link.rel, href: link.href }));
    for (const s of list.tilesets) {
      const self = s.links.find((l: { rel: string }) => l.rel === 'self');
      const ts = (await get(self.href.slice(base.length))).json();
      expect(ts.dataType).toBe('map');
      expect(ts.crs).toBe(TILE_MATRIX_SETS[ts.tileMatrixSetURI.split('/').pop()].crsUri);
      const scheme = ts.links.find(
        (l: { rel: string }) => l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme',
      );
      const tms = (await get(scheme.href.slice(base.length))).json();
      expect(tms.uri).toBe(ts.tileMatrixSetURI);
      const item = ts.links.find((l: { rel: string }) => l.rel === 'item');
      expect(item).toMatchObject({ templated: true, type: 'image/png' });
      expect(item.href).toMatch(/\/\{tileMatrix\}\/\{tileRow\}\/\{tileCol\}$/);
      for (const l of ts.tileMatrixSetLimits) {
        const m = tms.tileMatrices.find((x: { id: string }) => x.id === l.tileMatrix);
        expect(l.maxTileRow).toBeLessThan(m.matrixHeight);
        expect(l.maxTileCol).toBeLessThan(m.matrixWidth);
      }
    }
  });

  it('OGC 20-057 /req/core/tc-success and tc-error: PNG tiles of tileWidth x tileHeight; outside the matrix or the limits 404; a bad f 400', async () => {
    const ts = (await get('/collections/demo/map/tiles/WebMercatorQuad')).json();
    const limits = ts.tileMatrixSetLimits;
    const top = limits[0];
    const zMin = Number(top.tileMatrix);
    const zMax = Number(limits[limits.length - 1].tileMatrix);
    const url = (z: number | string, row: number | string, col: number | string, q = '') =>
      `/collections/demo/map/tiles/WebMercatorQuad/${z}/${row}/${col}${q}`;
    const t = await get(url(zMin, top.minTileRow, top.minTileCol));
    expect(t.statusCode).toBe(200);
    expect(t.headers['content-type']).toBe('image/png');
    const meta = await sharp(t.rawPayload).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([256, 256, 4]);
    const cases: [string, number][] = [
      [url(zMin, 2 ** zMin, 0), 404],
      [url(zMin - 1, 0, 0), 404],
      [url(zMax + 1, 0, 0), 404],
      [url(25, 0, 0), 404],
      [url('x', 0, 0), 404],
      ['/collections/demo/map/tiles/NoSuchSet/0/0/0', 404],
      [url(zMin, 0, 0, '?f=jpeg'), 400],
      [url(zMin, 0, 0, '?colormap=rainbow'), 400],
      ['/collections/nope/map/tiles/WebMercatorQuad/0/0/0', 404],
    ];
    for (const [u, status] of cases) {
      const r = await get(u);
      expect(r.statusCode, u).toBe(status);
      expect(r.json(), u).toMatchObject({ code: expect.any(String), description: expect.any(String) });
    }
    expect((await get(url(zMin, 0, 0, '?f=jpeg'))).json().description).toMatch(/\bf\b/);
  });

  it("GDAL OGCAPI driver opens the collection as raster tiles; a tile-aligned window equals the mosaic tile, the most recent item on top, within the caller's scope", async () => {
    const src = `OGCAPI:${base}/collections/demo`;
    const info = JSON.parse(await gdal('admin', 'gdalinfo', ['-json', src]));
    expect(info.driverShortName).toBe('OGCAPI');
    expect(info.bands.length).toBe(4);
    // GDAL 3.6 prefers WorldCRS84Quad; the deepest level is the items' native resolution (zoom 13).
    const t = TILE_MATRIX_SETS.WorldCRS84Quad;
    const z = Math.round(Math.log2(t.extent[0] / t.matrix0[0] / t.tileSize / info.geoTransform[1]));
    expect(z).toBe(13);
    expect(info.size[0]).toBeGreaterThan(2000);
    const [lon, lat] = center(demo[0]);
    const col = Math.floor(((lon + 180) / 360) * 2 * 2 ** z);
    const row = Math.floor(((90 - lat) / 180) * 2 ** z);
    const [minX, , , maxY] = tileBounds(t, z, col, row);
    for (const who of ['admin', 'partner'] as const) {
      const win = await gdalWindow(who, src, minX, maxY);
      expect(Math.abs(win.col - Math.round(win.col))).toBeLessThan(1e-6);
      expect(Math.abs(win.row - Math.round(win.row))).toBeLessThan(1e-6);
      const mosaic = await rgbaOf(
        (await get(`/collections/demo/map/tiles/WorldCRS84Quad/${z}/${row}/${col}`, who)).rawPayload,
      );
      expect(firstDifferentPixel(win.rgba, mosaic), who).toBeNull();
      // The window has data: every pixel is opaque (both scenes cover this tile).
      expect(win.rgba.filter((_, i) => i % 4 === 3 && win.rgba[i] === 255).length).toBe(256 * 256);
      // The most recent acquisition the caller may see is on top: the admin sees the second pass,
      // the partner only the first.
      const top = who === 'admin' ? scenes()[1] : scenes()[0];
      const own = await rgbaOf(
        (await get(`/tiles/demo/${top}/data/WorldCRS84Quad/${z}/${col}/${row}.png`, who)).rawPayload,
      );
      expect(firstDifferentPixel(mosaic, own), `${who}: ${top}`).toBeNull();
    }
    // Where no item is, the mosaic is transparent.
    const empty = await rgbaOf((await get('/collections/demo/map/tiles/WorldCRS84Quad/13/0/0')).rawPayload);
    expect(empty.every((v) => v === 0)).toBe(true);
  }, 240_000);

  it('GDAL OGCAPI driver with API=ITEMS opens the collection as vector: ogrinfo lists the items the caller may see', async () => {
    const ids = async (who: 'admin' | 'partner') => {
      const out = await gdal(who, 'ogrinfo', [
        '-ro',
        '-q',
        '-oo',
        'API=ITEMS',
        `OGCAPI:${base}/collections/demo`,
        '-al',
      ]);
      return [...out.matchAll(/^\s+id \(String\) = (.+)$/gm)].map((m) => m[1]).sort();
    };
    expect(await ids('admin')).toEqual(demo.map((i) => i.id).sort());
    expect(await ids('partner')).toEqual([scenes()[0]]);
  }, 120_000);
});

describe('on PostgreSQL/PostGIS too', () => {
  it('the same scoped mosaic tiles and WMTS layers as on SQLite (the scope applied in the store)', async () => {
    const db = await freshDatabase();
    const pgStore = new PostgresCatalog(db.url);
    const pgServer = await testServer(pgStore, { assetRoot: demoDir, publicUrl: base });
    try {
      await pgStore.putCollection((await store.getCollection('demo', ALL)) as StacCollection, 'create');
      const page = await store.search(parseSearch({ collections: 'demo', limit: 100 }), ALL);
      await pgStore.putItems('demo', page.items, 'create');
      const id = pgServer.access.services.identity;
      id.createOrganisation({
        id: 'natou',
        kind: 'partner',
        codes: ['NATO'],
        clearance: [{ policy: 'NATO', classification: 'UNCLASSIFIED' }],
        caveats: [],
      });
      id.createPrincipal('natou', 'user', { id: 'natou-analyst', roles: ['partner-analyst'] });
      const pgKeys = { admin: pgServer.access.adminKey, partner: id.createKey('user:natou-analyst').key };
      const [lon, lat] = center(demo[0]);
      const z = 13;
      const col = Math.floor(((lon + 180) / 360) * 2 * 2 ** z);
      const row = Math.floor(((90 - lat) / 180) * 2 ** z);
      for (const who of ['admin', 'partner'] as const) {
        const headers = { authorization: `Bearer ${pgKeys[who]}` };
        const url = `/collections/demo/map/tiles/WorldCRS84Quad/${z}/${row}/${col}`;
        const onPg = await pgServer.app.inject({ url, headers });
        expect(onPg.statusCode, who).toBe(200);
        expect(
          firstDifferentPixel(await rgbaOf(onPg.rawPayload), await rgbaOf((await get(url, who)).rawPayload)),
          who,
        ).toBeNull();
        const layers = (body: string) =>
          xml
            .parse(body)
            .Capabilities.Contents.Layer.map((l: Record<string, unknown>) => l['ows:Identifier']);
        const cap = '/collections/demo/WMTSCapabilities.xml';
        expect(layers((await pgServer.app.inject({ url: cap, headers })).body), who).toEqual(
          layers((await get(cap, who)).body),
        );
      }
      // An item named like its collection keeps a layer of its own, apart from the mosaic's.
      const first = page.items.find((i) => i.id === scenes()[0]) as StacItem;
      await pgStore.putItems('demo', [{ ...first, id: 'demo' }], 'create');
      const cap = await pgServer.app.inject({
        url: '/collections/demo/WMTSCapabilities.xml',
        headers: { authorization: `Bearer ${pgKeys.admin}` },
      });
      const ids = xml
        .parse(cap.body)
        .Capabilities.Contents.Layer.map((l: Record<string, unknown>) => l['ows:Identifier']);
      expect(ids.filter((i: string) => i === 'demo' || i === 'demo/demo').sort()).toEqual([
        'demo',
        'demo/demo',
      ]);
    } finally {
      await pgServer.close();
      await pgStore.close();
      await db.drop();
    }
  }, 120_000);
});

describe('declared in /conformance and the API description', () => {
  it('OGC 20-057 §6 conformance: the Tiles classes served are declared; mapLayerPaths names routes that exist', async () => {
    const { conformsTo } = (await get('/conformance')).json();
    for (const c of ['core', 'tileset', 'tilesets-list', 'geodata-tilesets', 'png'])
      expect(conformsTo).toContain(`http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/${c}`);
    const sample: Record<string, string> = {
      collectionId: 'demo',
      itemId: scenes()[0],
      tileMatrixSetId: 'WorldCRS84Quad',
      tileMatrix: '13',
      tileRow: '0',
      tileCol: '0',
    };
    for (const p of Object.keys(mapLayerPaths(base))) {
      const url = p.replace(/\{(\w+)\}/g, (_, k: string) => sample[k]);
      const r = await get(url);
      expect(r.statusCode, url).toBe(200);
    }
  });
});

describe('Range requests on previews', () => {
  it.each([
    // [name, request headers, status, Content-Range, [start, end] of the body or 'all']
    ['RFC 9110 §14.1.2 first bytes', { range: 'bytes=0-99' }, 206, 'bytes 0-99/{n}', [0, 99]],
    ['RFC 9110 §14.1.2 open end', { range: 'bytes=100-' }, 206, 'bytes 100-{last}/{n}', [100, -1]],
    ['RFC 9110 §14.1.2 suffix', { range: 'bytes=-50' }, 206, 'bytes {n-50}-{last}/{n}', [-50, -1]],
    [
      'RFC 9110 §14.1.2 end past the body is clamped',
      { range: 'bytes=10-999999999' },
      206,
      'bytes 10-{last}/{n}',
      [10, -1],
    ],
    ['RFC 9110 §15.5.17 416 for a start past the end', { range: 'bytes={n}-' }, 416, 'bytes */{n}', null],
    ['RFC 9110 §14.2 several ranges: the whole body', { range: 'bytes=0-1,5-6' }, 200, undefined, 'all'],
    ['RFC 9110 §14.2 another unit is ignored', { range: 'items=0-1' }, 200, undefined, 'all'],
    [
      'RFC 9110 §13.1.5 If-Range with the current ETag',
      { range: 'bytes=0-9', 'if-range': '{etag}' },
      206,
      'bytes 0-9/{n}',
      [0, 9],
    ],
    [
      'RFC 9110 §13.1.5 If-Range with another ETag: the whole body',
      { range: 'bytes=0-9', 'if-range': '"other"' },
      200,
      undefined,
      'all',
    ],
    [
      'RFC 9110 §13.1.5 If-Range with a weak ETag never matches',
      { range: 'bytes=0-9', 'if-range': 'W/{etag}' },
      200,
      undefined,
      'all',
    ],
    [
      'RFC 9110 §13.1.5 If-Range with a date (no Last-Modified): the whole body',
      { range: 'bytes=0-9', 'if-range': 'Wed, 21 Oct 2015 07:28:00 GMT' },
      200,
      undefined,
      'all',
    ],
  ] as const)(
    '%s',
    async (_name, headers, status, contentRange, slice) => {
      const url = `/collections/demo/items/${scenes()[0]}/preview.png?max_size=256`;
      const full = await get(url);
      expect(full.statusCode).toBe(200);
      expect(full.headers['accept-ranges']).toBe('bytes');
      const body = full.rawPayload;
      const n = body.length;
      const etag = String(full.headers.etag);
      const fill = (s: string) =>
        s
          .replace('{etag}', etag)
          .replace('{n-50}', String(n - 50))
          .replace('{last}', String(n - 1))
          .replace('{n}', String(n))
          .replace('{n}', String(n));
      const sent = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, fill(v)]));
      const r = await get(url, 'admin', sent);
      expect(r.statusCode).toBe(status);
      expect(r.headers['content-range']).toBe(contentRange === undefined ? undefined : fill(contentRange));
      if (slice === 'all') expect(r.rawPayload.equals(body)).toBe(true);
      else if (slice) {
        const start = slice[0] < 0 ? n + slice[0] : slice[0];
        const end = slice[1] < 0 ? n - 1 : slice[1];
        expect(r.rawPayload.equals(body.subarray(start, end + 1))).toBe(true);
        expect(Number(r.headers['content-length'])).toBe(end - start + 1);
      } else expect(r.json()).toMatchObject({ code: expect.any(String), description: expect.any(String) });
    },
    120_000,
  );
});
