import { join } from 'node:path';

/** The real sample files in ../shared/data/real (read by tests, never copied into the repo). */
export const REAL = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'real');
export const S1_ZIP = join(REAL, 'S1A_IW_GRDH_1SDV_20210119T031653_20210119T031718_036201_043ED0_8255.zip');
export const S1_SAFE_NAME = 'S1A_IW_GRDH_1SDV_20210119T031653_20210119T031718_036201_043ED0_8255.SAFE';
export const S1_VV_MEASUREMENT =
  'measurement/s1a-iw-grd-vv-20210119t031653-20210119t031718-036201-043ed0-001.tiff';
export const SICD_CHIP = join(REAL, 'sicd_50x50.nitf');
export const PYROSAR_DB = join(REAL, 'pyrosar_db.tif');
