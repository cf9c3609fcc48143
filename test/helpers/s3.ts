import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from '@20minutes/s3rver';
import type { S3Settings } from '../../src/store/store.js';

/**
 * An S3-compatible server for tests: s3rver (npm '@20minutes/s3rver'), a stand-in for a real S3
 * service (no MinIO, Garage or SeaweedFS package on Debian 12; Ceph's radosgw needs a whole RADOS
 * cluster). It runs in this process on a free loopback port and keeps objects in a temporary folder.
 * Known gaps: it does not enforce If-Match on GET (the store's own ETag comparison is what catches a
 * replaced object here), and it signs bucket-level paths without the SDK's trailing '/', so signature
 * checks are off (`allowMismatchedSignatures`); an unknown access key id is still refused (403).
 */
export async function startS3(buckets: string[]): Promise<{
  endpoint: string;
  port: number;
  settings: S3Settings;
  /** The variables GDAL's /vsis3/ needs to reach it. */
  gdalEnv: Record<string, string>;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    allowMismatchedSignatures: true,
    directory: dir,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    endpoint,
    port,
    settings: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials },
    gdalEnv: {
      AWS_S3_ENDPOINT: `127.0.0.1:${port}`,
      AWS_HTTPS: 'NO',
      AWS_VIRTUAL_HOSTING: 'FALSE',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
