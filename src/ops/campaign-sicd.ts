import type { Vec3 } from '../geo/ecef.js';
import { add, cross, dot, ellipsoidNormal, geodeticToEcf, norm } from '../geo/ecef.js';
import { parseSicdXml } from '../io/nitf/sicd.js';
import type { SicdTemplate } from './simulate-scene-sicd.js';

/**
 * A SICD collection geometry made from an orbit, for simulated products that need no real SICD as a
 * template: a stripmap collection by a satellite in a sun-synchronous orbit (inclination 97.6 degrees),
 * flying a straight line through its position at the scene centre's time of closest approach, right-
 * or left-looking, imaged on an RGZERO grid with RMA INCA (zero-Doppler) image formation. With a
 * straight flight line the INCA range model R^2 = R_ca^2 + |V|^2 (t - t_ca)^2 is exact (DRateSF 1),
 * so SICD Volume 3's image-to-ground projection gives back the geometry written here.
 */
export interface SicdPass {
  /** Scene centre point, degrees, and its height above the WGS84 ellipsoid, metres. */
  scpLon: number;
  scpLat: number;
  scpHae?: number;
  /** Collect start, ISO 8601 UTC. */
  collectStart: string;
  orbitState: 'ascending' | 'descending';
  lookSide?: 'R' | 'L';
  /** Incidence angle at the scene centre, degrees (default 30). */
  incidenceDeg?: number;
  /** Platform height and speed (defaults 560 km, 7,600 m/s: a small X-band radar satellite). */
  altitudeM?: number;
  speedMps?: number;
  /** Slant-range (row) and along-track (column) sample spacing, metres (defaults 2.5 and 5). */
  rowSsM?: number;
  colSsM?: number;
  centreFrequencyHz?: number;
  collectorName: string;
  coreName: string;
  /** Radiometric.SigmaZeroSFPoly's constant: sigma0 = |z|^2 * sf (default 0.01). */
  sigmaZeroSf?: number;
}

const INCLINATION_DEG = 97.6;
const C = 299_792_458;
/** Rows and columns of the full image the simulated ones are cut from (the SCP at its centre). */
const FULL_IMAGE = 20_000;
const COLLECT_DURATION_S = 4;

/** The geometry derived from a pass: ARP at the SCP's closest approach, velocity, unit vectors. */
export interface SicdPassGeometry {
  scp: Vec3;
  arp: Vec3;
  velocity: Vec3;
  rowUnit: Vec3;
  colUnit: Vec3;
  rangeM: number;
  incidenceDeg: number;
  headingDeg: number;
  tScpS: number;
}

const unit = (v: Vec3): Vec3 => {
  const n = norm(v);
  return [v[0] / n, v[1] / n, v[2] / n];
};

/** Ground-track heading of a sun-synchronous orbit at a latitude, degrees clockwise from north. */
export function sunSynchronousHeadingDeg(latDeg: number, orbitState: 'ascending' | 'descending'): number {
  const s = Math.cos((INCLINATION_DEG * Math.PI) / 180) / Math.cos((latDeg * Math.PI) / 180);
  const asc = (Math.asin(Math.max(-1, Math.min(1, s))) * 180) / Math.PI;
  return orbitState === 'ascending' ? (asc + 360) % 360 : 180 - asc;
}

export function sicdPassGeometry(p: SicdPass): SicdPassGeometry {
  const hae = p.scpHae ?? 0;
  const scp = geodeticToEcf(p.scpLat, p.scpLon, hae);
  const up = ellipsoidNormal(p.scpLat, p.scpLon);
  const east = unit(cross([0, 0, 1], up));
  const north = cross(up, east);
  const headingDeg = sunSynchronousHeadingDeg(p.scpLat, p.orbitState);
  const horizontal = (azDeg: number): Vec3 => {
    const a = (azDeg * Math.PI) / 180;
    return add(add([0, 0, 0], north, Math.cos(a)), east, Math.sin(a));
  };
  const along = horizontal(headingDeg);
  const look = horizontal(headingDeg + ((p.lookSide ?? 'R') === 'R' ? 90 : -90));
  // Spherical Earth of the SCP's geocentric radius: look angle and Earth central angle from incidence.
  const re = norm(scp);
  const rs = re + (p.altitudeM ?? 560_000);
  const inc = ((p.incidenceDeg ?? 30) * Math.PI) / 180;
  const lookAngle = Math.asin((re * Math.sin(inc)) / rs);
  const central = inc - lookAngle;
  const scpDir = unit(scp);
  const nadirDir = unit(add(add([0, 0, 0], scpDir, Math.cos(central)), look, -Math.sin(central)));
  const arp: Vec3 = [nadirDir[0] * rs, nadirDir[1] * rs, nadirDir[2] * rs];
  const rowUnit = unit(add(scp, arp, -1));
  // Zero Doppler at the SCP: the velocity is the along-track direction made normal to the line of sight.
  const colUnit = unit(add(along, rowUnit, -dot(along, rowUnit)));
  const speed = p.speedMps ?? 7600;
  const toArp = unit(add(arp, scp, -1));
  return {
    scp,
    arp,
    velocity: [colUnit[0] * speed, colUnit[1] * speed, colUnit[2] * speed],
    rowUnit,
    colUnit,
    rangeM: norm(add(scp, arp, -1)),
    incidenceDeg: (Math.acos(dot(toArp, up)) * 180) / Math.PI,
    headingDeg,
    tScpS: COLLECT_DURATION_S / 2,
  };
}

/**
 * Grid distances (xrow, ycol), metres from the SCP, of a ground point (ECF): the exact inverse of the
 * straight-line zero-Doppler geometry (ycol along the flight line, xrow = range - R_ca(SCP)).
 */
export function groundToGrid(g: SicdPassGeometry, q: Vec3): { xrowM: number; ycolM: number } {
  const d = add(q, g.arp, -1);
  const ycolM = dot(d, g.colUnit);
  const closest = add(g.arp, g.colUnit, ycolM);
  return { xrowM: norm(add(q, closest, -1)) - g.rangeM, ycolM };
}

const f = (v: number) => v.toPrecision(17);
const xyz = (tag: string, v: Vec3) => `<${tag}><X>${f(v[0])}</X><Y>${f(v[1])}</Y><Z>${f(v[2])}</Z></${tag}>`;
const poly1 = (tag: string, c: number[]) =>
  `<${tag} order1="${c.length - 1}">${c.map((v, i) => `<Coef exponent1="${i}">${f(v)}</Coef>`).join('')}</${tag}>`;
const poly2 = (tag: string, c: number[][]) =>
  `<${tag} order1="${c.length - 1}" order2="${Math.max(...c.map((r) => r.length)) - 1}">${c
    .flatMap((r, i) => r.map((v, j) => `<Coef exponent1="${i}" exponent2="${j}">${f(v)}</Coef>`))
    .join('')}</${tag}>`;

/**
 * A SICD 1.3.0 XML and its parsed metadata for a pass, usable as the template of writeSceneSicd (which
 * cuts the image around the SCP and rewrites ImageData, ImageCorners and CollectStart).
 */
export function sicdTemplateForPass(p: SicdPass): { template: SicdTemplate; geometry: SicdPassGeometry } {
  const g = sicdPassGeometry(p);
  const speed = p.speedMps ?? 7600;
  const rowSs = p.rowSsM ?? 2.5;
  const colSs = p.colSsM ?? 5;
  const fc = p.centreFrequencyHz ?? 9.65e9;
  const bw = 300e6;
  const arp0 = add(g.arp, g.velocity, -g.tScpS);
  const sf = p.sigmaZeroSf ?? 0.01;
  const half = FULL_IMAGE / 2;
  const hae = p.scpHae ?? 0;
  const icp = ['1:FRFC', '2:FRLC', '3:LRLC', '4:LRFC']
    .map((i) => `<ICP index="${i}"><Lat>0</Lat><Lon>0</Lon></ICP>`)
    .join('');
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<SICD xmlns="urn:SICD:1.3.0"><CollectionInfo><CollectorName>${p.collectorName}</CollectorName><CoreName>${p.coreName}</CoreName><CollectType>MONOSTATIC</CollectType><RadarMode><ModeType>STRIPMAP</ModeType></RadarMode><Classification>UNCLASSIFIED</Classification></CollectionInfo><ImageCreation><Application>sarbridge simulate campaign</Application><DateTime>${p.collectStart}</DateTime><Profile>simulated</Profile></ImageCreation><ImageData><PixelType>RE32F_IM32F</PixelType><NumRows>${FULL_IMAGE}</NumRows><NumCols>${FULL_IMAGE}</NumCols><FirstRow>0</FirstRow><FirstCol>0</FirstCol><FullImage><NumRows>${FULL_IMAGE}</NumRows><NumCols>${FULL_IMAGE}</NumCols></FullImage><SCPPixel><Row>${half}</Row><Col>${half}</Col></SCPPixel></ImageData><GeoData><EarthModel>WGS_84</EarthModel><SCP>${xyz('ECF', g.scp)}<LLH><Lat>${f(p.scpLat)}</Lat><Lon>${f(p.scpLon)}</Lon><HAE>${f(hae)}</HAE></LLH></SCP><ImageCorners>${icp}</ImageCorners></GeoData><Grid><ImagePlane>SLANT</ImagePlane><Type>RGZERO</Type>${poly2('TimeCOAPoly', [[g.tScpS, 1 / speed]])}<Row>${xyz('UVectECF', g.rowUnit)}<SS>${rowSs}</SS><ImpRespWid>${f(rowSs * 0.9)}</ImpRespWid><Sgn>-1</Sgn><ImpRespBW>${f((2 * bw) / C)}</ImpRespBW><KCtr>${f((2 * fc) / C)}</KCtr><DeltaK1>${f(-bw / C)}</DeltaK1><DeltaK2>${f(bw / C)}</DeltaK2></Row><Col>${xyz('UVectECF', g.colUnit)}<SS>${colSs}</SS><ImpRespWid>${f(colSs * 0.9)}</ImpRespWid><Sgn>-1</Sgn><ImpRespBW>${f(1 / (colSs * 0.9))}</ImpRespBW><KCtr>0</KCtr><DeltaK1>${f(-0.5 / colSs)}</DeltaK1><DeltaK2>${f(0.5 / colSs)}</DeltaK2></Col></Grid><Timeline><CollectStart>${p.collectStart}</CollectStart><CollectDuration>${COLLECT_DURATION_S}</CollectDuration></Timeline><Position>${`<ARPPoly>${poly1('X', [arp0[0], g.velocity[0]])}${poly1('Y', [arp0[1], g.velocity[1]])}${poly1('Z', [arp0[2], g.velocity[2]])}</ARPPoly>`}</Position><RadarCollection><TxFrequency><Min>${f(fc - bw / 2)}</Min><Max>${f(fc + bw / 2)}</Max></TxFrequency><TxPolarization>V</TxPolarization><RcvChannels size="1"><ChanParameters index="1"><TxRcvPolarization>V:V</TxRcvPolarization></ChanParameters></RcvChannels></RadarCollection><ImageFormation><TxRcvPolarizationProc>V:V</TxRcvPolarizationProc><ImageFormAlgo>RMA</ImageFormAlgo></ImageFormation><SCPCOA><SCPTime>${g.tScpS}</SCPTime>${xyz('ARPPos', g.arp)}${xyz('ARPVel', g.velocity)}${xyz('ARPAcc', [0, 0, 0])}<SideOfTrack>${p.lookSide ?? 'R'}</SideOfTrack><SlantRange>${f(g.rangeM)}</SlantRange><DopplerConeAng>90</DopplerConeAng><GrazeAng>${f(90 - g.incidenceDeg)}</GrazeAng><IncidenceAng>${f(g.incidenceDeg)}</IncidenceAng><AzimAng>${f((g.headingDeg + 270) % 360)}</AzimAng></SCPCOA><Radiometric>${poly2('SigmaZeroSFPoly', [[sf]])}</Radiometric><RMA><RMAlgoType>OMEGA_K</RMAlgoType><ImageType>INCA</ImageType><INCA>${poly1('TimeCAPoly', [g.tScpS, 1 / speed])}<R_CA_SCP>${f(g.rangeM)}</R_CA_SCP><FreqZero>${f(fc)}</FreqZero>${poly2('DRateSFPoly', [[1]])}</INCA></RMA></SICD>
`;
  return { template: { path: p.coreName, meta: parseSicdXml(p.coreName, xml), xml }, geometry: g };
}
