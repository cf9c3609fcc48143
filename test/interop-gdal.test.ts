import { execFile } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL } from '../src/access/scope.js';
import { buildStacItem, EXTENSION_SCHEMAS } from '../src/catalog/item-builder.js';
import { PostgresCatalog } from '../src/catalog/postgres/store.js';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import type { CatalogStore } from '../src/catalog/store.js';
import type { StacItem } from '../src/catalog/types.js';
import { loadDemo } from './helpers/demo-scenes.js';
import { PYTHON, tempDir } from './helpers/gdal.js';
import { freshDatabase } from './helpers/postgres.js';
import { testServer } from './helpers/server.js';
import { validateCollection, validateStacItem } from './helpers/stac.js';

/*
 * GDAL 3.6 from Debian against a real sarbridge server on the loopback, serving the demo catalog
 * (`npm start`'s): the STACIT raster driver on a search, /vsicurl/ on an asset, the OAPIF and GeoJSON
 * vector drivers on the items. Every answer GDAL gives through the API is compared with what GDAL
 * reads from the files on disk.
 */

const execFileAsync = promisify(execFile);
const SCENES = ['demo-2026-06-01', 'demo-2026-06-13'];

let tmp: ReturnType<typeof tempDir>;
let demoDir: string;
let server: Awaited<ReturnType<typeof testServer>>;
let base: string;
let items: StacItem[];
let sqlite: CatalogStore;
let env: NodeJS.ProcessEnv;

/** A TCP port free on the loopback interface now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  tmp = tempDir('interop-gdal-');
  demoDir = join(tmp.dir, 'demo');
  const store = new SqliteCatalog(join(tmp.dir, 'catalog.db'));
  sqlite = store;
  items = await loadDemo(store, demoDir);
  // Links and asset hrefs are under the public URL, so the server is told the port it will listen on.
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await testServer(store, { assetRoot: demoDir, publicUrl: base });
  await server.app.listen({ host: '127.0.0.1', port });
  // GDAL sends the key with every request it makes, search pages and asset ranges alike
  // (GDAL_HTTP_HEADERS, GDAL >= 3.6); no .aux.xml beside files, no retries that would hide a failure.
  env = {
    ...process.env,
    GDAL_HTTP_HEADERS: `Authorization: ${server.admin.authorization}`,
    GDAL_PAM_ENABLED: 'NO',
    GDAL_DISABLE_READDIR_ON_OPEN: 'EMPTY_DIR',
    GDAL_HTTP_MAX_RETRY: '0',
  };
});

afterAll(async () => {
  await server?.close();
  await sqlite?.close();
  tmp?.cleanup();
});

/** Run a GDAL program (asynchronously: the server in this process answers it meanwhile). */
async function run(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** The COG of an item's asset on disk. */
function fileOf(id: string, key = 'data'): string {
  const it = items.find((i) => i.id === id);
  if (!it) throw new Error(`no demo item ${id}`);
  return join(demoDir, String(it.assets[key].href));
}

interface GdalInfo {
  size: [number, number];
  geoTransform: number[];
  coordinateSystem: { wkt: string };
  bands: {
    band: number;
    type: string;
    block: number[];
    noDataValue?: number | string;
    overviews?: unknown[];
  }[];
}

const gdalinfo = async (src: string) => JSON.parse(await run('gdalinfo', ['-json', src])) as GdalInfo;

/**
 * gdal_translate of a window (-srcwin col row width height) of `a` and of `b` to GeoTIFFs, then the
 * two read back with GDAL and compared pixel for pixel: the first pixel that differs (NaN equals NaN),
 * the shapes, and the windows' geotransforms.
 */
async function translateAndCompare(
  a: string,
  b: string,
  win: [number, number, number, number],
): Promise<{ shape: number[][]; firstDiff: string | null; geoTransforms: number[][]; valid: number }> {
  const outs = [join(tmp.dir, `a-${Math.random()}.tif`), join(tmp.dir, `b-${Math.random()}.tif`)];
  const srcwin = win.map(String);
  await run('gdal_translate', ['-q', '-of', 'GTiff', '-srcwin', ...srcwin, a, outs[0]]);
  await run('gdal_translate', ['-q', '-of', 'GTiff', '-srcwin', ...srcwin, b, outs[1]]);
  const script = `
import sys, json
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
ds = [gdal.Open(p) for p in sys.argv[1:3]]
arr = [d.ReadAsArray().astype(np.float64) for d in ds]
first = None
if arr[0].shape == arr[1].shape:
    same = (arr[0] == arr[1]) | (np.isnan(arr[0]) & np.isnan(arr[1]))
    bad = np.argwhere(~same)
    if len(bad):
        i = tuple(int(v) for v in bad[0])
        first = "pixel %s: %r vs %r" % (i, float(arr[0][i]), float(arr[1][i]))
print(json.dumps({"shape": [list(a.shape) for a in arr], "firstDiff": first,
  "geoTransforms": [list(d.GetGeoTransform()) for d in ds],
  "valid": int(np.count_nonzero(~np.isnan(arr[1])))}))
`;
  const { stdout } = await execFileAsync(PYTHON, ['-c', script, ...outs], { env, timeout: 60_000 });
  return JSON.parse(stdout);
}

describe('the item builder', () => {
  const asset = { href: './s.tif', type: 'image/tiff; application=geotiff', roles: ['data'] };
  const grid = { epsg: 32631, width: 10, height: 8, geoTransform: [500000, 10, 0, 4000000, 0, -10] as const };

  it('RFC 7946 §3.1.6: a clockwise footprint is wound counter-clockwise and closed; §5 bbox from it', () => {
    const it = buildStacItem({
      id: 'cw',
      time: { datetime: '2026-01-01T00:00:00Z' },
      footprint: [
        [4, 42],
        [4, 43],
        [5, 43],
        [5, 42],
      ],
      assets: { data: asset },
    });
    const ring = (it.geometry as { coordinates: number[][][] }).coordinates[0];
    expect(ring).toEqual([
      [5, 42],
      [5, 43],
      [4, 43],
      [4, 42],
      [5, 42],
    ]);
    let area2 = 0;
    for (let i = 0; i + 1 < ring.length; i++)
      area2 += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
    expect(area2).toBeGreaterThan(0);
    expect(it.bbox).toEqual([4, 42, 5, 43]);
    // No extension fields, no extensions listed.
    expect(it.stac_extensions).toEqual([]);
    expect(validateStacItem(it)).toEqual([]);
  });

  it('STAC Item §stac_extensions: exactly the extensions whose fields the item carries, each valid against its official schema', () => {
    const full = buildStacItem({
      id: 'full',
      time: { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' },
      footprint: [
        [4, 42],
        [5, 42],
        [5, 43],
        [4, 43],
        [4, 42],
      ],
      platform: 'sarbridge-sim',
      sar: {
        instrumentMode: 'IW',
        frequencyBand: 'C',
        polarizations: ['VV'],
        productType: 'GRD',
        looksRange: 5,
      },
      sat: { orbitState: 'ascending', relativeOrbit: 88 },
      view: { incidenceAngleDeg: 33.5 },
      proj: { ...grid, geoTransform: [...grid.geoTransform] },
      processing: { level: 'L2', software: { sarbridge: '0.1.0' } },
      assets: {
        data: { ...asset, spatialResolutionM: 10, bands: [{ nodata: 'nan', dataType: 'float32' }] },
        vessels: {
          href: './v.geojson',
          type: 'application/geo+json',
          roles: ['data'],
          file: { size: 5, checksum: `1220${'0'.repeat(64)}` },
        },
      },
    });
    expect(full.stac_extensions).toEqual(Object.values(EXTENSION_SCHEMAS));
    expect(full.properties).toMatchObject({
      datetime: null,
      'proj:code': 'EPSG:32631',
      'proj:epsg': 32631,
      'proj:shape': [8, 10],
      'proj:transform': [10, 0, 500000, 0, -10, 4000000],
      'proj:bbox': [500000, 3999920, 500100, 4000000],
      'view:incidence_angle': 33.5,
    });
    expect(validateStacItem(full)).toEqual([]);
    const sarOnly = buildStacItem({
      id: 'sar',
      time: { datetime: '2026-01-01T00:00:00Z' },
      footprint: full.geometry ? (full.geometry.coordinates as [number, number][][])[0] : [],
      sar: { instrumentMode: 'IW', frequencyBand: 'C', polarizations: ['VV'], productType: 'GRD' },
      assets: { data: { ...asset, proj: { ...grid, geoTransform: [...grid.geoTransform] } } },
    });
    expect(sarOnly.stac_extensions).toEqual([EXTENSION_SCHEMAS.sar, EXTENSION_SCHEMAS.proj]);
    expect(validateStacItem(sarOnly)).toEqual([]);
    // Not vacuous: a wrong proj:epsg type and a wrong proj:shape are caught under projection v1.2.0.
    const bad = structuredClone(sarOnly);
    bad.assets.data['proj:epsg'] = 'EPSG:32631';
    bad.assets.data['proj:shape'] = [8];
    const errors = validateStacItem(bad);
    expect(errors.some((e) => e.includes('/assets/data/proj:epsg'))).toBe(true);
    expect(errors.some((e) => e.includes('/assets/data/proj:shape'))).toBe(true);
  });

  it('bad input is a ValidationError naming the field', () => {
    const base = { id: 'x', time: { datetime: '2026-01-01T00:00:00Z' }, assets: {} };
    expect(() =>
      buildStacItem({
        ...base,
        footprint: [
          [0, 0],
          [1, 1],
        ],
      }),
    ).toThrow(/^footprint: needs at least 3 points/);
    expect(() =>
      buildStacItem({
        ...base,
        footprint: [
          [0, 0],
          [200, 0],
          [0, 1],
        ],
      }),
    ).toThrow(/^footprint: \[200, 0\]/);
    expect(() =>
      buildStacItem({
        ...base,
        footprint: [
          [0, 0],
          [1, 0],
          [0, 1],
        ],
        proj: { ...grid, epsg: 0, geoTransform: [...grid.geoTransform] },
      }),
    ).toThrow(/^proj: epsg must be a positive integer/);
  });
});

describe('demo items', () => {
  it('STAC Item 1.0.0 and its extensions (projection v1.2.0): every demo item and the collection, as served, validate against the official schemas', async () => {
    expect(items.map((i) => i.id).sort()).toEqual([...SCENES, 'demo-change']);
    for (const it of items) {
      const r = await server.app.inject({ url: `/collections/demo/items/${it.id}`, headers: server.admin });
      expect(r.statusCode).toBe(200);
      expect(validateStacItem(r.json()), it.id).toEqual([]);
    }
    const c = await server.app.inject({ url: '/collections/demo', headers: server.admin });
    expect(c.statusCode).toBe(200);
    expect(validateCollection(c.json())).toEqual([]);
  });

  it('Projection extension §proj:code, §proj:epsg, §proj:shape, §proj:transform, §proj:bbox: each raster asset says what GDAL reads from its COG', async () => {
    const script = `
import sys, json
from osgeo import gdal, osr
gdal.UseExceptions()
d = gdal.Open(sys.argv[1])
s = d.GetSpatialRef()
s.AutoIdentifyEPSG()
print(json.dumps({"epsg": int(s.GetAuthorityCode(None)), "w": d.RasterXSize, "h": d.RasterYSize,
  "gt": list(d.GetGeoTransform())}))
`;
    for (const it of items) {
      const a = it.assets.data;
      const { stdout } = await execFileAsync(PYTHON, ['-c', script, fileOf(it.id)], { env });
      const ref = JSON.parse(stdout) as { epsg: number; w: number; h: number; gt: number[] };
      const [c, a1, b1, f, d1, e1] = ref.gt;
      expect(a['proj:code'], it.id).toBe(`EPSG:${ref.epsg}`);
      expect(a['proj:epsg'], it.id).toBe(ref.epsg);
      // [rows, columns] ("Y, X" in the extension's words).
      expect(a['proj:shape'], it.id).toEqual([ref.h, ref.w]);
      // The first two rows of the affine matrix: [a, b, c, d, e, f] from GDAL's [c, a, b, f, d, e].
      expect(a['proj:transform'], it.id).toEqual([a1, b1, c, d1, e1, f]);
      expect(a['proj:bbox'], it.id).toEqual([c, f + ref.h * e1, c + ref.w * a1, f]);
      // Non-raster assets carry no grid (so STACIT does not mistake them for rasters).
      for (const [k, other] of Object.entries(it.assets))
        if (k !== 'data')
          expect(
            Object.keys(other).some((f) => f.startsWith('proj:')),
            `${it.id} ${k}`,
          ).toBe(false);
    }
  });
});

describe('GDAL STACIT driver on a search', () => {
  // The two scenes through /search, one item per page so that GDAL follows the next links.
  const search = () => `STACIT:"${base}/search?collections=demo&ids=${SCENES.join(',')}&limit=1"`;

  it('opens the search as one mosaic on the scenes grid, as GDAL reads the COG on disk (CRS, size, geotransform, type)', async () => {
    const [viaStac, local] = await Promise.all([gdalinfo(search()), gdalinfo(fileOf(SCENES[1]))]);
    expect(viaStac.size).toEqual(local.size);
    expect(viaStac.geoTransform).toEqual(local.geoTransform);
    expect(viaStac.coordinateSystem.wkt).toBe(local.coordinateSystem.wkt);
    expect(viaStac.bands.map((b) => b.type)).toEqual(local.bands.map((b) => b.type));
  });

  it('gdal_translate -srcwin of a window gives the later scene pixel for pixel (STACIT stacks items by ascending datetime)', async () => {
    const win: [number, number, number, number] = [301, 517, 200, 150];
    const r = await translateAndCompare(search(), fileOf(SCENES[1]), win);
    expect(r.shape[0]).toEqual([150, 200]);
    expect(r.shape[0]).toEqual(r.shape[1]);
    expect(r.firstDiff).toBeNull();
    expect(r.geoTransforms[0]).toEqual(r.geoTransforms[1]);
    expect(r.valid).toBeGreaterThan(0);
    // Not vacuous: the earlier scene differs in that window (speckle and ships of another date).
    const other = await translateAndCompare(search(), fileOf(SCENES[0]), win);
    expect(other.firstDiff).not.toBeNull();
  });

  it('a search of the first scene alone gives that scene; the whole demo collection opens too', async () => {
    const one = `STACIT:"${base}/search?collections=demo&ids=${SCENES[0]}"`;
    const r = await translateAndCompare(one, fileOf(SCENES[0]), [1800, 20, 64, 64]);
    expect(r.firstDiff).toBeNull();
    expect(r.shape[0]).toEqual([64, 64]);
    const all = await gdalinfo(`STACIT:"${base}/search?collections=demo"`);
    expect(all.size).toEqual((await gdalinfo(fileOf(SCENES[0]))).size);
  });

  it('without the key the search is refused and STACIT opens nothing', async () => {
    const { GDAL_HTTP_HEADERS: _, ...noKey } = env;
    await expect(
      execFileAsync('gdalinfo', [search()], { env: noKey, timeout: 60_000 }),
    ).rejects.toMatchObject({
      stderr: expect.stringMatching(/HTTP error code ?: ?401/),
    });
  });
});

describe('GDAL /vsicurl/ on an asset URL', () => {
  const assetUrl = (id: string) => `/vsicurl/${base}/collections/demo/items/${id}/assets/data`;

  it('gdalinfo reads the same raster as from the file (size, CRS, geotransform, bands, blocks, overviews)', async () => {
    for (const id of [SCENES[0], 'demo-change']) {
      const [remote, local] = await Promise.all([gdalinfo(assetUrl(id)), gdalinfo(fileOf(id))]);
      expect(remote.size, id).toEqual(local.size);
      expect(remote.geoTransform, id).toEqual(local.geoTransform);
      expect(remote.coordinateSystem.wkt, id).toBe(local.coordinateSystem.wkt);
      const bands = (g: GdalInfo) =>
        g.bands.map((b) => [b.type, b.block, b.noDataValue, b.overviews?.length]);
      expect(bands(remote), id).toEqual(bands(local));
    }
  });

  it('a pixel window read over HTTP equals the same window of the file, on both bands of the change', async () => {
    const r = await translateAndCompare(assetUrl('demo-change'), fileOf('demo-change'), [1000, 999, 129, 77]);
    expect(r.shape[0]).toEqual([2, 77, 129]);
    expect(r.firstDiff).toBeNull();
    expect(r.geoTransforms[0]).toEqual(r.geoTransforms[1]);
  });
});

describe('ogrinfo on the items', () => {
  /** Features as GDAL's vector drivers read them: id, datetime, envelope (lon/lat). */
  async function features(src: string): Promise<{
    count: number;
    features: { id: string; datetime: string | null; envelope: number[] }[];
  }> {
    const script = `
import sys, json
from osgeo import ogr
ogr.UseExceptions()
ds = ogr.Open(sys.argv[1])
lyr = ds.GetLayer(0)
out = []
for f in lyr:
    e = f.GetGeometryRef().GetEnvelope()
    i = f.GetFieldIndex("datetime")
    t = None
    if f.IsFieldSetAndNotNull(i):
        y, mo, d, h, mi, sec, tz = f.GetFieldAsDateTime(i)
        # tz 100 is UTC in OGR's convention.
        t = "%04d-%02d-%02dT%02d:%02d:%06.3f%s" % (y, mo, d, h, mi, sec, "Z" if tz == 100 else "?")
    out.append({"id": f.GetField("id"), "datetime": t, "envelope": [e[0], e[2], e[1], e[3]]})
print(json.dumps({"count": lyr.GetFeatureCount(), "features": out}))
`;
    const { stdout } = await execFileAsync(PYTHON, ['-c', script, src], { env, timeout: 60_000 });
    return JSON.parse(stdout);
  }

  /** The lon/lat bounds of a COG on disk as GDAL computes them (edges densified, 21 points). */
  async function fileBounds(path: string): Promise<number[]> {
    const script = `
import sys, json
from osgeo import gdal, osr
gdal.UseExceptions()
d = gdal.Open(sys.argv[1])
g = d.GetGeoTransform()
s = d.GetSpatialRef()
t = osr.SpatialReference(); t.ImportFromEPSG(4326); t.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
ct = osr.CoordinateTransformation(s, t)
x0, y1 = g[0], g[3]
x1, y0 = g[0] + d.RasterXSize * g[1], g[3] + d.RasterYSize * g[5]
print(json.dumps(list(ct.TransformBounds(x0, y0, x1, y1, 21))))
`;
    const { stdout } = await execFileAsync(PYTHON, ['-c', script, path], { env, timeout: 60_000 });
    return JSON.parse(stdout);
  }

  it.each([
    ['OAPIF driver, OGC API - Features §collection items', () => `OAPIF:${base}/collections/demo`],
    ['GeoJSON driver, STAC API Item Search §GET /search', () => `${base}/search?collections=demo`],
  ])(
    '%s: the three items, each footprint the bounds of its COG and scenes at the simulated dates',
    async (_, src) => {
      // The running count ogrinfo prints, from the real CLI.
      expect(await run('ogrinfo', ['-ro', '-al', '-so', src()])).toMatch(/Feature Count: 3\b/);
      const r = await features(src());
      expect(r.count).toBe(3);
      expect(r.features.map((f) => f.id).sort()).toEqual([...SCENES, 'demo-change']);
      // The dates the simulator was given (its defaults), not read from our items.
      const dates: Record<string, string | null> = {
        'demo-2026-06-01': '2026-06-01T06:00:00.000Z',
        'demo-2026-06-13': '2026-06-13T06:00:00.000Z',
        'demo-change': null,
      };
      for (const f of r.features) {
        expect(f.datetime, f.id).toBe(dates[f.id]);
        const ref = await fileBounds(fileOf(f.id));
        for (let k = 0; k < 4; k++)
          expect(Math.abs(f.envelope[k] - ref[k]), `${f.id} [${k}]`).toBeLessThan(1e-7);
      }
    },
  );
});

describe('on PostgreSQL/PostGIS', () => {
  // The same demo collection and items in the PostgreSQL store, behind a second server.
  let pgServer: Awaited<ReturnType<typeof testServer>>;
  let pgBase: string;
  let drop: () => Promise<void>;
  let pgEnv: NodeJS.ProcessEnv;
  let pgStore: PostgresCatalog | undefined;

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    const store = new PostgresCatalog(db.url);
    pgStore = store;
    const c = await sqlite.getCollection('demo', ALL);
    if (!c) throw new Error('the demo collection is missing');
    await store.putCollection(c, 'create');
    await store.putItems('demo', items, 'create');
    const port = await freePort();
    pgBase = `http://127.0.0.1:${port}`;
    pgServer = await testServer(store, { assetRoot: demoDir, publicUrl: pgBase });
    await pgServer.app.listen({ host: '127.0.0.1', port });
    pgEnv = { ...env, GDAL_HTTP_HEADERS: `Authorization: ${pgServer.admin.authorization}` };
  });

  afterAll(async () => {
    await pgServer?.close();
    await pgStore?.close();
    await drop?.();
  });

  it('STACIT on a paged search gives the later scene pixel for pixel, and ogrinfo counts the three items', async () => {
    const saved = env;
    env = pgEnv;
    try {
      const search = `STACIT:"${pgBase}/search?collections=demo&ids=${SCENES.join(',')}&limit=1"`;
      const r = await translateAndCompare(search, fileOf(SCENES[1]), [700, 1200, 96, 80]);
      expect(r.shape[0]).toEqual([80, 96]);
      expect(r.firstDiff).toBeNull();
      expect(r.geoTransforms[0]).toEqual(r.geoTransforms[1]);
      expect(await run('ogrinfo', ['-ro', '-al', '-so', `OAPIF:${pgBase}/collections/demo`])).toMatch(
        /Feature Count: 3\b/,
      );
    } finally {
      env = saved;
    }
  });
});
