import { benchAccess } from './access.js';
import { benchAccuracy } from './accuracy.js';
import { benchAis } from './ais.js';
import { benchAlerts } from './alerts.js';
import { benchCalibrate } from './calibrate.js';
import { benchCatalog } from './catalog.js';
import { benchCog } from './cog.js';
import { benchDark } from './dark.js';
import { benchDespeckle } from './despeckle.js';
import { benchDetect } from './detect.js';
import { benchE2e } from './e2e.js';
import { benchJobs } from './jobs.js';
import { benchTiles } from './tiles.js';

const BENCHES: Record<string, () => Promise<void>> = {
  access: benchAccess,
  accuracy: benchAccuracy,
  ais: benchAis,
  alerts: benchAlerts,
  calibrate: benchCalibrate,
  catalog: benchCatalog,
  cog: benchCog,
  dark: benchDark,
  despeckle: benchDespeckle,
  detect: benchDetect,
  e2e: benchE2e,
  jobs: benchJobs,
  tiles: benchTiles,
};

const name = process.argv[2];
if (!name || !BENCHES[name]) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>`);
  process.exit(2);
}
await BENCHES[name]();
