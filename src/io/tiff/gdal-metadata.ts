/**
 * GDAL's TIFFTAG_GDAL_METADATA (tag 42112) XML: dataset items and per-band items
 * (DESCRIPTION, SCALE, OFFSET, STATISTICS_*). Parsed with a strict tokenizer for the one
 * element shape GDAL writes; no DTDs, no entities beyond the five predefined ones.
 */
export interface GdalMetadataItem {
  name: string;
  value: string;
  /** 0-based band index, or undefined for a dataset-level item. */
  sample?: number;
  role?: string;
  domain?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e[0] === '#')
      return String.fromCodePoint(
        e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10),
      );
    return ENTITIES[e];
  });
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function parseGdalMetadata(xml: string): GdalMetadataItem[] {
  const items: GdalMetadataItem[] = [];
  const re = /<Item\s+([^>]*?)\s*(?:\/>|>([\s\S]*?)<\/Item>)/g;
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) {
    const attrs = new Map<string, string>();
    for (const a of m[1].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) attrs.set(a[1], unescapeXml(a[2]));
    const name = attrs.get('name');
    if (name === undefined) continue;
    const item: GdalMetadataItem = { name, value: unescapeXml(m[2] ?? '') };
    const sample = attrs.get('sample');
    if (sample !== undefined && /^\d+$/.test(sample)) item.sample = Number(sample);
    const role = attrs.get('role');
    if (role !== undefined) item.role = role;
    const domain = attrs.get('domain');
    if (domain !== undefined) item.domain = domain;
    items.push(item);
  }
  return items;
}

export function buildGdalMetadata(items: GdalMetadataItem[]): string {
  const lines = items.map((it) => {
    let attrs = `name="${escapeXml(it.name)}"`;
    if (it.sample !== undefined) attrs += ` sample="${it.sample}"`;
    if (it.role !== undefined) attrs += ` role="${escapeXml(it.role)}"`;
    if (it.domain !== undefined) attrs += ` domain="${escapeXml(it.domain)}"`;
    return `  <Item ${attrs}>${escapeXml(it.value)}</Item>`;
  });
  return `<GDALMetadata>\n${lines.join('\n')}\n</GDALMetadata>\n`;
}
