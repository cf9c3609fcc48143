import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../src/catalog/sqlite/store.js';
import { syntheticCollection } from '../src/catalog/synthetic.js';
import { lonLatBounds, transformPoint } from '../src/geo/crs.js';
import { bboxPolygon } from '../src/geo/geojson.js';
import { TILE_MATRIX_SETS, tileBounds, webMercatorTileAt } from '../src/geo/tms.js';
import type { SceneResult } from '../src/ops/simulate-scene.js';
import { simulateScene } from '../src/ops/simulate-scene.js';
import { colorize, colorizeLut, colormap, float16Lut } from '../src/tiler/colormap.js';
import { Tiler } from '../src/tiler/tiler.js';
import { mulberry32 } from '../src/util/random.js';
import { gdalRead, tempDir } from './helpers/gdal.js';
import { testServer } from './helpers/server.js';

const tmp = tempDir('tiles-');
let scene: SceneResult;
let store: SqliteCatalog;
let app: FastifyInstance;
let server: Awaited<ReturnType<typeof testServer>>;
/** A GET as the provider-admin. */
const get = (url: string, headers: Record<string, string> = {}) =>
  app.inject({ url, headers: { ...server.admin, ...headers } });
let bbox: number[];

beforeAll(async () => {
  scene = await simulateScene(join(tmp.dir, 'scene'), {
    seed: 12,
    size: 1024,
    ships: 10,
    dates: ['2026-06-01T06:00:00Z'],
  });
  bbox = lonLatBounds(scene.epsg, scene.geoTransform, scene.size, scene.size);
  store = new SqliteCatalog(join(tmp.dir, 'c.db'));
  server = await testServer(store, { assetRoot: tmp.dir });
  app = server.app;
  const headers = server.admin;
  await app.inject({ method: 'POST', url: '/collections', payload: syntheticCollection('sim'), headers });
  const [w, s, e, n] = bbox;
  const r = await app.inject({
    method: 'POST',
    url: '/collections/sim/items',
    headers,
    payload: {
      type: 'Feature',
      stac_version: '1.0.0',
      id: 'scene-1',
      geometry: bboxPolygon([w, s, e, n]),
      bbox,
      properties: { datetime: '2026-06-01T06:00:00Z' },
      links: [],
      assets: {
        data: {
          href: relative(tmp.dir, scene.scenes[0].path),
          type: 'image/tiff; application=geotiff; profile=cloud-optimized',
          roles: ['data'],
        },
      },
    },
  });
  expect(r.statusCode, r.body).toBe(201);
});
afterAll(async () => {
  await server.close();
  await store.close();
  tmp.cleanup();
});

describe('tile matrix sets', () => {
  it('define WebMercatorQuad and WorldCRS84Quad as OGC 17-083r4 does', async () => {
    const list = (await get('/tileMatrixSets')).json();
    expect(list.tileMatrixSets.map((t: { id: string }) => t.id)).toEqual([
      'WebMercatorQuad',
      'WorldCRS84Quad',
    ]);
    const wm = (await get('/tileMatrixSets/WebMercatorQuad')).json();
    // The standard's table: level 0 cell size 156543.0339280410 m, scale denominator 559082264.0287178.
    expect(wm.tileMatrices[0].cellSize).toBeCloseTo(156543.033928041, 6);
    expect(wm.tileMatrices[0].scaleDenominator).toBeCloseTo(559082264.0287178, 3);
    expect(wm.tileMatrices[3].matrixWidth).toBe(8);
    const geo = (await get('/tileMatrixSets/WorldCRS84Quad')).json();
    expect(geo.tileMatrices[0].matrixWidth).toBe(2);
    expect(geo.tileMatrices[0].cellSize).toBeCloseTo(0.703125, 12);
    expect(geo.tileMatrices[0].scaleDenominator).toBeCloseTo(279541132.0143589, 3);
    expect((await get('/tileMatrixSets/Nope')).statusCode).toBe(404);
  });
});

describe('tile values against gdalwarp', () => {
  it.each([
    ['WebMercatorQuad', 'nearest', 14],
    ['WebMercatorQuad', 'bilinear', 14],
    ['WorldCRS84Quad', 'nearest', 13],
  ] as const)('%s %s at zoom %i', async (tmsId, resampling, z) => {
    const t = TILE_MATRIX_SETS[tmsId];
    const [lon, lat] = transformPoint(
      scene.epsg,
      4326,
      scene.geoTransform[0] + 5120,
      scene.geoTransform[3] - 5120,
    );
    const [x, y] =
      tmsId === 'WebMercatorQuad'
        ? webMercatorTileAt(lon, lat, z)
        : [Math.floor(((lon + 180) / 360) * 2 * 2 ** z), Math.floor(((90 - lat) / 180) * 2 ** z)];
    const tiler = new Tiler();
    const ours = await tiler.tileValues(
      { path: scene.scenes[0].path, unit: 'linear', band: 0 },
      t,
      z,
      x,
      y,
      resampling,
    );
    await tiler.close();
    expect(ours).not.toBeNull();
    const [minX, minY, maxX, maxY] = tileBounds(t, z, x, y);
    const out = join(tmp.dir, `gdal-${tmsId}-${resampling}.tif`);
    execFileSync('gdalwarp', [
      '-q',
      '-overwrite',
      '-ovr',
      'NONE',
      '-t_srs',
      tmsId === 'WebMercatorQuad' ? 'EPSG:3857' : 'EPSG:4326',
      '-te',
      String(minX),
      String(minY),
      String(maxX),
      String(maxY),
      '-ts',
      '256',
      '256',
      '-r',
      resampling === 'nearest' ? 'near' : 'bilinear',
      '-dstnodata',
      'nan',
      '-ot',
      'Float32',
      scene.scenes[0].path,
      out,
    ]);
    const ref = gdalRead(out, 'float32').data[0] as Float32Array;
    let same = 0;
    let both = 0;
    let sumRel = 0;
    for (let i = 0; i < ref.length; i++) {
      const a = (ours as Float32Array)[i];
      const b = ref[i];
      if (a !== a || b !== b) continue;
      both++;
      if (a === b) same++;
      sumRel += Math.abs(a - b) / Math.abs(b);
    }
    console.log(
      `${tmsId} ${resampling} z${z}: ${both} pixels, ${((100 * same) / both).toFixed(2)}% identical to gdalwarp, mean relative difference ${(sumRel / both).toExponential(2)}`,
    );
    expect(both).toBeGreaterThan(60000);
    if (resampling === 'nearest') expect(same / both).toBeGreaterThan(0.99);
    else expect(sumRel / both).toBeLessThan(0.01);
  });
});

describe('tile endpoints', () => {
  it('serves PNG tiles with ETag, Cache-Control and transparency outside the image; 304 on a matching ETag', async () => {
    const [x, y] = webMercatorTileAt(bbox[0], bbox[3], 12);
    const url = `/tiles/sim/scene-1/data/WebMercatorQuad/12/${x}/${y}.png?colormap=viridis&rescale=-25,0`;
    const r = await get(url);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['cache-control']).toContain('max-age');
    const { data, info } = await sharp(r.rawPayload).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([256, 256, 4]);
    let transparent = 0;
    let opaque = 0;
    for (let i = 3; i < data.length; i += 4) data[i] === 0 ? transparent++ : opaque++;
    // The scene's north-west corner lies inside this tile: part of it is outside the image.
    expect(transparent).toBeGreaterThan(0);
    expect(opaque).toBeGreaterThan(0);
    const again = await get(url, { 'if-none-match': String(r.headers.etag) });
    expect(again.statusCode).toBe(304);
    const webp = await get(url.replace('.png', '.webp'));
    expect(webp.headers['content-type']).toBe('image/webp');
    expect((await sharp(webp.rawPayload).metadata()).format).toBe('webp');
  });

  it('answers 204 for a tile of the matrix outside the item and 404 for a tile outside the matrix', async () => {
    expect((await get('/tiles/sim/scene-1/data/WebMercatorQuad/10/0/0.png')).statusCode).toBe(204);
    const r = await get('/tiles/sim/scene-1/data/WebMercatorQuad/3/8/1.png');
    expect(r.statusCode).toBe(404);
    expect(r.json().description).toMatch(/tile 3\/8\/1 is outside WebMercatorQuad .*x 0-7 and y 0-7/);
    expect((await get('/tiles/sim/scene-1/data/WebMercatorQuad/25/0/0.png')).statusCode).toBe(404);
  });

  const bad: [string, number, RegExp][] = [
    [
      '/tiles/sim/scene-1/data/WebMercatorQuad/3/1/1.png?rescale=5',
      400,
      /rescale must be two numbers min,max/,
    ],
    ['/tiles/sim/scene-1/data/WebMercatorQuad/3/1/1.png?rescale=a,b', 400, /rescale must be two numbers/],
    ['/tiles/sim/scene-1/data/WebMercatorQuad/3/1/1.png?rescale=5,1', 400, /min < max/],
    [
      '/tiles/sim/scene-1/data/WebMercatorQuad/3/1/1.png?colormap=jet',
      400,
      /colormap must be one of gray, viridis, magma, diverging/,
    ],
    ['/tiles/sim/scene-1/data/WebMercatorQuad/3/1/1.gif', 400, /must be \{y\}.png or \{y\}.webp/],
    ['/tiles/sim/scene-1/data/Mercator/3/1/1.png', 404, /tile matrix set 'Mercator'/],
    ['/tiles/sim/nope/data/WebMercatorQuad/3/1/1.png', 404, /item 'nope' does not exist/],
    ['/tiles/none/scene-1/data/WebMercatorQuad/3/1/1.png', 404, /collection 'none' does not exist/],
    ['/tiles/sim/scene-1/quicklook/WebMercatorQuad/3/1/1.png', 404, /no asset 'quicklook'/],
    ['/tiles/sim/scene-1/data/WebMercatorQuad/x/1/1.png', 404, /outside WebMercatorQuad/],
    ['/collections/sim/items/scene-1/point/200,1', 400, /point must be lon,lat/],
    [
      '/collections/sim/items/scene-1/preview.png?max_size=5',
      400,
      /max_size must be an integer from 16 to 4096/,
    ],
  ];
  it.each(bad)('%s -> %i with a JSON error', async (url, status, msg) => {
    const r = await get(url);
    expect(r.statusCode).toBe(status);
    expect(r.json().description).toMatch(msg);
    expect(typeof r.json().code).toBe('string');
  });

  it('returns TileJSON, a preview and point values (equal to the pixel GDAL reads there)', async () => {
    const tj = (await get('/collections/sim/items/scene-1/tilejson.json?colormap=magma')).json();
    expect(tj.tilejson).toBe('3.0.0');
    expect(tj.tiles[0]).toMatch(
      /\/tiles\/sim\/scene-1\/data\/WebMercatorQuad\/\{z\}\/\{x\}\/\{y\}\.png\?colormap=magma$/,
    );
    expect(tj.maxzoom).toBeGreaterThanOrEqual(13);
    expect(tj.maxzoom).toBeLessThanOrEqual(15);
    const pv = await get('/collections/sim/items/scene-1/preview.png?max_size=256');
    expect(pv.statusCode).toBe(200);
    const meta = await sharp(pv.rawPayload).metadata();
    expect([meta.width, meta.height]).toEqual([256, 256]);
    // A pixel centre, to lon/lat, back through the point endpoint.
    const col = 300;
    const row = 700;
    const [lon, lat] = transformPoint(
      scene.epsg,
      4326,
      scene.geoTransform[0] + (col + 0.5) * 10,
      scene.geoTransform[3] - (row + 0.5) * 10,
    );
    const pt = (await get(`/collections/sim/items/scene-1/point/${lon},${lat}`)).json();
    const ref = gdalRead(scene.scenes[0].path, 'float32').data[0] as Float32Array;
    expect(pt.values.data).toBe(ref[row * scene.size + col]);
    expect((await get('/collections/sim/items/scene-1/point/0,0')).json().values.data).toBeNull();
  });

  it('the float16 colour table gives the colour of the exact stretch within one step', () => {
    const rand = mulberry32(5);
    const vals = new Float32Array(100_000).map(() => (rand() < 0.01 ? Number.NaN : 10 ** (-4 + rand() * 4)));
    const lut = colormap('gray');
    const fast = colorizeLut(
      vals,
      float16Lut(-30, 0, (v) => (v > 0 ? 10 * Math.log10(v) : Number.NaN)),
      lut,
    );
    const db = vals.map((v) => 10 * Math.log10(v));
    const exact = colorize(db, -30, 0, lut);
    let worst = 0;
    for (let i = 0; i < vals.length; i++) {
      expect(fast[i * 4 + 3]).toBe(exact[i * 4 + 3]);
      worst = Math.max(worst, Math.abs(fast[i * 4] - exact[i * 4]));
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('colour maps match published values of viridis and magma', () => {
    const hex = (lut: Uint8Array, i: number) => [lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]];
    const near = (a: number[], b: number[]) => a.every((v, k) => Math.abs(v - b[k]) <= 6);
    // matplotlib: viridis(0) #440154, viridis(0.5) #21918c, viridis(1) #fde725; magma(1) #fcfdbf.
    expect(near(hex(colormap('viridis'), 0), [0x44, 0x01, 0x54])).toBe(true);
    expect(near(hex(colormap('viridis'), 128), [0x21, 0x91, 0x8c])).toBe(true);
    expect(near(hex(colormap('viridis'), 255), [0xfd, 0xe7, 0x25])).toBe(true);
    expect(near(hex(colormap('magma'), 255), [0xfc, 0xfd, 0xbf])).toBe(true);
    expect(hex(colormap('diverging'), 128).every((v) => v > 240)).toBe(true);
  });
});
