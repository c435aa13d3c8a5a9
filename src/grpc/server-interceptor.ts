import { ServerInterceptingCall, type Metadata, type ServerInterceptingCallInterface, type ServerInterceptor, type ServerMethodDefinition } from '@grpc/grpc-js';
import { parseBearerAuthorization } from '../core/bearer.js';
import { toCertboundError, type CertboundError } from '../core/errors.js';
import { requireScopes, type BoundTokenVerifier, type VerifiedToken } from '../core/verify.js';
import { peerThumbprintOf } from './peer-certificate.js';
import { statusFor } from './status.js';
import { DEFAULTS } from '../defaults.js';
import { isScopeToken } from '../core/scope.js';

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
  /** Called with every refusal (never with the token), for logs and metrics. */
  onRefused?: (error: CertboundError, call: { method: string; peer: string }) => void;
}

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
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, proceed) {
            authenticateCall(metadata, call, resolved.verifier, requiredScopes).then(
              (verified) => {
                verifiedByMetadata.set(metadata, verified);
                proceed(metadata);
              },
              (error: unknown) => {
                const failure = toCertboundError(error);
                resolved.onRefused?.(failure, { method, peer: call.getPeer() });
                call.sendStatus(statusFor(failure));
              },
            );
          },
        });
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
  onRefused: ServerInterceptorOptions['onRefused'];
}

/** `/pkg.Service/Method` → `pkg.Service`. */
function serviceOf(method: string): string {
  return method.slice(1, method.lastIndexOf('/'));
}

const METHOD_OR_SERVICE = /^(\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*|[A-Za-z_][\w.]*)$/;

function resolveServerInterceptorOptions(options: ServerInterceptorOptions): ResolvedServerInterceptorOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('server interceptor options must be an object');
  if (typeof options.verifier?.verify !== 'function') throw new TypeError('"verifier" must come from createBoundTokenVerifier()');
  if (options.exempt !== undefined && !Array.isArray(options.exempt)) throw new TypeError('"exempt" must be a list of method paths or service names');
  const exempt = new Set<string>(options.exempt ?? DEFAULTS.grpc.exempt);
  for (const name of exempt) {
    if (typeof name !== 'string' || !METHOD_OR_SERVICE.test(name)) {
      throw new TypeError(`"exempt" entries must be "/package.Service/Method" or "package.Service"; ${JSON.stringify(name)} is neither`);
    }
  }
  const scopes = new Map<string, readonly string[]>();
  for (const [name, list] of Object.entries(options.requiredScopes ?? {})) {
    if (!METHOD_OR_SERVICE.test(name)) throw new TypeError(`"requiredScopes" keys must be "/package.Service/Method" or "package.Service"; ${JSON.stringify(name)} is neither`);
    if (!Array.isArray(list) || list.some((scope) => !isScopeToken(scope))) {
      throw new TypeError(`"requiredScopes.${name}" must be a list of scope tokens`);
    }
    scopes.set(name, [...list]);
  }
  if (options.onRefused !== undefined && typeof options.onRefused !== 'function') throw new TypeError('"onRefused" must be a function');
  return {
    verifier: options.verifier,
    isExempt: (method) => exempt.has(method) || exempt.has(serviceOf(method)),
    // A method's own entry wins over its service's.
    requiredScopesFor: (method) => scopes.get(method) ?? scopes.get(serviceOf(method)),
    onRefused: options.onRefused,
  };
}
