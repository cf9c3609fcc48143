import { ValidationError } from '../errors.js';
import type { S3Settings } from './store.js';

/** Settings given on the command line; each wins over its variable. */
export interface S3Flags {
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
}

/**
 * S3 settings from a set of variables (the CLI passes `process.env` once, at start-up) and flags:
 * the AWS SDK's own names, so a shell set up for the `aws` CLI works as it is.
 *
 * | setting | flag | variable |
 * | --- | --- | --- |
 * | endpoint | --s3-endpoint | AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL |
 * | region | --s3-region | AWS_REGION, else AWS_DEFAULT_REGION (default us-east-1) |
 * | path-style URLs | --s3-path-style | (default: true with an endpoint) |
 * | credentials | | AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN |
 *
 * @throws ValidationError naming the variable when a value is malformed or credentials are half given
 */
export function s3SettingsFrom(vars: Record<string, string | undefined>, flags: S3Flags = {}): S3Settings {
  const v = (name: string) => {
    const x = vars[name];
    return x === undefined || x.trim() === '' ? undefined : x.trim();
  };
  const endpoint = flags.endpoint ?? v('AWS_ENDPOINT_URL_S3') ?? v('AWS_ENDPOINT_URL');
  const region = flags.region ?? v('AWS_REGION') ?? v('AWS_DEFAULT_REGION');
  const forcePathStyle = flags.pathStyle;
  const accessKeyId = v('AWS_ACCESS_KEY_ID');
  const secretAccessKey = v('AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    throw new ValidationError(
      `${accessKeyId === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'}: not set, but its partner is (set both)`,
    );
  const sessionToken = v('AWS_SESSION_TOKEN');
  return {
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}
