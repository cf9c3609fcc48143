import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { S3Settings } from '../../src/store/store.js';

const run = promisify(execFile);

/** A free loopback TCP port (closed again at once). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

async function until(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  log: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`ceph: ${what} not ready within ${timeoutMs} ms\n${log()}`);
    await new Promise((ok) => setTimeout(ok, 500));
  }
}

/**
 * A real S3 service for tests: Ceph's RADOS Gateway (Debian's radosgw 16.2, installed by
 * scripts/test-setup.sh) on a private single-node Ceph cluster: one monitor, one OSD on memstore
 * (objects in memory), no authentication inside the cluster, started in a temporary folder on free
 * loopback ports, with an S3 user of random keys. About 15 s to start; `close` stops the three
 * daemons (they run in the foreground as children of this process) and removes the folder.
 */
export async function startCephRgw(buckets: string[]): Promise<{
  endpoint: string;
  port: number;
  settings: S3Settings;
  /** The variables GDAL's /vsis3/ needs to reach it. */
  gdalEnv: Record<string, string>;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'ceph-rgw-'));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  for (const d of ['mon', 'osd0', 'run', 'log', 'rgw']) mkdirSync(join(dir, d));
  writeFileSync(
    conf,
    `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# osd.0 is placed in the CRUSH map below; at start it sends no crush or device-class command.
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = 2147483648
public addr = 127.0.0.1
ms bind ipv6 = false
run dir = ${dir}/run
admin socket = ${dir}/run/$cluster-$name.asok
log file = ${dir}/log/$name.log
keyring = /dev/null
[mon.a]
mon data = ${dir}/mon
mon addr = v1:127.0.0.1:${monPort}
[osd.0]
osd data = ${dir}/osd0
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
rgw dns name = 127.0.0.1
`,
  );
  const C = ['-c', conf];
  const children: ChildProcess[] = [];
  const daemon = (cmd: string, args: string[]) => {
    const child = spawn(cmd, [...C, '-f', ...args], { stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const logs = () =>
    ['mon.a', 'osd.0', 'client.rgw']
      .map((n) => {
        try {
          return `--- ${n}\n${readFileSync(join(dir, 'log', `${n}.log`), 'utf8')
            .split('\n')
            .slice(-15)
            .join('\n')}`;
        } catch {
          return `--- ${n}: no log`;
        }
      })
      .join('\n');
  const close = async () => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((ok) => c.once('exit', ok));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('monmaptool', [
      '--create',
      '--add',
      'a',
      `v1:127.0.0.1:${monPort}`,
      '--fsid',
      fsid,
      join(dir, 'monmap'),
    ]);
    await run('ceph-mon', [...C, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    daemon('ceph-mon', ['-i', 'a']);
    const ceph = (...args: string[]) =>
      run('ceph', [...C, '--connect-timeout', '5', ...args], { timeout: 20_000 });
    await until(
      'the monitor',
      30_000,
      async () => (await ceph('mon', 'stat')).stdout.includes('quorum'),
      logs,
    );
    const osdUuid = randomUUID();
    await ceph('osd', 'new', osdUuid);
    await run('ceph-osd', [...C, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    await ceph('osd', 'crush', 'add', 'osd.0', '1', 'root=default');
    // An OSD that has not booted after 30 s is started again (seen once on a loaded machine).
    for (let attempt = 1; ; attempt++) {
      const osd = daemon('ceph-osd', ['-i', '0']);
      try {
        await until('the OSD', 30_000, async () => /1 up/.test((await ceph('osd', 'stat')).stdout), logs);
        break;
      } catch (err) {
        if (attempt === 3) throw err;
        process.stderr.write(
          `ceph-rgw: the OSD did not boot within 30 s (attempt ${attempt}); starting it again\n`,
        );
        const exited = new Promise((ok) => osd.once('exit', ok));
        osd.kill('SIGKILL');
        await exited;
      }
    }
    daemon('radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('the RADOS gateway', 90_000, async () => (await fetch(endpoint)).ok, logs);
    const accessKeyId = `T${randomBytes(9).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(24).toString('base64url');
    await run('radosgw-admin', [
      ...C,
      '-n',
      'client.rgw',
      'user',
      'create',
      '--uid=sarbridge-test',
      '--display-name=sarbridge test',
      `--access-key=${accessKeyId}`,
      `--secret-key=${secretAccessKey}`,
    ]);
    const credentials = { accessKeyId, secretAccessKey };
    const settings: S3Settings = { endpoint, region: 'us-east-1', forcePathStyle: true, credentials };
    const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ ...settings, requestChecksumCalculation: 'WHEN_REQUIRED' });
    for (const Bucket of buckets) await client.send(new CreateBucketCommand({ Bucket }));
    client.destroy();
    return {
      endpoint,
      port: rgwPort,
      settings,
      gdalEnv: {
        AWS_S3_ENDPOINT: `127.0.0.1:${rgwPort}`,
        AWS_HTTPS: 'NO',
        AWS_VIRTUAL_HOSTING: 'FALSE',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: accessKeyId,
        AWS_SECRET_ACCESS_KEY: secretAccessKey,
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
