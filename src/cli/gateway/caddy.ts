import { DEFAULT_CERTIFICATE_HEADERS } from '../../http/forwarded-certificate.js';
import { DEFAULT_IDENTITY_HEADERS } from '../../http/authz.js';
import { FORGEABLE_HEADERS, type GatewayConfigOptions } from './nginx.js';

/**
 * A Caddyfile site (Caddy 2.6) in front of any upstream: Caddy terminates mutual TLS (a client
 * certificate is asked for and, when given, verified against the CA), calls `certbound authz`
 * with `forward_auth` carrying the certificate in RFC 9440 `Client-Cert`, and copies the identity
 * headers to the upstream. The client's own copies of every certificate, original-request and
 * identity header are removed first, inside `route` (outside it, `request_header` would run after
 * `forward_auth`). Every identity header is always sent by authz: a `copy_headers` header it left
 * out would reach the upstream as Caddy's placeholder text. authz's 401/403 (with the challenge)
 * go back to the client as they are; authz down is a 502.
 */
export function caddyGatewayConfig(options: GatewayConfigOptions): string {
  const authz = new URL(options.authz);
  const [host, port] = splitListen(options.listen);
  const uri = authz.pathname === '/' ? '/authz' : authz.pathname;
  const copy = Object.values(DEFAULT_IDENTITY_HEADERS).join(' ');
  const remove = [...FORGEABLE_HEADERS, ...Object.values(DEFAULT_IDENTITY_HEADERS)].map((name) => `\t\trequest_header -${name}`).join('\n');
  return `# Caddy gateway for certbound, written by \`certbound authz config caddy\`.
# Run the authz server beside it:
#   certbound authz --port ${authz.port} --client-cert-format rfc9440 --jwks ... --issuer ... --audience ... --rule 'GET / read'
# Certificates are given below (no ACME); the admin API, which can rewrite this config, is off.
{
\tauto_https off
\tadmin off
}

https://:${port} {
\tbind ${host}
\ttls ${options.tlsCert} ${options.tlsKey} {
\t\tprotocols tls1.2 tls1.3
\t\tclient_auth {
\t\t\tmode verify_if_given
\t\t\ttrusted_ca_cert_file ${options.clientCa}
\t\t}
\t}
\troute {
${remove}
\t\t# Without a client certificate Caddy leaves its placeholders as literal text: the certificate
\t\t# header is set only when there is one (a SHA-256 fingerprint), else authz hears none (401).
\t\t@certbound_with_cert vars_regexp {http.request.tls.client.fingerprint} ^[0-9a-f]{64}$
\t\tforward_auth @certbound_with_cert ${authz.host} {
\t\t\turi ${uri}
\t\t\theader_up ${DEFAULT_CERTIFICATE_HEADERS.rfc9440} ":{http.request.tls.client.certificate_der_base64}:"
\t\t\tcopy_headers ${copy}
\t\t}
\t\t@certbound_without_cert not vars_regexp {http.request.tls.client.fingerprint} ^[0-9a-f]{64}$
\t\tforward_auth @certbound_without_cert ${authz.host} {
\t\t\turi ${uri}
\t\t\tcopy_headers ${copy}
\t\t}
\t\treverse_proxy ${options.upstream}
\t}
}
`;
}

function splitListen(listen: string): [string, string] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), listen.slice(at + 1)];
}
