import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts the PostgreSQL cluster the catalog tests need (Debian's postgresql with PostGIS, installed
 * by scripts/test-setup.sh), sets the password they connect with over TCP, and stops the cluster
 * after the run when this setup started it. Starts a private redis-server of its own on a free port for
 * the Redis job queue tests (SARBRIDGE_TEST_REDIS) and stops it after, by pid: never one another test
 * run on the machine started (that run would stop it under this one).
 */
const PASSWORD = 'sarbridge-test';

/** True when a Redis server answers PING on the port. */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** A TCP port free on the loopback now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(): Promise<{ pid: number; port: number }> {
  const port = await freePort();
  const pidfile = join(tmpdir(), `sarbridge-test-redis-${process.pid}-${port}.pid`);
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  sh('redis-server', [...args, '--daemonize', 'yes', '--pidfile', pidfile]);
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(port)) return { pid: Number(readFileSync(pidfile, 'utf8').trim()), port };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer on port ${port} within 5 s`);
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export default async function setup(): Promise<() => Promise<void>> {
  let cluster: [string, string] | null = null;
  let started = false;
  try {
    const line = sh('pg_lsclusters', ['--no-header'])
      .split('\n')
      .find((l) => l.trim() !== '');
    if (!line) throw new Error('no PostgreSQL cluster (pg_lsclusters lists none)');
    const [version, name, port, status] = line.trim().split(/\s+/);
    cluster = [version, name];
    if (status !== 'online') {
      sh('pg_ctlcluster', [version, name, 'start']);
      started = true;
    }
    sh('runuser', ['-u', 'postgres', '--', 'psql', '-qc', `ALTER USER postgres PASSWORD '${PASSWORD}'`]);
    process.env.SARBRIDGE_TEST_PG = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  } catch (err) {
    throw new Error(
      `the catalog tests need PostgreSQL with PostGIS (run scripts/test-setup.sh as root): ${(err as Error).message}`,
    );
  }
  let redis: { pid: number; port: number };
  try {
    redis = await startRedis();
    process.env.SARBRIDGE_TEST_REDIS = `redis://127.0.0.1:${redis.port}`;
  } catch (err) {
    throw new Error(
      `the job queue tests need redis-server (run scripts/test-setup.sh as root): ${(err as Error).message}`,
    );
  }
  return async () => {
    if (started && cluster) sh('pg_ctlcluster', [cluster[0], cluster[1], 'stop']);
    process.kill(redis.pid, 'SIGTERM');
  };
}
