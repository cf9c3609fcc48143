import { execFileSync } from 'node:child_process';

/**
 * Starts the PostgreSQL cluster the catalog tests need (Debian's postgresql with PostGIS, installed
 * by scripts/test-setup.sh), sets the password they connect with over TCP, and stops the cluster
 * after the run when this setup started it.
 */
const PASSWORD = 'sarbridge-test';

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
  return async () => {
    if (started && cluster) sh('pg_ctlcluster', [cluster[0], cluster[1], 'stop']);
  };
}
