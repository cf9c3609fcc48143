import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

/**
 * Starts the PostgreSQL cluster the catalog tests need (Debian's postgresql with PostGIS, installed
 * by scripts/test-setup.sh), sets the password they connect with over TCP, and stops the cluster
 * after the run when this setup started it. Starts a private redis-server on port 6390 for the
 * Redis job queue tests (SARBRIDGE_TEST_REDIS) and stops it after, by pid, when this setup started it.
 */
const PASSWORD = 'sarbridge-test';
const REDIS_PORT = 6390;
const REDIS_PIDFILE = '/tmp/sarbridge-test-redis.pid';

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

async function startRedis(): Promise<number | null> {
  if (await redisAnswers(REDIS_PORT)) return null;
  const args = ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  sh('redis-server', [...args, '--daemonize', 'yes', '--pidfile', REDIS_PIDFILE]);
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(REDIS_PORT)) return Number(readFileSync(REDIS_PIDFILE, 'utf8').trim());
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer on port ${REDIS_PORT} within 5 s`);
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
  let redisPid: number | null;
  try {
    redisPid = await startRedis();
    process.env.SARBRIDGE_TEST_REDIS = `redis://127.0.0.1:${REDIS_PORT}`;
  } catch (err) {
    throw new Error(
      `the job queue tests need redis-server (run scripts/test-setup.sh as root): ${(err as Error).message}`,
    );
  }
  return async () => {
    if (started && cluster) sh('pg_ctlcluster', [cluster[0], cluster[1], 'stop']);
    if (redisPid !== null) process.kill(redisPid, 'SIGTERM');
  };
}
