import type { IncomingMessage } from 'node:http';
import { CertboundError } from '../core/errors.js';

/**
 * Read a request body up to `limit` bytes. Larger bodies are refused as soon as the declared
 * length or the bytes received pass the limit, without buffering the rest.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new CertboundError('CB_REQUEST_INVALID', { description: 'request body could not be read', cause: error }));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): CertboundError {
  return new CertboundError('CB_REQUEST_TOO_LARGE', { description: `request body exceeds ${limit} bytes`, reason: 'not_allowed' });
}
