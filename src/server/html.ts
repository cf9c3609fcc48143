import { createHash } from 'node:crypto';

// The server's few HTML pages for people with a browser: the landing page and the API description.
// Self-contained (no script, no external style sheet, font or image), so a strict CSP covers them.

const CSS = `body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24}
a{color:#0b5cad}h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin:1.5rem 0 .3rem}code,.path{font-family:ui-monospace,monospace;font-size:.9em}
table{border-collapse:collapse;margin:.3rem 0 1rem}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
.method{display:inline-block;min-width:4.5rem;font-weight:700;font-family:ui-monospace,monospace}
.muted{color:#57606a}ul{padding-left:1.2rem}`;

/**
 * The Content-Security-Policy of these pages: nothing but their own inline style sheet (by hash),
 * no script, no framing, no form posting (the JSON responses keep `default-src 'none'`).
 */
export const HTML_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

const link = (href: string, text: string) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;

export interface LandingHtml {
  title: string;
  description: string;
  /** Public base URL, no trailing slash. */
  base: string;
  collections: { id: string; title?: string }[];
  conformsTo: string[];
}

/** The landing page for a browser: what the service is, where its API description and data are. */
export function landingHtml(d: LandingHtml): string {
  const b = d.base;
  const collections =
    d.collections.length === 0
      ? '<p class="muted">No collection is visible without a credential; clients send <code>Authorization: Bearer &lt;key&gt;</code>.</p>'
      : `<ul>${d.collections
          .map(
            (c) =>
              `<li>${link(`${b}/collections/${encodeURIComponent(c.id)}`, c.title ?? c.id)} <code>${escapeHtml(c.id)}</code></li>`,
          )
          .join('')}</ul>`;
  return page(
    d.title,
    `<h1>${escapeHtml(d.title)}</h1>
<p>${escapeHtml(d.description)}</p>
<p>A STAC API and map tile server. STAC clients (pystac-client, QGIS, GDAL) use the JSON of this page: ${link(`${b}/?f=json`, `${b}/`)}.</p>
<h2>API</h2>
<ul>
<li>${link(`${b}/api?f=html`, 'API documentation')} (HTML), generated from the ${link(`${b}/api`, 'OpenAPI 3.0 description')}</li>
<li>${link(`${b}/conformance`, 'Conformance classes')} (${d.conformsTo.length})</li>
<li>${link(`${b}/collections`, 'Collections')} (JSON) and ${link(`${b}/search`, 'item search')}</li>
<li>${link(`${b}/tileMatrixSets`, 'Tile matrix sets')}</li>
</ul>
<h2>Collections</h2>
${collections}`,
  );
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};

function schemaText(schema: unknown): string {
  const s = obj(schema);
  if (typeof s.$ref === 'string') return s.$ref.replace(/^#\/components\/schemas\//, '');
  const parts = [String(s.type ?? 'any')];
  if (Array.isArray(s.enum)) parts.push(`one of ${s.enum.join(', ')}`);
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  return parts.join(', ');
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'options', 'head'];

/**
 * The API description for a browser, generated from the OpenAPI 3.0 document served at /api: every
 * path and operation with its parameters, request body types and responses, and the security schemes.
 */
export function openApiHtml(doc: Json, base: string): string {
  const info = obj(doc.info);
  const title = `${String(info.title ?? 'API')} API`;
  const sections: string[] = [];
  for (const [path, item] of Object.entries(obj(doc.paths))) {
    const common = Array.isArray(obj(item).parameters) ? (obj(item).parameters as Json[]) : [];
    for (const method of METHODS) {
      const op = obj(obj(item)[method]);
      if (Object.keys(op).length === 0) continue;
      const params = [...common, ...(Array.isArray(op.parameters) ? (op.parameters as Json[]) : [])];
      const rows = params
        .map(
          (p) =>
            `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml(schemaText(p.schema))}</td><td>${escapeHtml(p.description ?? '')}</td></tr>`,
        )
        .join('');
      const body = Object.keys(obj(obj(op.requestBody).content));
      const responses = Object.entries(obj(op.responses))
        .map(([status, r]) => {
          const types = Object.keys(obj(obj(r).content));
          return `<li><code>${escapeHtml(status)}</code> ${escapeHtml(obj(r).description ?? '')}${types.length ? ` <span class="muted">(${types.map(escapeHtml).join(', ')})</span>` : ''}</li>`;
        })
        .join('');
      sections.push(`<h3 id="${escapeHtml(`${method}-${path}`)}"><span class="method">${method.toUpperCase()}</span> <span class="path">${escapeHtml(path)}</span></h3>
<p>${escapeHtml(op.summary ?? '')}${op.description ? ` ${escapeHtml(op.description)}` : ''}</p>
${rows ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr>${rows}</table>` : ''}
${body.length ? `<p>Request body: ${body.map((t) => `<code>${escapeHtml(t)}</code>`).join(', ')}</p>` : ''}
<ul>${responses}</ul>`);
    }
  }
  const schemes = Object.entries(obj(obj(doc.components).securitySchemes))
    .map(
      ([name, s]) =>
        `<li><code>${escapeHtml(name)}</code>: ${escapeHtml(obj(s).description ?? obj(s).type)}</li>`,
    )
    .join('');
  const servers = (Array.isArray(doc.servers) ? (doc.servers as Json[]) : [])
    .map((s) => `<code>${escapeHtml(s.url)}</code>`)
    .join(', ');
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(info.description ?? '')} <span class="muted">version ${escapeHtml(info.version ?? '')}, OpenAPI ${escapeHtml(doc.openapi ?? '')}</span></p>
<p>Server: ${servers}. The same description as JSON: ${link(`${base}/api`, `${base}/api`)}. ${link(`${base}/`, 'Landing page')}.</p>
<h2>Authentication</h2>
<p>Every operation but the landing page, the conformance classes, this description and the token endpoint needs a credential:</p>
<ul>${schemes}</ul>
<h2>Operations</h2>
${sections.join('\n')}`,
  );
}
