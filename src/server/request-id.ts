import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The header (and gRPC metadata key) that carries a request id, in and out. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * An id a caller or proxy chose is kept when it is sane: 1 to 128 RFC 9110 token characters, so
 * it can go into a header, a log line and a terminal as it is. Anything else is replaced.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

/** The incoming id when it is sane (one value only), otherwise a new random one. */
export function acceptRequestId(given: string | readonly string[] | undefined): string {
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

// The id of the request being handled, for whatever it reports on the way (logs, events), without
// threading it through every function between the handler and the event.
const current = new AsyncLocalStorage<string>();

/** The id of the request whose handling is running now, if any. */
export function currentRequestId(): string | undefined {
  return current.getStore();
}

/** Run `work` as part of the request `id`: `currentRequestId()` answers `id` in it and whatever it starts. */
export function withinRequest<T>(id: string, work: () => T): T {
  return current.run(id, work);
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A handler whose every request has an id: taken or made, echoed in `X-Request-Id`, current while it runs. */
export function withRequestIds(handler: Handler): Handler {
  return (req, res) => {
    const id = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, id);
    current.run(id, handler, req, res);
  };
}
