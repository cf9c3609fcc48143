import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AccessOptions, type AccessServices, openAccess } from './index.js';

/**
 * Access services in a fresh temporary folder with the bootstrap provider-admin key, for tests and
 * benchmarks that drive a real server. `close()` removes the folder.
 */
export function testAccess(o: Partial<AccessOptions> = {}): {
  services: AccessServices;
  adminKey: string;
  dir: string;
  close(): void;
} {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'sarbridge-access-'));
  const services = openAccess({ publicUrl: 'http://localhost', ...o, dir });
  const boot = services.identity.bootstrap();
  if (!boot) throw new Error(`${dir} holds an identity store already`);
  return {
    services,
    adminKey: boot.key,
    dir,
    close() {
      services.close();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
