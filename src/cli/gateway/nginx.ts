import { DEFAULT_CERTIFICATE_HEADERS } from '../../http/forwarded-certificate.js';
import { DEFAULT_IDENTITY_HEADERS } from '../../http/authz.js';

export interface GatewayConfigOptions {
  /** Where the proxy listens for clients: `127.0.0.1:8443`. */
  listen: string;
  /** The upstream every allowed request goes to: `http://127.0.0.1:9000`. */
  upstream: string;
  /** Where `certbound authz` listens: `http://127.0.0.1:9180`. */
  authz: string;
  /** The proxy's own certificate and key, and the CA client certificates must chain to (paths). */
  tlsCert: string;
  tlsKey: string;
  clientCa: string;
}

/** Every header a client could send to pose as the proxy or as certbound: blanked towards authz and the upstream. */
export const FORGEABLE_HEADERS = [
  ...Object.values(DEFAULT_CERTIFICATE_HEADERS),
  'x-original-method',
  'x-original-uri',
  'x-forwarded-method',
  'x-forwarded-uri',
];
const IDENTITY = Object.values(DEFAULT_IDENTITY_HEADERS);
const variableOf = (header: string): string => `certbound_${header.replace(/^x-certbound-/, '').replace(/-/g, '_')}`;

/**
 * An nginx `server` (with its `map`) for the `http {}` context, in front of any upstream:
 * nginx terminates mutual TLS, asks `certbound authz` about every request through
 * `auth_request` with the verified certificate (`$ssl_client_escaped_cert`, blanked unless
 * verification succeeded), passes the identity headers to the upstream, and hands the
 * `WWW-Authenticate` challenge back on 401 and 403 (nginx copies it by itself only on 401; a
 * second copy there would give the client two challenges).
 * Every certificate and identity header a client could send is blanked on both legs, so a forged
 * one reaches neither authz nor the upstream. An authz that is down or answers anything else is a
 * 500: the gateway fails closed.
 */
export function nginxGatewayConfig(options: GatewayConfigOptions): string {
  const authz = new URL('/authz', options.authz).href;
  const blank = (headers: readonly string[], indent: string): string =>
    headers.map((name) => `${indent}proxy_set_header ${name} "";`).join('\n');
  const certificateHeader = DEFAULT_CERTIFICATE_HEADERS['pem-urlencoded'];
  return `# nginx gateway for certbound, written by \`certbound authz config nginx\`. Include it in http {}.
# Run the authz server beside it:
#   certbound authz --port ${new URL(options.authz).port} --client-cert-format pem-urlencoded --jwks ... --issuer ... --audience ... --rule 'GET / read'

# A certificate is forwarded only when nginx verified it; otherwise the header is empty (not sent).
map $ssl_client_verify $certbound_client_cert {
  SUCCESS $ssl_client_escaped_cert;
  default "";
}

server {
  listen ${options.listen} ssl;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate ${options.tlsCert};
  ssl_certificate_key ${options.tlsKey};
  # Ask every client for a certificate, verify it against the CA; the decision is authz's.
  ssl_client_certificate ${options.clientCa};
  ssl_verify_client optional;

  location = /_certbound_authz {
    internal;
    proxy_pass ${authz};
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Original-URI $request_uri;
${blank(
  FORGEABLE_HEADERS.filter((name) => !['x-original-method', 'x-original-uri', certificateHeader].includes(name)),
  '    ',
)}
    proxy_set_header ${certificateHeader} $certbound_client_cert;
    proxy_connect_timeout 2s;
    proxy_read_timeout 5s;
  }

  location / {
    auth_request /_certbound_authz;
${IDENTITY.map((name) => `    auth_request_set $${variableOf(name)} $upstream_http_${name.replace(/-/g, '_')};`).join('\n')}
    # nginx passes the challenge back by itself on 401, not on 403: that one needs the error page.
    auth_request_set $certbound_challenge $upstream_http_www_authenticate;
    error_page 403 = @certbound_403;

    proxy_pass ${options.upstream};
${IDENTITY.map((name) => `    proxy_set_header ${name} $${variableOf(name)};`).join('\n')}
${blank(FORGEABLE_HEADERS, '    ')}
  }

  location @certbound_403 {
    add_header WWW-Authenticate $certbound_challenge always;
    return 403;
  }
}
`;
}
