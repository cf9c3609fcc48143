import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server, type Upload } from '@tus/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isProvider } from '../../access/scope.js';
import { ValidationError } from '../../errors.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { ingest } from '../../pipeline/ingest.js';
import { audit, type RouteContext } from '../context.js';

/** The roles that may upload products: the provider's admins and operators. */
const UPLOAD_ROLES = ['provider-admin', 'provider-operator'];
/** The ids the server gives uploads (the tus server's own: 32 hex digits); nothing else reaches a path. */
const UPLOAD_ID = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;
const METADATA_KEYS = ['sha256', 'label', 'filename', 'filetype'];

export interface UploadOptions {
  /** Largest product, bytes: a larger Upload-Length is refused with 413 before any byte is stored. */
  maxSizeBytes: number;
  /** Where uploads are stored (default `<pipeline data dir>/uploads`). */
  dir?: string;
}

/** What became of a finished upload, kept beside it as `<id>.result.json`. */
export interface UploadResult {
  state: 'ingested' | 'checksum-mismatch' | 'refused';
  productId: string | null;
  sha256: string;
  expectedSha256: string;
  error?: string;
}

/** A tus error: the server answers `status_code` with `body`. */
const tusError = (status: number, code: string, description: string) => ({
  status_code: status,
  body: JSON.stringify({ code, description }),
});

/** The SHA-256 the client declared (`sha256` metadata: 64 hex digits, or base64 of the 32 bytes) in hex. */
export function declaredSha256(value: string | null | undefined): string {
  if (value === undefined || value === null || value === '')
    throw new ValidationError(
      'Upload-Metadata sha256: required, the SHA-256 of the whole product (hex or base64)',
    );
  if (HEX64.test(value)) return value.toLowerCase();
  if (BASE64_32.test(value)) return Buffer.from(value, 'base64').toString('hex');
  throw new ValidationError(
    `Upload-Metadata sha256: expected 64 hex digits or 44 base64 characters, got '${value.slice(0, 80)}'`,
  );
}

/** The label the client gave (`label` metadata: a JSON label), checked by the access rules; undefined if none. */
export function declaredLabel(ctx: PipelineContext, value: string | null | undefined): unknown {
  if (value === undefined || value === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ValidationError(
      `Upload-Metadata label: expected a JSON label {policy, classification, categories}, got '${value.slice(0, 80)}'`,
    );
  }
  return ctx.rules.parse(parsed, 'Upload-Metadata label');
}

/** Check an upload's metadata as it is created (unknown keys, checksum, label). */
function checkMetadata(ctx: PipelineContext, meta: Record<string, string | null>): void {
  for (const k of Object.keys(meta))
    if (!METADATA_KEYS.includes(k))
      throw new ValidationError(
        `Upload-Metadata ${k.slice(0, 40)}: unknown key (expected ${METADATA_KEYS.join(', ')})`,
      );
  declaredSha256(meta.sha256);
  declaredLabel(ctx, meta.label);
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Resumable uploads of products (tus 1.0.0 with the creation extension, by @tus/server): POST
 * /uploads with Upload-Length and Upload-Metadata (`sha256`, optional `label`), HEAD for the offset,
 * PATCH for the bytes, GET /uploads/{id} for the state and the product id. When the last byte
 * arrives the whole file's SHA-256 is checked against the declared one (a mismatch is a 460, the file
 * is kept, nothing is ingested), then the pipeline's ingest takes it and the answer carries the
 * product id (`Upload-Product-Id`). The provider's admins and operators only; to anyone else these
 * routes answer exactly as a route that does not exist. Creation and completion are audited.
 */
export function uploadRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  pipeline: PipelineContext,
  o: UploadOptions,
): void {
  const dir = o.dir ?? join(pipeline.dataDir, 'uploads');
  const current = new AsyncLocalStorage<FastifyRequest>();
  const resultPath = (id: string) => join(dir, `${id}.result.json`);
  const readResult = async (id: string): Promise<UploadResult | null> => {
    try {
      return JSON.parse(await readFile(resultPath(id), 'utf8')) as UploadResult;
    } catch {
      return null;
    }
  };
  const auditHere = (action: string, id: string, result: string, detail: Record<string, unknown>) => {
    const req = current.getStore();
    if (req) audit(ctx, req, { action, resource: `/uploads/${id}`, result, detail });
  };

  const tus = new Server({
    path: '/uploads',
    datastore: new FileStore({ directory: dir }),
    maxSize: o.maxSizeBytes,
    // CORS is the server's (serve --cors-origin, set before the request reaches tus): tus itself would
    // answer every origin with 'Access-Control-Allow-Origin: *'.
    allowedOrigins: () => false,
    generateUrl: (_req, { path, id }) => `${ctx.publicUrl}${path}/${id}`,
    onUploadCreate: async (_req, upload) => {
      if (upload.size === undefined)
        throw tusError(
          400,
          'InvalidParameterValue',
          'Upload-Length: required (deferred lengths are not taken)',
        );
      try {
        checkMetadata(pipeline, upload.metadata ?? {});
      } catch (err) {
        if (err instanceof ValidationError) throw tusError(400, 'InvalidParameterValue', err.message);
        throw err;
      }
      auditHere('upload.create', upload.id, 'ok', { sizeBytes: upload.size });
      return {};
    },
    onUploadFinish: async (_req, upload: Upload) => {
      const meta = upload.metadata ?? {};
      const expected = declaredSha256(meta.sha256);
      const path = join(dir, upload.id);
      const sha256 = await sha256Of(path);
      if (sha256 !== expected) {
        const error = `the upload's SHA-256 is ${sha256}, but Upload-Metadata sha256 declared ${expected}`;
        await writeFile(
          resultPath(upload.id),
          JSON.stringify({
            state: 'checksum-mismatch',
            productId: null,
            sha256,
            expectedSha256: expected,
            error,
          }),
        );
        auditHere('upload.finish', upload.id, 'checksum-mismatch', { sha256, expected });
        throw tusError(460, 'ChecksumMismatch', `${error}; the file is kept, nothing was ingested`);
      }
      const [r] = await ingest(pipeline, [path], {
        label: declaredLabel(pipeline, meta.label),
        labelSource: 'arrival',
        sha256: expected,
      });
      const res: UploadResult = r.id
        ? { state: 'ingested', productId: r.id, sha256, expectedSha256: expected }
        : { state: 'refused', productId: null, sha256, expectedSha256: expected, error: r.error };
      await writeFile(resultPath(upload.id), JSON.stringify(res));
      auditHere('upload.finish', upload.id, res.state === 'ingested' ? 'ok' : 'refused', {
        productId: res.productId,
        sha256,
      });
      if (!r.id) throw tusError(422, 'InvalidProduct', `the upload is no product: ${r.error}`);
      return {
        headers: {
          'Upload-Product-Id': r.id,
          Link: `<${ctx.publicUrl}/admin/products/${r.id}>; rel="related"`,
        },
      };
    },
  });

  const hidden = (req: FastifyRequest, reply: FastifyReply) =>
    reply
      .status(404)
      .send({ code: 'NotFound', description: `no route ${req.method} ${req.url.split('?')[0]}` });
  const allowed = (req: FastifyRequest) => {
    const p = req.principal;
    return p !== null && isProvider(p) && p.roles.some((r) => UPLOAD_ROLES.includes(r));
  };
  /** Hand the request to the tus server, with the headers the server's hook set. */
  const toTus = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!allowed(req)) return hidden(req, reply);
    const id = (req.params as { id?: string }).id;
    if (id !== undefined && !UPLOAD_ID.test(id))
      return reply
        .status(404)
        .send({ code: 'NotFound', description: `upload '${id.slice(0, 80)}' does not exist` });
    await mkdir(dir, { recursive: true });
    for (const [k, v] of Object.entries(reply.getHeaders()))
      if (v !== undefined) reply.raw.setHeader(k, v as string);
    reply.hijack();
    await current.run(req, () => tus.handle(req.raw, reply.raw));
  };

  app.register(async (scope) => {
    // The bytes of a PATCH go to the tus server as a stream, never parsed or buffered here.
    scope.addContentTypeParser('application/offset+octet-stream', (_req, _payload, done) =>
      done(null, undefined),
    );
    scope.post('/uploads', toTus);
    scope.route({ method: ['HEAD', 'PATCH', 'DELETE'], url: '/uploads/:id', handler: toTus });
    scope.options('/uploads', toTus);
    scope.get<{ Params: { id: string } }>('/uploads/:id', { exposeHeadRoute: false }, async (req, reply) => {
      if (!allowed(req)) return hidden(req, reply);
      const id = req.params.id;
      const notFound = () =>
        reply
          .status(404)
          .send({ code: 'NotFound', description: `upload '${id.slice(0, 80)}' does not exist` });
      if (!UPLOAD_ID.test(id)) return notFound();
      let upload: Upload;
      try {
        upload = await (tus.datastore as FileStore).getUpload(id);
      } catch {
        return notFound();
      }
      const result = await readResult(id);
      return {
        id,
        sizeBytes: upload.size ?? null,
        offsetBytes: upload.offset,
        complete: upload.size !== undefined && upload.offset === upload.size,
        state: result?.state ?? 'uploading',
        productId: result?.productId ?? null,
        ...(result?.error ? { error: result.error } : {}),
        links: [
          { rel: 'self', href: `${ctx.publicUrl}/uploads/${id}`, type: 'application/json' },
          ...(result?.productId
            ? [{ rel: 'related', href: `${ctx.publicUrl}/admin/products/${result.productId}` }]
            : []),
        ],
      };
    });
  });
}
