"""GDAL side of sarbridge's tests: the independent reference.

Subcommands (all output JSON on stdout):
  dump <tif> <prefix>          raw little-endian pixels of every level: <prefix>.L<k>.bin (bands sequential)
  make <raw> <spec.json> <tif> write a GeoTIFF from raw band-sequential pixels with GDAL
  validate <tif>               GDAL's Cloud-Optimized GeoTIFF validator (errors, warnings)
"""
import json
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

NP = {
    "uint8": np.uint8, "int8": np.int8, "uint16": np.uint16, "int16": np.int16,
    "uint32": np.uint32, "int32": np.int32, "float32": np.float32, "float64": np.float64,
    "cint16": np.int16, "cfloat32": np.float32,
}
GDT = {
    "uint8": gdal.GDT_Byte, "int8": getattr(gdal, "GDT_Int8", gdal.GDT_Byte), "uint16": gdal.GDT_UInt16,
    "int16": gdal.GDT_Int16, "uint32": gdal.GDT_UInt32, "int32": gdal.GDT_Int32,
    "float32": gdal.GDT_Float32, "float64": gdal.GDT_Float64, "cint16": gdal.GDT_CInt16,
    "cfloat32": gdal.GDT_CFloat32,
}


def band_bytes(band, dtype):
    arr = band.ReadAsArray()
    if dtype in ("cint16", "cfloat32"):
        comp = NP[dtype]
        out = np.empty(arr.shape + (2,), dtype=comp)
        out[..., 0] = arr.real
        out[..., 1] = arr.imag
        return out.astype("<" + np.dtype(comp).str[1:]).tobytes()
    return arr.astype(np.dtype(NP[dtype]).newbyteorder("<")).tobytes()


def dump(path, prefix, dtype):
    ds = gdal.Open(path)
    b1 = ds.GetRasterBand(1)
    levels = [(ds.RasterXSize, ds.RasterYSize)]
    for i in range(b1.GetOverviewCount()):
        o = b1.GetOverview(i)
        levels.append((o.XSize, o.YSize))
    for k in range(len(levels)):
        with open(f"{prefix}.L{k}.bin", "wb") as f:
            for b in range(ds.RasterCount):
                band = ds.GetRasterBand(b + 1)
                f.write(band_bytes(band if k == 0 else band.GetOverview(k - 1), dtype))
    print(json.dumps({"levels": levels}))


def make(raw, spec_path, out):
    spec = json.load(open(spec_path))
    w, h, nb, dt = spec["width"], spec["height"], spec["bands"], spec["dtype"]
    comp = np.dtype(NP[dt]).newbyteorder("<")
    data = np.fromfile(raw, dtype=comp)
    options = list(spec.get("options", []))
    if dt == "int8" and not hasattr(gdal, "GDT_Int8"):
        # GDAL < 3.7 writes signed bytes as Byte with PIXELTYPE=SIGNEDBYTE (SampleFormat 2).
        data = data.view(np.uint8)
        options.append("PIXELTYPE=SIGNEDBYTE")
    spec["options"] = options
    drv = gdal.GetDriverByName(spec.get("driver", "GTiff"))
    if spec.get("driver") == "COG":
        mem = gdal.GetDriverByName("MEM").Create("", w, h, nb, GDT[dt])
        target = mem
    else:
        target = drv.Create(out, w, h, nb, GDT[dt], spec.get("options", []))
    per = w * h * (2 if dt.startswith("c") else 1)
    for b in range(nb):
        plane = data[b * per:(b + 1) * per]
        if dt.startswith("c"):
            plane = plane.reshape(h, w, 2)
            arr = plane[..., 0].astype(np.float64) + 1j * plane[..., 1].astype(np.float64)
            arr = arr.astype(np.complex64)
        else:
            arr = plane.reshape(h, w)
        band = target.GetRasterBand(b + 1)
        band.WriteArray(arr)
        if spec.get("nodata") is not None:
            band.SetNoDataValue(spec["nodata"])
    if spec.get("epsg"):
        from osgeo import osr
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(spec["epsg"])
        target.SetProjection(srs.ExportToWkt())
    if spec.get("geotransform"):
        target.SetGeoTransform(spec["geotransform"])
    if spec.get("overviews"):
        target.BuildOverviews(spec.get("resampling", "AVERAGE"), spec["overviews"])
    if spec.get("driver") == "COG":
        gdal.GetDriverByName("COG").CreateCopy(out, target, options=spec.get("options", []))
    target = None
    print(json.dumps({"ok": True}))


def validate(path):
    from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate as v
    warnings, errors, details = v(path, full_check=True)
    print(json.dumps({"errors": errors, "warnings": warnings}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "dump":
        dump(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "make":
        make(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "validate":
        validate(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd}")
