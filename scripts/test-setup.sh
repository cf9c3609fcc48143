#!/usr/bin/env bash
# Installs what the tests need from Debian when it is missing. Called by `npm test` (pretest).
# The product itself needs no system package: the tests use GDAL and Orfeo ToolBox as references,
# run the catalog against a real PostgreSQL with PostGIS (started and stopped by test/global-setup.ts)
# and browser clients in Debian's Chromium.
set -euo pipefail

need=()
command -v gdalinfo >/dev/null 2>&1 || need+=(gdal-bin)
/usr/bin/python3 -c 'from osgeo import gdal; import numpy' >/dev/null 2>&1 || need+=(python3-gdal python3-numpy)
command -v otbcli_Despeckle >/dev/null 2>&1 || need+=(otb-bin)
command -v cs2cs >/dev/null 2>&1 || need+=(proj-bin)
[ -e /usr/share/proj/egm96_15.gtx ] || need+=(proj-data)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
# The Redis job queue (BullMQ) tests run a private redis-server (started and stopped by test/global-setup.ts).
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# The S3 asset store tests run a private single-node Ceph cluster with its RADOS Gateway (test/helpers/ceph-rgw.ts).
command -v radosgw >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1 || need+=(radosgw ceph-mon ceph-osd)
# The browser tests drive Debian's Chromium with playwright-core (which downloads no browser of its own).
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "test-setup: reference tools present (gdal $(gdalinfo --version | cut -d, -f1 | cut -d' ' -f2), otb, postgresql + postgis, redis, chromium)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "test-setup: the tests need these Debian packages: ${need[*]}" >&2
  echo "test-setup: install them with: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi

echo "test-setup: + apt-get update"
apt-get update -qq
echo "test-setup: + apt-get install -y --no-install-recommends ${need[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "test-setup: installed ${need[*]}"
# Debian starts a new cluster on install; the test run starts and stops it itself (test/global-setup.ts).
if [[ " ${need[*]} " == *" postgresql "* ]]; then
  for c in $(pg_lsclusters --no-header | awk '$4 == "online" {print $1 "/" $2}'); do
    pg_ctlcluster "${c%/*}" "${c#*/}" stop || true
  done
fi
