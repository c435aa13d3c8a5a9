import { DEFAULTS } from '../defaults.js';
import type { OptionSpec } from './option.js';
import { SERVER_SETTINGS, WORKERS_SETTING } from './server-settings.js';

/** What every token-checking server takes (resource, grpc-server): the keys, issuer and audiences it accepts. */
export const VERIFIER_SETTINGS = [
  { option: 'jwks', key: 'jwks', flag: 'jwks', type: { kind: 'path-or-url' }, doc: "the issuer's keys: a JWKS file, or an https URL" },
  { option: 'issuer', key: 'issuer', flag: 'issuer', type: { kind: 'string' }, doc: 'accepted iss (a URL)' },
  {
    option: 'audience',
    key: 'audience',
    flag: 'audience',
    type: { kind: 'strings' },
    doc: "this server's identifiers; aud must contain one",
  },
  {
    option: 'jwksMaxStaleMs',
    key: 'jwks_max_stale',
    flag: 'jwks-max-stale',
    type: { kind: 'seconds', min: 0, max: 7 * 24 * 3600 },
    doc: 'during a JWKS URL outage, how long the last keys keep verifying',
  },
  {
    option: 'startWithoutJwks',
    key: 'start_without_jwks',
    flag: 'start-without-jwks',
    type: { kind: 'boolean' },
    doc: 'listen even when the JWKS URL cannot be fetched at start (/readyz: not ready until it is)',
  },
  {
    option: 'clockToleranceSeconds',
    key: 'clock_skew',
    flag: 'clock-skew',
    type: { kind: 'integer', min: 0, max: DEFAULTS.verification.maxClockToleranceSeconds },
    doc: `leeway for exp and nbf in seconds (${DEFAULTS.verification.clockToleranceSeconds})`,
  },
  {
    option: 'tokenCacheEntries',
    key: 'token_cache',
    flag: 'token-cache',
    type: { kind: 'integer', min: 0, max: 10_000_000 },
    doc: `verifications kept (${DEFAULTS.verification.tokenCacheEntries}; 0 = off)`,
  },
] as const satisfies readonly OptionSpec[];

/** A TLS-terminating proxy that forwards the client certificate in a header (resource, authz). */
export const TRUSTED_PROXY_SETTINGS = [
  {
    option: 'trustedProxies',
    key: 'trusted_proxy.addresses',
    flag: 'trusted-proxy',
    type: { kind: 'strings' },
    doc: 'TLS-terminating proxies that forward the client certificate in a header',
  },
  {
    option: 'clientCertFormat',
    key: 'trusted_proxy.format',
    flag: 'client-cert-format',
    type: { kind: 'enum', values: ['rfc9440', 'xfcc', 'pem-urlencoded', 'traefik'] },
    doc: 'the header format',
  },
  {
    option: 'clientCertHeader',
    key: 'trusted_proxy.header',
    flag: 'client-cert-header',
    type: { kind: 'string' },
    doc: "the header's name (by format)",
  },
  {
    option: 'xfccHops',
    key: 'trusted_proxy.xfcc_hops',
    flag: 'xfcc-hops',
    type: { kind: 'integer', min: 1, max: 1_000_000 },
    doc: 'XFCC only: how many trusted proxies appended an element',
  },
] as const satisfies readonly OptionSpec[];

/** `certbound resource` and its configuration file. */
export const RESOURCE_SETTINGS: readonly OptionSpec[] = [
  ...VERIFIER_SETTINGS,
  {
    option: 'requiredScopes',
    key: 'required_scope',
    flag: 'required-scope',
    type: { kind: 'strings' },
    doc: 'scopes GET / requires (else 403 insufficient_scope)',
  },
  ...TRUSTED_PROXY_SETTINGS,
  ...SERVER_SETTINGS,
  WORKERS_SETTING,
];

/** `certbound grpc-server` and its configuration file: its limits are the handshake timeout and the connection limit. */
export const GRPC_SERVER_SETTINGS: readonly OptionSpec[] = [
  ...VERIFIER_SETTINGS,
  {
    option: 'maxConcurrentStreams',
    key: 'max_streams',
    flag: 'max-streams',
    type: { kind: 'integer', min: 1, max: 100_000 },
    doc: `concurrent calls per connection (${DEFAULTS.grpc.maxConcurrentStreams})`,
  },
  ...SERVER_SETTINGS,
];
