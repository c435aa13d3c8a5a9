import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { sendUnaryData, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { parseUrlEncodedPem } from '../core/certificate/url-encoded-pem.js';
import { misuse } from '../core/config-error.js';
import { CertboundError, toCertboundError } from '../core/errors.js';
import { createGatewayAuthorizer, type GatewayAuthorizer, type GatewayAuthorizerOptions } from '../core/gateway-authorizer.js';
import { computeThumbprint } from '../core/thumbprint.js';
import { bearerChallenge } from '../server/respond.js';
import { rpcStatusFor, statusFor } from './status.js';

/** The directory of the .proto files shipped with the package (the Envoy subset and echo.proto). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));
/** Envoy's external authorization service: what `grpc_service` in the ext_authz filter calls. */
export const ENVOY_AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';

/**
 * The gateway's options, as for `certbound authz` over HTTP: the verifier, the rules
 * (`METHOD PREFIX [SCOPE ...] [aud=AUDIENCE ...]`), a default rule, the identity header names, the
 * challenge realm and the `onEvent` hook (`authz.allowed`, `authz.refused`; never the token).
 */
export type EnvoyAuthorizationOptions = GatewayAuthorizerOptions;

/** What `server.addService(definition, implementation)` takes. */
export interface EnvoyAuthorizationService {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/** The part of a CheckRequest certbound reads (proto-loader gives absent messages as null). */
interface CheckRequest {
  attributes: {
    source: { certificate: string } | null;
    request: { http: { method: string; path: string; headers: Record<string, string> } | null } | null;
  } | null;
}

interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: number;
}

type CheckResponse =
  | { status: { code: 0; message: string }; ok_response: { headers: HeaderValueOption[]; headers_to_remove: string[] } }
  | {
      status: { code: number; message: string };
      denied_response: { status: { code: number }; headers: HeaderValueOption[]; body: string };
    };

/** HeaderValueOption.HeaderAppendAction: replace every copy of the header, or add it. */
const OVERWRITE_IF_EXISTS_OR_ADD = 2;

/**
 * Certificate headers Envoy never sets from the connection (RFC 9440's and nginx's): any copy on
 * the request came from the client, and an upstream that trusts one would believe it. Envoy's own
 * x-forwarded-client-cert is left to `forward_client_cert_details` (SANITIZE removes a client's,
 * SANITIZE_SET replaces it with Envoy's), and is applied before this filter runs.
 */
const CLIENT_CERTIFICATE_HEADERS = ['client-cert', 'client-cert-chain', 'x-ssl-client-cert'];

const require = createRequire(import.meta.url);
let definition: ServiceDefinition | undefined;

/** The Authorization service from the shipped .proto subset, loaded once (proto-loader only when first asked for). */
function authorizationDefinition(): ServiceDefinition {
  if (definition !== undefined) return definition;
  let protoLoader: typeof import('@grpc/proto-loader');
  try {
    protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  } catch (cause) {
    throw misuse("Envoy's Check service needs @grpc/proto-loader (an optional peer dependency): install it", { cause });
  }
  const loaded = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: Number,
    enums: Number,
    defaults: true,
    oneofs: true,
  });
  definition = loaded[ENVOY_AUTHORIZATION_SERVICE] as ServiceDefinition;
  return definition;
}

/**
 * Envoy's external authorization gRPC service (`envoy.service.auth.v3.Authorization/Check`), what
 * Envoy's and Istio's ext_authz filter calls with `grpc_service`, deciding as `certbound authz`
 * does over HTTP: the client certificate is `attributes.source.certificate` (URL-encoded PEM,
 * sent when the filter has `include_peer_certificate: true`; none is a refusal), the bound token
 * is the `authorization` header, and the method and path (with its query) are the request's.
 *
 * The call always ends with gRPC OK and a CheckResponse: status 0 with `ok_response.headers`
 * setting every identity header (overwriting any copy the client sent) and removing client copies
 * of certificate headers; or a non-OK `status` (the gRPC code of the error table) with a
 * `denied_response` carrying the HTTP status, the RFC 6750 `WWW-Authenticate` challenge and the
 * JSON error body for Envoy to send back. A malformed certificate is a refusal (400). If even the
 * refusal cannot be built (a hook that throws), the refusal is CB_INTERNAL (500), and failing
 * that the call ends with INTERNAL, which Envoy treats as a denial unless `failure_mode_allow` is
 * set, which it must not be. The proxy is the only client: serve this on loopback, a Unix socket
 * or with mutual TLS (see startEnvoyCheckServer in the CLI for the first).
 *
 * Needs @grpc/proto-loader besides @grpc/grpc-js.
 * @throws ConfigError for bad options (a rule that does not parse names itself), or without @grpc/proto-loader.
 * @example
 * const { definition, implementation } = createEnvoyAuthorizationService({ verifier, rules: ['GET /orders/ read'] });
 * const server = new grpc.Server();
 * server.addService(definition, implementation);
 * server.bindAsync('127.0.0.1:9191', grpc.ServerCredentials.createInsecure(), callback);
 * @see https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/external_auth.proto
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
export function createEnvoyAuthorizationService(options: EnvoyAuthorizationOptions): EnvoyAuthorizationService {
  const authorizer = createGatewayAuthorizer(options);
  const service = authorizationDefinition();
  return {
    definition: service,
    implementation: {
      Check(call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
        check(authorizer, call.request).then(
          (response) => callback(null, response),
          // Not even a refusal could be built: a gRPC error, which Envoy takes as a denial.
          (error: unknown) => callback(statusFor(new CertboundError('CB_INTERNAL', { description: 'internal error', cause: error }))),
        );
      },
    },
  };
}

/** One Check: allowed with the identity headers, or refused with the challenge; never an allow on an error. */
async function check(authorizer: GatewayAuthorizer, request: CheckRequest): Promise<CheckResponse> {
  const http = request.attributes?.request?.http ?? null;
  const method = http?.method.toUpperCase() ?? '';
  const target = http?.path ?? '';
  try {
    const { headers } = await authorizer.authorize({
      method: requireAttribute(method, 'method'),
      target: requireAttribute(target, 'path'),
      authorization: http?.headers.authorization,
      thumbprint: thumbprintOf(request.attributes?.source?.certificate ?? ''),
    });
    return {
      status: { code: 0, message: '' },
      ok_response: { headers: headerOptions(headers), headers_to_remove: CLIENT_CERTIFICATE_HEADERS },
    };
  } catch (error) {
    try {
      const refusal = authorizer.refuse(error, method, target);
      return denied(refusal.error, refusal.challenge);
    } catch (hookError) {
      // A hook that throws must not turn into an allow, nor into a refusal without its status.
      return denied(toCertboundError(hookError), {});
    }
  }
}

/** Envoy sends the request's method and path for every HTTP request; without them there is nothing to judge. */
function requireAttribute(value: string, name: 'method' | 'path'): string {
  if (value !== '') return value;
  throw new CertboundError('CB_AUTHORIZATION_MALFORMED', {
    description: `the proxy sent no HTTP request ${name} (attributes.request.http.${name})`,
    reason: 'missing',
  });
}

/** x5t#S256 of the certificate Envoy verified; undefined without one (the verifier then refuses a bound token). */
function thumbprintOf(certificate: string): string | undefined {
  if (certificate === '') return undefined;
  return computeThumbprint(parseUrlEncodedPem(certificate, 'the client certificate from the proxy (source.certificate)'));
}

function denied(error: CertboundError, challenge: { realm?: string; scope?: string }): CheckResponse {
  const { status, headers, body } = bearerChallenge(error, challenge);
  return {
    status: rpcStatusFor(error),
    denied_response: {
      status: { code: status },
      headers: headerOptions({ ...headers, 'content-type': 'application/json' }),
      body: JSON.stringify(body),
    },
  };
}

function headerOptions(headers: Record<string, string>): HeaderValueOption[] {
  return Object.entries(headers).map(([key, value]) => ({ header: { key, value }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }));
}
