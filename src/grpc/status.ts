import { Metadata, type status } from '@grpc/grpc-js';
import { toCertboundError } from '../core/errors.js';

/** Trailer naming the certbound error code of a refused call, for clients and logs that match on it. */
export const ERROR_CODE_TRAILER = 'certbound-error-code';

/**
 * The gRPC status a failure ends a call with. This is the only place certbound turns an error
 * into a gRPC status: the code comes from the one table in core/errors.ts, the details are the
 * public description (prefixed with the OAuth error, as a WWW-Authenticate challenge would carry).
 */
export function statusFor(error: unknown): { code: status; details: string; metadata: Metadata } {
  const failure = toCertboundError(error);
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, failure.code);
  return { code: failure.outcome.grpc, details: detailsFor(failure), metadata };
}

/**
 * The google.rpc.Status of a refusal in Envoy's CheckResponse: the code and details a refused call
 * would end with. Never 0 (OK): every failure has a non-OK code in the table.
 */
export function rpcStatusFor(error: unknown): { code: number; message: string } {
  const failure = toCertboundError(error);
  return { code: failure.outcome.grpc, message: detailsFor(failure) };
}

/**
 * An Error grpc-js call credentials can fail with: grpc-js fails the RPC with `error.code` when it
 * is numeric, and with UNKNOWN otherwise (load-balancing-call.ts).
 */
export function callCredentialsError(error: unknown): Error & { code: number } {
  const failure = toCertboundError(error);
  // These details stay on the client, so the local detail (ECONNREFUSED, a timeout) may be added.
  const local = failure.code === 'CB_INTERNAL' || failure.detail === undefined ? '' : ` (${failure.detail})`;
  return Object.assign(new Error(`${detailsFor(failure)}${local}`, { cause: failure }), { code: failure.outcome.grpc });
}

function detailsFor(failure: ReturnType<typeof toCertboundError>): string {
  const oauth = failure.outcome.oauth;
  return oauth === null || failure.code === 'CB_INTERNAL' ? failure.description : `${oauth}: ${failure.description}`;
}
