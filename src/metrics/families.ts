/**
 * Every metric a certbound server exports, described once: the registry is built from this list
 * and docs/operations.md must describe each entry (test/unit/metrics-docs.test.ts). Label values
 * come from closed sets (event names, CB_* codes, grant types, registered client ids, OpenSSL
 * error codes, HTTP status codes), so no label can grow with traffic.
 */
export interface MetricFamily {
  name: string;
  kind: 'counter' | 'gauge' | 'histogram';
  help: string;
  labels: readonly string[];
  /** Histogram buckets, in seconds. */
  buckets?: readonly number[];
  /** How the primary of a --workers cluster combines the workers' values (prom-client; default sum). */
  aggregator?: 'sum' | 'max' | 'min' | 'first';
  /** The servers that report it. */
  servers: readonly ServerName[];
  /** Reported by the primary of a --workers cluster only (not by workers or a single process). */
  primaryOnly?: true;
}

export type ServerName = 'sts' | 'resource' | 'grpc-server' | 'authz';

const ALL: readonly ServerName[] = ['sts', 'resource', 'grpc-server', 'authz'];
const HTTP: readonly ServerName[] = ['sts', 'resource', 'authz'];
const TLS: readonly ServerName[] = ['sts', 'resource'];
const VERIFIERS: readonly ServerName[] = ['resource', 'grpc-server', 'authz'];

/** Verification is microseconds when cached, a millisecond or two when a signature is checked. */
const VERIFY_BUCKETS = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10];

export const METRIC_FAMILIES = [
  {
    name: 'certbound_tokens_issued_total',
    kind: 'counter',
    help: 'Access tokens issued, by grant type and registered client',
    labels: ['grant_type', 'client_id'],
    servers: ['sts'],
  },
  {
    name: 'certbound_refusals_total',
    kind: 'counter',
    help: 'Requests refused, by event (token.refused, request.refused, ...) and CB_* code',
    labels: ['event', 'code'],
    servers: ALL,
  },
  {
    name: 'certbound_allowed_total',
    kind: 'counter',
    help: 'Requests, calls and gateway checks admitted with a valid bound token, by event',
    labels: ['event'],
    servers: VERIFIERS,
  },
  {
    name: 'certbound_internal_errors_total',
    kind: 'counter',
    help: 'Requests that failed inside certbound (answered 500), by event',
    labels: ['event'],
    servers: ALL,
  },
  {
    name: 'certbound_token_verification_seconds',
    kind: 'histogram',
    help: 'Time to verify a bound access token (signature, claims, binding), by outcome',
    labels: ['outcome'],
    buckets: VERIFY_BUCKETS,
    servers: VERIFIERS,
  },
  {
    name: 'certbound_verification_cache_total',
    kind: 'counter',
    help: 'Verification cache lookups (--token-cache), by result: hit or miss',
    labels: ['result'],
    servers: VERIFIERS,
  },
  {
    name: 'certbound_jwks_fetches_total',
    kind: 'counter',
    help: 'Fetches of a JWKS URL, by outcome: ok or failed',
    labels: ['outcome'],
    servers: VERIFIERS,
  },
  {
    name: 'certbound_jwks_expired_total',
    kind: 'counter',
    help: 'Times the keys of a JWKS URL passed --jwks-max-stale and were dropped',
    labels: [],
    servers: VERIFIERS,
  },
  {
    name: 'certbound_jwks_age_seconds',
    kind: 'gauge',
    help: 'Age of the verification keys in use, since the last good fetch or file read (0 while none are loaded)',
    labels: [],
    aggregator: 'max',
    servers: VERIFIERS,
  },
  {
    name: 'certbound_jwks_usable',
    kind: 'gauge',
    help: '1 while verification keys are loaded and not past --jwks-max-stale, else 0 (every token refused, 503)',
    labels: [],
    aggregator: 'min',
    servers: VERIFIERS,
  },
  {
    name: 'certbound_load_shed_total',
    kind: 'counter',
    help: 'Requests answered 503 at once because --max-in-flight requests were already running',
    labels: [],
    servers: TLS,
  },
  {
    name: 'certbound_in_flight_requests',
    kind: 'gauge',
    help: 'HTTP requests being handled now',
    labels: [],
    servers: HTTP,
  },
  {
    name: 'certbound_http_request_seconds',
    kind: 'histogram',
    help: 'Time from request to response closed, by status code',
    labels: ['status'],
    buckets: REQUEST_BUCKETS,
    servers: HTTP,
  },
  {
    name: 'certbound_tls_handshakes_total',
    kind: 'counter',
    help: 'TLS handshakes completed',
    labels: [],
    servers: TLS,
  },
  {
    name: 'certbound_tls_handshake_failures_total',
    kind: 'counter',
    help: "TLS handshakes that failed, by Node's or OpenSSL's error code (other for anything else)",
    labels: ['reason'],
    servers: TLS,
  },
  {
    name: 'certbound_reloads_total',
    kind: 'counter',
    help: 'Reloads (SIGHUP, a watched file, keystore.json), by what was reloaded and outcome: ok or failed',
    labels: ['what', 'outcome'],
    servers: ALL,
  },
  {
    name: 'certbound_worker_restarts_total',
    kind: 'counter',
    help: 'Workers (--workers) that died and were replaced by the primary',
    labels: [],
    servers: ['sts', 'resource'],
    primaryOnly: true,
  },
] as const satisfies readonly MetricFamily[];

export type MetricName = (typeof METRIC_FAMILIES)[number]['name'];
