import type { OptionSpec } from './option.js';
import { TRUSTED_PROXY_SETTINGS, VERIFIER_SETTINGS } from './protected-settings.js';
import { LISTEN_SETTINGS, LOG_LEVEL_SETTING, WATCH_SETTING } from './server-settings.js';

/**
 * `certbound authz`, the external authorization server a proxy calls: the verifier's settings,
 * the proxy it trusts and how that proxy forwards the certificate, and the rules. It speaks plain
 * HTTP to the proxy, on loopback unless told otherwise.
 */
export const AUTHZ_SETTINGS: readonly OptionSpec[] = [
  ...VERIFIER_SETTINGS,
  {
    option: 'jwksCa',
    key: 'jwks_ca',
    flag: 'jwks-ca',
    type: { kind: 'path' },
    doc: 'CA bundle an https --jwks URL must chain to (default: the system CAs)',
  },
  {
    option: 'rules',
    key: 'rules',
    flag: 'rule',
    type: { kind: 'strings' },
    doc: "'METHOD PREFIX [SCOPE ...] [aud=AUDIENCE ...]' (METHOD * for any); no matching rule is 403",
  },
  {
    option: 'defaultRule',
    key: 'default_rule',
    flag: 'default-rule',
    type: { kind: 'string' },
    doc: "'[SCOPE ...] [aud=AUDIENCE ...]' for a request no rule matches (default: 403); 'any' for any bound token",
  },
  {
    option: 'identityHeaders',
    key: 'identity_headers',
    flag: 'identity-header',
    type: { kind: 'strings' },
    doc: "'subject=NAME', 'client-id=NAME', 'scope=NAME' or 'thumbprint=NAME': rename a header sent to the upstream",
  },
  {
    option: 'envoyPathPrefix',
    key: 'envoy_path_prefix',
    flag: 'envoy-path-prefix',
    type: { kind: 'string' },
    doc: "Envoy's HTTP ext_authz path_prefix: the request's own method and path after it are the original request",
  },
  {
    option: 'grpcPort',
    key: 'grpc_port',
    flag: 'grpc-port',
    type: { kind: 'integer', min: 0, max: 65535 },
    doc: "also serve Envoy's gRPC Authorization/Check on this port of --host (0 picks one)",
  },
  {
    option: 'socket',
    key: 'socket',
    flag: 'socket',
    type: { kind: 'path' },
    doc: 'listen on this Unix socket (mode 0660) instead of --host/--port',
  },
  // The addresses default to 127.0.0.1 and ::1 here: the proxy is authz's only client.
  ...TRUSTED_PROXY_SETTINGS,
  ...LISTEN_SETTINGS,
  WATCH_SETTING,
  LOG_LEVEL_SETTING,
];
