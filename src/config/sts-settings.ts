import { ASYMMETRIC_ALGORITHMS } from '../core/rfc.js';
import { DEFAULTS } from '../defaults.js';
import type { OptionSpec } from './option.js';
import { SERVER_SETTINGS, WORKERS_SETTING } from './server-settings.js';

/** The STS's own settings, in sts.yaml and as flags of `certbound sts` (docs/configuration.md). */
export const STS_SETTINGS = [
  { option: 'issuer', key: 'issuer', flag: 'issuer', type: { kind: 'https-url' }, doc: 'iss of issued tokens and the RFC 8414 issuer' },
  {
    option: 'publicUrl',
    key: 'public_url',
    flag: 'public-url',
    type: { kind: 'https-url' },
    doc: "where clients reach the STS: the issuer's origin",
  },
  {
    option: 'issuerMetadataElsewhere',
    key: 'issuer_metadata_elsewhere',
    flag: 'issuer-metadata-elsewhere',
    type: { kind: 'boolean' },
    doc: "a proxy at the issuer's origin serves the metadata",
  },
  {
    option: 'requireClientId',
    key: 'require_client_id',
    flag: 'require-client-id',
    type: { kind: 'boolean' },
    doc: 'requests must send client_id (RFC 8705 §2)',
  },
  {
    option: 'accessTokenLifetimeSeconds',
    key: 'access_token_lifetime',
    flag: 'access-token-lifetime',
    type: { kind: 'integer', min: 1, max: DEFAULTS.sts.maxAccessTokenLifetimeSeconds },
    doc: `lifetime of issued tokens in seconds (${DEFAULTS.sts.accessTokenLifetimeSeconds})`,
  },
  {
    option: 'subjectTokenError',
    key: 'subject_token_error',
    flag: 'subject-token-error',
    type: { kind: 'enum', values: ['invalid_request', 'invalid_grant'] },
    doc: 'OAuth error for a refused subject token (RFC 8693 §2.2.2: invalid_request)',
  },
  {
    option: 'bodyLimitBytes',
    key: 'body_limit',
    flag: 'body-limit',
    type: { kind: 'integer', min: 1024, max: DEFAULTS.sts.maxBodyLimitBytes },
    doc: `largest request body in bytes (${DEFAULTS.sts.bodyLimitBytes})`,
  },
  {
    option: 'rateLimitPerSecond',
    key: 'rate_limit',
    flag: 'rate-limit',
    type: { kind: 'integer', min: 0, max: 1_000_000 },
    doc: `requests per second per client certificate (${DEFAULTS.sts.rateLimit.perSecond}; 0 = off)`,
  },
  {
    option: 'rateLimitBurst',
    key: 'rate_burst',
    flag: 'rate-burst',
    type: { kind: 'integer', min: 1, max: 1_000_000 },
    doc: 'requests at once after being idle (twice the rate)',
  },
  {
    option: 'jwtKey',
    key: 'signing.key',
    flag: 'jwt-key',
    type: { kind: 'path-or-pkcs11' },
    doc: 'the JWT signing key: a file, or a pkcs11: URI',
  },
  { option: 'jwtKid', key: 'signing.kid', flag: 'jwt-kid', type: { kind: 'string' }, doc: 'its kid (default: its RFC 7638 thumbprint)' },
  {
    option: 'jwtAlg',
    key: 'signing.alg',
    flag: 'jwt-alg',
    type: { kind: 'enum', values: ASYMMETRIC_ALGORITHMS },
    doc: 'JWS algorithm, when the key allows several (RSA: PS256, ...)',
  },
  {
    option: 'keystore',
    key: 'signing.keystore',
    flag: 'keystore',
    type: { kind: 'path' },
    doc: 'a keystore directory (certbound keys) instead of one key',
  },
  {
    option: 'verifyEachSignature',
    key: 'signing.verify_each_signature',
    flag: 'verify-each-signature',
    type: { kind: 'boolean' },
    doc: 'check every signature of a key in a PKCS#11 token before it is used (default: on for TPM modules only)',
  },
] as const satisfies readonly OptionSpec[];

/** Everything `certbound sts` and sts.yaml take, but the policy (a schema of its own). */
export const STS_COMMAND_SETTINGS: readonly OptionSpec[] = [...STS_SETTINGS, ...SERVER_SETTINGS, WORKERS_SETTING];
