import { SarbridgeError } from '../errors.js';

/**
 * The token endpoint's request parsing for the client-credentials grant (RFC 6749 4.4): client
 * authentication (2.3.1), parameters (3.1, 3.2) and error responses (5.2). Checking the client's
 * secret against the client registry is the caller's work (in constant time).
 */

/** The error codes of RFC 6749 5.2. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

/** The challenge sent with a 401 invalid_client (RFC 6749 5.2, RFC 7617). */
export const BASIC_CHALLENGE = 'Basic realm="sarbridge", charset="UTF-8"';

/** A token request refused; the server answers `status` with `toBody()` as JSON. */
export class OAuthError extends SarbridgeError {
  override readonly code: string = 'OAuthError';
  /** The RFC 6749 5.2 error code. */
  readonly error: OAuthErrorCode;
  /** HTTP status: 401 for invalid_client when the client tried (or needs) HTTP authentication, else 400. */
  readonly status: 400 | 401;
  /** With status 401: the WWW-Authenticate header value the response must carry. */
  readonly wwwAuthenticate?: string;

  constructor(error: OAuthErrorCode, description: string, options?: { status?: 400 | 401; cause?: unknown }) {
    super(description, options);
    this.error = error;
    this.status = options?.status ?? 400;
    if (this.status === 401) this.wwwAuthenticate = BASIC_CHALLENGE;
  }

  /** The response body of RFC 6749 5.2 (error_description limited to its allowed characters). */
  toBody(): { error: OAuthErrorCode; error_description: string } {
    return {
      error: this.error,
      error_description: this.message.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?'),
    };
  }
}

/** What a well-formed client-credentials request carries. */
export interface TokenRequest {
  clientId: string;
  clientSecret: string;
  /** Space-separated scope tokens, when the client asked for a scope. */
  scope?: string;
}

const MAX_CLIENT_ID_CHARS = 256;
const MAX_CLIENT_SECRET_CHARS = 512;
/** RFC 6749 A.1/A.2: client_id and client_secret are VSCHAR (printable ASCII and space). */
const VSCHAR = /^[\x20-\x7E]+$/;
/** RFC 6749 3.3: scope = scope-token *( SP scope-token ). */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a token request (RFC 6749 4.4.2): `grant_type=client_credentials`, the client authenticated
 * either by HTTP Basic (client_id:client_secret, each form-urlencoded, 2.3.1) or by client_id and
 * client_secret in the body, never both (2.3). Parameters without a value count as absent (3.1).
 *
 * @param headers request headers (names in any case, as Node gives them).
 * @param body the parameters, parsed from application/x-www-form-urlencoded (see parseFormBody) or JSON.
 * @throws OAuthError invalid_request, unsupported_grant_type, invalid_client or invalid_scope.
 * @example
 * parseTokenRequest({ authorization: 'Basic Y2xpZW50LTc6czNjcjN0' }, { grant_type: 'client_credentials' });
 * // { clientId: 'client-7', clientSecret: 's3cr3t' }
 */
export function parseTokenRequest(
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
): TokenRequest {
  const params = requestParams(body);
  const grantType = params.get('grant_type');
  if (grantType === undefined)
    throw new OAuthError('invalid_request', 'grant_type missing (expected client_credentials)');
  if (grantType !== 'client_credentials')
    throw new OAuthError(
      'unsupported_grant_type',
      `grant_type ${quoted(grantType)} is not supported (expected client_credentials)`,
    );

  const authorization = header(headers, 'authorization');
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  let clientId: string;
  let clientSecret: string;
  if (authorization !== undefined) {
    if (bodySecret !== undefined)
      throw new OAuthError(
        'invalid_request',
        'client credentials both in the Authorization header and in the body (use one method)',
      );
    ({ clientId, clientSecret } = basicCredentials(authorization));
    if (bodyId !== undefined && bodyId !== clientId)
      throw new OAuthError('invalid_request', 'client_id in the body differs from the Authorization header');
  } else {
    if (bodyId === undefined && bodySecret === undefined)
      throw new OAuthError(
        'invalid_client',
        'no client authentication (expected HTTP Basic, or client_id and client_secret in the body)',
        { status: 401 },
      );
    if (bodyId === undefined)
      throw new OAuthError('invalid_request', 'client_secret given without client_id');
    if (bodySecret === undefined)
      throw new OAuthError(
        'invalid_client',
        'client_secret missing (client_credentials needs a confidential client)',
      );
    clientId = bodyId;
    clientSecret = bodySecret;
    checkCredentials(clientId, clientSecret, 400);
  }

  const scope = params.get('scope');
  if (scope !== undefined && !SCOPE.test(scope))
    throw new OAuthError(
      'invalid_scope',
      'scope malformed (expected scope tokens separated by single spaces)',
    );
  return scope === undefined ? { clientId, clientSecret } : { clientId, clientSecret, scope };
}

/**
 * Parses an application/x-www-form-urlencoded body (URLSearchParams decoding). A parameter given
 * twice is an invalid_request (RFC 6749 3.2); so is a body longer than `maxBytes` (UTF-8 bytes).
 * The result has no prototype, so `__proto__` and friends are plain keys.
 * @example parseFormBody('grant_type=client_credentials&scope=read', 4096) // { grant_type: 'client_credentials', scope: 'read' }
 */
export function parseFormBody(text: string, maxBytes: number): Record<string, string> {
  if (typeof text !== 'string') throw new OAuthError('invalid_request', 'request body missing');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes)
    throw new OAuthError(
      'invalid_request',
      `request body is ${bytes} bytes, more than the ${maxBytes} allowed`,
    );
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(out, name))
      throw new OAuthError('invalid_request', `parameter ${quoted(name)} repeated`);
    out[name] = value;
  }
  return out;
}

/** The body's parameters: strings only, one value each, empty values dropped (RFC 6749 3.1). */
function requestParams(body: unknown): Map<string, string> {
  const params = new Map<string, string>();
  if (body === undefined || body === null) return params;
  if (typeof body !== 'object' || Array.isArray(body))
    throw new OAuthError('invalid_request', 'request body must hold the parameters as form fields');
  for (const name of Object.keys(body)) {
    const v = (body as Record<string, unknown>)[name];
    if (Array.isArray(v)) throw new OAuthError('invalid_request', `parameter ${quoted(name)} repeated`);
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string')
      throw new OAuthError(
        'invalid_request',
        `parameter ${quoted(name)}: expected a string, got ${typeof v}`,
      );
    params.set(name, v);
  }
  return params;
}

/** One header's value, whatever the case of its name; more than one value is an invalid_request. */
function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  let found: string | undefined;
  for (const key of Object.keys(headers ?? {})) {
    if (key.toLowerCase() !== name) continue;
    const v = headers[key];
    const values = v === undefined ? [] : Array.isArray(v) ? v : [v];
    for (const value of values) {
      if (found !== undefined) throw new OAuthError('invalid_request', `more than one ${name} header`);
      found = value;
    }
  }
  return found;
}

/** RFC 7617 Basic credentials whose user-id and password are form-urlencoded (RFC 6749 2.3.1). */
function basicCredentials(authorization: string): { clientId: string; clientSecret: string } {
  const malformed = (what: string) =>
    new OAuthError('invalid_client', `Authorization header malformed: ${what}`, { status: 401 });
  const m = /^[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+(\S+)[ \t]*$/.exec(authorization);
  if (m === null) throw malformed('expected Basic and base64 credentials');
  if (m[1].toLowerCase() !== 'basic')
    throw new OAuthError(
      'invalid_client',
      `client authentication by ${quoted(m[1])} is not supported (expected Basic, or client_secret in the body)`,
      { status: 401 },
    );
  const b64 = m[2];
  if (!BASE64.test(b64) || b64.length % 4 !== 0) throw malformed('credentials are not base64');
  let decoded: string;
  try {
    decoded = strictUtf8.decode(Buffer.from(b64, 'base64'));
  } catch {
    throw malformed('credentials are not UTF-8');
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed("no ':' between client_id and client_secret");
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  if (clientId === undefined || clientSecret === undefined)
    throw malformed('client_id or client_secret is not form-urlencoded');
  if (clientId === '') throw malformed('client_id empty');
  if (clientSecret === '') throw malformed('client_secret empty');
  checkCredentials(clientId, clientSecret, 401);
  return { clientId, clientSecret };
}

function checkCredentials(clientId: string, clientSecret: string, status: 400 | 401): void {
  if (clientId.length > MAX_CLIENT_ID_CHARS || !VSCHAR.test(clientId))
    throw new OAuthError(
      'invalid_client',
      `client_id must be 1 to ${MAX_CLIENT_ID_CHARS} printable ASCII characters`,
      { status },
    );
  if (clientSecret.length > MAX_CLIENT_SECRET_CHARS || !VSCHAR.test(clientSecret))
    throw new OAuthError(
      'invalid_client',
      `client_secret must be 1 to ${MAX_CLIENT_SECRET_CHARS} printable ASCII characters`,
      { status },
    );
}

/** application/x-www-form-urlencoded decoding of one value; undefined when a %-escape is broken. */
function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** A caller's value quoted for a message, or a stand-in when it is long or holds odd characters. */
function quoted(v: string): string {
  return /^[A-Za-z0-9_.:~+/-]{1,64}$/.test(v) ? `'${v}'` : '(a value not shown)';
}
