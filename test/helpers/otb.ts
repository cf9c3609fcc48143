import { execFileSync } from 'node:child_process';
import { GeoTiff } from '../../src/io/tiff/reader.js';

/** Run an Orfeo ToolBox application (otbcli_<app>) with arguments; throws with OTB's output on failure. */
export function otb(app: string, args: string[]): void {
  execFileSync(`otbcli_${app}`, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OTB_LOGGER_LEVEL: 'WARNING' },
  });
}

/** The first band of a GeoTIFF as float32 (read with sarbridge's reader, itself checked against GDAL). */
export async function readFloat32(path: string): Promise<Float32Array> {
  const tif = await GeoTiff.open(path);
  try {
    const v = await tif.read(undefined, { bands: [0] });
    return Float32Array.from(v.data as ArrayLike<number>);
  } finally {
    await tif.close();
  }
}
