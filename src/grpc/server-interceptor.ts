import {
  ServerInterceptingCall,
  type Metadata,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerMethodDefinition,
} from '@grpc/grpc-js';
import { parseBearerAuthorization } from '../core/bearer.js';
import { toCertboundError, type CertboundError } from '../core/errors.js';
import { requireScopes, type BoundTokenVerifier, type VerifiedToken } from '../core/verify.js';
import { peerThumbprintOf } from './peer-certificate.js';
import { statusFor } from './status.js';
import { acceptRequestId, REQUEST_ID_HEADER } from '../server/request-id.js';
import { DEFAULTS } from '../defaults.js';
import * as v from 'valibot';
import { callable, madeBy, optionsObject, parseOptions, scopeTokens } from '../core/schema.js';

/** The standard health service (grpc/health/v1/health.proto): probes carry no token. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

export interface ServerInterceptorOptions {
  /** The same verifier the HTTP resource server uses (createBoundTokenVerifier). */
  verifier: BoundTokenVerifier;
  /**
   * Methods that need no token, by full path (`/echo.EchoServer/SayHello`) or by service
   * (`grpc.health.v1.Health`: all its methods). Default: the health service only. A list given
   * here replaces the default.
   */
  exempt?: readonly string[];
  /** Scopes a token must carry, by method path or service name; otherwise PERMISSION_DENIED. */
  requiredScopes?: Readonly<Record<string, readonly string[]>>;
  /** Called with every admitted and refused call, for logs and metrics; the one hook style of certbound. */
  onEvent?: (event: CallEvent) => void;
}

/** What the interceptor tells `onEvent`: each call it admitted or refused. Never the token itself. */
export type CallEvent =
  | { type: 'call.allowed'; token: VerifiedToken; method: string; peer: string; requestId: string }
  | { type: 'call.refused'; error: CertboundError; method: string; peer: string; requestId: string };

// Verified tokens by the call's request metadata: the handler receives that very object as
// `call.metadata`, and a client cannot forge an entry the way it could forge a header.
const verifiedByMetadata = new WeakMap<Metadata, VerifiedToken>();

/**
 * The verified token of a call that passed the certbound interceptor, for use in handlers
 * (`verifiedTokenOf(call).subject`). Undefined for exempt methods. Interceptors placed after
 * certbound's must pass the metadata object on, not a copy.
 */
export function verifiedTokenOf(call: { metadata: Metadata }): VerifiedToken | undefined {
  return verifiedByMetadata.get(call.metadata);
}

/**
 * The id of a call that passed the certbound interceptor: the client's `x-request-id` metadata
 * when sane (src/server/request-id.ts), else a new one. The interceptor sends it back in the
 * response metadata (or the status of a refusal). Undefined for exempt methods.
 */
export function requestIdOf(call: { metadata: Metadata }): string | undefined {
  const [value] = call.metadata.get(REQUEST_ID_HEADER);
  return typeof value === 'string' ? value : undefined;
}

/**
 * A grpc-js server interceptor that admits a call only with `authorization: Bearer <token>`
 * metadata whose token is valid and bound (cnf x5t#S256, RFC 8705 §3) to the client certificate
 * of the call's own TLS connection. It works the same for unary, client-, server- and
 * bidi-streaming methods: a refused call ends with UNAUTHENTICATED (PERMISSION_DENIED for a
 * missing scope) before the handler starts, and its messages are never delivered.
 *
 * @example
 * const server = new grpc.Server({ interceptors: [createServerInterceptor({ verifier })] });
 * server.bindAsync('127.0.0.1:50051', grpc.ServerCredentials.createSsl(ca, [{ private_key, cert_chain }], true), cb);
 */
export function createServerInterceptor(options: ServerInterceptorOptions): ServerInterceptor {
  const resolved = resolveServerInterceptorOptions(options);
  return (methodDescriptor: ServerMethodDefinition<unknown, unknown>, call: ServerInterceptingCallInterface) => {
    const method = methodDescriptor.path;
    if (resolved.isExempt(method)) return new ServerInterceptingCall(call);
    const requiredScopes = resolved.requiredScopesFor(method);
    let requestId = '';
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, proceed) {
            const [given] = metadata.get(REQUEST_ID_HEADER);
            requestId = acceptRequestId(typeof given === 'string' ? given : undefined);
            // The handler reads the id from the metadata it receives (requestIdOf): set it to the one in use.
            metadata.set(REQUEST_ID_HEADER, requestId);
            authenticateCall(metadata, call, resolved.verifier, requiredScopes).then(
              (verified) => {
                verifiedByMetadata.set(metadata, verified);
                resolved.onEvent?.({ type: 'call.allowed', token: verified, method, peer: call.getPeer(), requestId });
                proceed(metadata);
              },
              (error: unknown) => {
                const failure = toCertboundError(error);
                resolved.onEvent?.({ type: 'call.refused', error: failure, method, peer: call.getPeer(), requestId });
                const refusal = statusFor(failure);
                refusal.metadata.set(REQUEST_ID_HEADER, requestId);
                call.sendStatus(refusal);
              },
            );
          },
        });
      },
      sendMetadata(metadata, next) {
        if (requestId !== '') metadata.set(REQUEST_ID_HEADER, requestId);
        next(metadata);
      },
    });
  };
}

/** Bearer token from the metadata, checked against this call's peer certificate. */
async function authenticateCall(
  metadata: Metadata,
  call: ServerInterceptingCallInterface,
  verifier: BoundTokenVerifier,
  requiredScopes: readonly string[] | undefined,
): Promise<VerifiedToken> {
  const values = metadata.get('authorization').map((value) => (typeof value === 'string' ? value : value.toString('latin1')));
  const token = parseBearerAuthorization(values);
  const verified = await verifier.verify(token, peerThumbprintOf(call));
  if (requiredScopes !== undefined) requireScopes(verified, requiredScopes);
  return verified;
}

interface ResolvedServerInterceptorOptions {
  verifier: BoundTokenVerifier;
  isExempt(method: string): boolean;
  requiredScopesFor(method: string): readonly string[] | undefined;
  onEvent: ServerInterceptorOptions['onEvent'];
}

/** `/pkg.Service/Method` → `pkg.Service`. */
function serviceOf(method: string): string {
  return method.slice(1, method.lastIndexOf('/'));
}

const METHOD_OR_SERVICE = /^(\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*|[A-Za-z_][\w.]*)$/;
const isMethodOrService = (name: unknown): name is string => typeof name === 'string' && METHOD_OR_SERVICE.test(name);
const neither = (what: string, name: unknown): string =>
  `${what} must be "/package.Service/Method" or "package.Service"; ${JSON.stringify(name)} is neither`;

const INTERCEPTOR_OPTIONS = optionsObject(
  {
    verifier: madeBy<BoundTokenVerifier>('verify', 'must come from createBoundTokenVerifier()'),
    exempt: v.optional(
      v.pipe(
        v.array(v.unknown(), 'must be a list of method paths or service names'),
        v.rawCheck(({ dataset, addIssue }) => {
          const bad = dataset.typed ? dataset.value.findIndex((name) => !isMethodOrService(name)) : -1;
          if (bad >= 0) addIssue({ message: neither('entries', (dataset.value as unknown[])[bad]) });
        }),
        v.transform((list) => list as string[]),
      ),
      () => [...DEFAULTS.grpc.exempt],
    ),
    requiredScopes: v.optional(
      v.pipe(
        v.record(v.string(), v.unknown(), 'must map method paths or service names to scopes'),
        v.rawCheck(({ dataset, addIssue }) => {
          if (!dataset.typed) return;
          const bad = Object.keys(dataset.value).find((name) => !isMethodOrService(name));
          if (bad !== undefined) addIssue({ message: neither('keys', bad) });
        }),
        v.record(v.string(), scopeTokens()),
      ),
      {},
    ),
    onEvent: v.optional(callable<NonNullable<ServerInterceptorOptions['onEvent']>>('must be a function')),
  },
  'server interceptor options must be an object',
);

function resolveServerInterceptorOptions(options: ServerInterceptorOptions): ResolvedServerInterceptorOptions {
  const { verifier, exempt: exemptList, requiredScopes, onEvent } = parseOptions(INTERCEPTOR_OPTIONS, options);
  const exempt = new Set(exemptList);
  const scopes = new Map(Object.entries(requiredScopes));
  return {
    verifier,
    isExempt: (method) => exempt.has(method) || exempt.has(serviceOf(method)),
    // A method's own entry wins over its service's.
    requiredScopesFor: (method) => scopes.get(method) ?? scopes.get(serviceOf(method)),
    onEvent,
  };
}
