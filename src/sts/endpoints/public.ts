import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../../defaults.js';
import { sendJson } from '../../server/respond.js';
import type { ResolvedStsOptions } from '../options.js';

/** RFC 8414 metadata: it changes only with a restart, so clients may cache it briefly. */
export function sendMetadata(_req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): void {
  sendJson(res, 200, options.metadata, { 'cache-control': `public, max-age=${DEFAULTS.sts.metadataMaxAgeSeconds}` });
}

/** The published keys, cached no longer than the default and never past the next scheduled key change. */
export function sendJwks(_req: IncomingMessage, res: ServerResponse, options: ResolvedStsOptions): void {
  const now = Math.floor(options.now() / 1000);
  const untilChange = options.keys.secondsUntilNextChange(now);
  const maxAge = Math.max(0, Math.min(DEFAULTS.sts.jwksMaxAgeSeconds, untilChange ?? DEFAULTS.sts.jwksMaxAgeSeconds));
  sendJson(res, 200, { keys: options.keys.publishedKeys(now) }, { 'cache-control': `public, max-age=${maxAge}` });
}

export function sendHealth(_req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}
