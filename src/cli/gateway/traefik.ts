import { stringify } from 'yaml';
import { DEFAULT_IDENTITY_HEADERS } from '../../core/gateway-authorizer.js';
import { DEFAULT_CERTIFICATE_HEADERS } from '../../http/forwarded-certificate.js';
import { FORGEABLE_HEADERS, type GatewayConfigOptions } from './nginx.js';

/** Header names as Traefik's documentation writes them (Go canonical form). */
const canonical = (name: string): string => name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());

/**
 * Traefik (v2.x and v3) dynamic configuration, for the file provider, in front of any upstream.
 * Traefik terminates mutual TLS and requires a client certificate verified against the CA
 * (`RequireAndVerifyClientCert`): PassTLSClientCert only *sets* `X-Forwarded-Tls-Client-Cert`
 * when there is a certificate and never removes a client's own copy, so a request without one
 * must not exist. The client's copies of every certificate, original-request and identity header
 * are removed first anyway (a `headers` middleware: an empty value deletes), then the
 * certificate is passed (`pem: true`), then ForwardAuth asks authz with only `Authorization` and
 * the certificate header (`authRequestHeaders`; Traefik adds X-Forwarded-Method/-Uri itself) and
 * copies the identity headers back over anything of that name (`authResponseHeaders`). A refusal
 * (401/403 with the challenge) is returned to the client as authz wrote it; authz down is a 500.
 */
export function traefikGatewayConfig(options: GatewayConfigOptions): string {
  const certificateHeader = canonical(DEFAULT_CERTIFICATE_HEADERS.traefik);
  const identity = Object.values(DEFAULT_IDENTITY_HEADERS).map(canonical);
  const dynamic = {
    http: {
      routers: {
        certbound: {
          entryPoints: ['certbound'],
          rule: 'PathPrefix(`/`)',
          service: 'certbound-upstream',
          middlewares: ['certbound-strip', 'certbound-cert', 'certbound-authz'],
          tls: { options: 'certbound-mtls' },
        },
      },
      middlewares: {
        'certbound-strip': {
          headers: {
            customRequestHeaders: Object.fromEntries([...FORGEABLE_HEADERS.map(canonical), ...identity].map((name) => [name, ''])),
          },
        },
        'certbound-cert': { passTLSClientCert: { pem: true } },
        'certbound-authz': {
          forwardAuth: {
            address: new URL('/authz', options.authz).href,
            trustForwardHeader: false,
            authRequestHeaders: ['Authorization', certificateHeader],
            authResponseHeaders: identity,
          },
        },
      },
      services: { 'certbound-upstream': { loadBalancer: { servers: [{ url: options.upstream }] } } },
    },
    tls: {
      certificates: [{ certFile: options.tlsCert, keyFile: options.tlsKey }],
      stores: { default: { defaultCertificate: { certFile: options.tlsCert, keyFile: options.tlsKey } } },
      options: {
        'certbound-mtls': {
          minVersion: 'VersionTLS12',
          sniStrict: false,
          clientAuth: { caFiles: [options.clientCa], clientAuthType: 'RequireAndVerifyClientCert' },
        },
      },
    },
  };
  return `# Traefik gateway for certbound, written by \`certbound authz config traefik\`: dynamic
# configuration for the file provider. The static configuration it needs:
#   entryPoints:
#     certbound:
#       address: "${options.listen}"
#   providers:
#     file:
#       filename: /path/to/this/file.yaml
# Run the authz server beside it:
#   certbound authz --port ${new URL(options.authz).port} --client-cert-format traefik --jwks ... --issuer ... --audience ... --rule 'GET / read'
${stringify(dynamic, { lineWidth: 0 })}`;
}
