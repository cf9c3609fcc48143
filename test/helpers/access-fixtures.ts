import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type Database from 'better-sqlite3';
import { type CryptoKey, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { mulberry32 } from '../../src/util/random.js';
import { gdalMake, PYTHON } from './gdal.js';

const execFileAsync = promisify(execFile);

/**
 * A float32 COG written by GDAL itself (gdal_translate -of COG, deflate, overviews), UTM 31N,
 * 10 m pixels, seeded values: the asset the HTTP tests serve.
 */
export function gdalCog(path: string, size: number, seed: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const rand = mulberry32(seed);
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = rand() * 0.5 + (i % size) / size;
  const plain = `${path}.plain.tif`;
  gdalMake(plain, data, {
    width: size,
    height: size,
    bands: 1,
    dtype: 'float32',
    epsg: 32631,
    geotransform: [500000, 10, 0, 5650000, 0, -10],
  });
  execFileSync('gdal_translate', [
    '-q',
    '-of',
    'COG',
    '-co',
    'COMPRESS=DEFLATE',
    '-co',
    'BLOCKSIZE=256',
    plain,
    path,
  ]);
  execFileSync('rm', ['-f', plain]);
}

/**
 * What GDAL (not sarbridge) reads from a raster, local or /vsicurl/: statistics computed over every
 * pixel and a window's bytes as a SHA-256, without writing .aux.xml files. Runs asynchronously, so a
 * server in this process can answer GDAL's requests meanwhile.
 */
export async function gdalReadback(
  source: string,
  win: { colOff: number; rowOff: number; width: number; height: number },
): Promise<{ width: number; height: number; stats: number[]; windowSha256: string; overviews: number }> {
  const script = `
import sys, json, hashlib
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.Open(sys.argv[1])
b = ds.GetRasterBand(1)
st = b.ComputeStatistics(False)
w = b.ReadRaster(${win.colOff}, ${win.rowOff}, ${win.width}, ${win.height}, buf_type=gdal.GDT_Float32)
print(json.dumps({"width": ds.RasterXSize, "height": ds.RasterYSize, "stats": st,
  "windowSha256": hashlib.sha256(w).hexdigest(), "overviews": b.GetOverviewCount()}))
`;
  const { stdout } = await execFileAsync(PYTHON, ['-c', script, source], {
    env: {
      ...process.env,
      GDAL_PAM_ENABLED: 'NO',
      GDAL_DISABLE_READDIR_ON_OPEN: 'EMPTY_DIR',
      GDAL_HTTP_MAX_RETRY: '0',
    },
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

/** The server's current ES256 signing key, read from its identity database (for crafting tokens). */
export async function serverSigningKey(db: Database.Database): Promise<{ kid: string; key: CryptoKey }> {
  const row = db.prepare('SELECT kid, private_jwk FROM signing_keys WHERE retired_at_s IS NULL').get() as {
    kid: string;
    private_jwk: string;
  };
  return { kid: row.kid, key: (await importJWK(JSON.parse(row.private_jwk) as JWK, 'ES256')) as CryptoKey };
}

/** A JWT put together with jose from explicit claims (times in seconds), signed with `key`. */
export async function craftJwt(
  key: CryptoKey,
  kid: string,
  c: { iss: string; aud: string; sub: string; org: string; roles: string[]; iat: number; exp: number },
): Promise<string> {
  return new SignJWT({ org: c.org, roles: c.roles })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(c.iss)
    .setAudience(c.aud)
    .setSubject(c.sub)
    .setJti(`jti-${Math.random().toString(36).slice(2)}`)
    .setIssuedAt(c.iat)
    .setNotBefore(c.iat)
    .setExpirationTime(c.exp)
    .sign(key);
}

/** A fresh ES256 key that is not the server's. */
export async function foreignKey(): Promise<CryptoKey> {
  return (await generateKeyPair('ES256')).privateKey as CryptoKey;
}

/** An unsigned JWT (alg none) with the given payload. */
export function unsignedJwt(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b(header)}.${b(payload)}.`;
}
