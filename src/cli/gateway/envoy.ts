import { isIP } from 'node:net';
import { misuse } from '../../core/config-error.js';
import { DEFAULT_IDENTITY_HEADERS } from '../../core/gateway-authorizer.js';
import { FORGEABLE_HEADERS, type GatewayConfigOptions } from './nginx.js';

/** How long Envoy waits for a Check: as long as nginx waits for authz (a JWKS refresh may be in it). */
const CHECK_TIMEOUT = '5s';

/**
 * Every certificate, original-request and identity header a client could send, removed as the
 * request arrives. RFC 9440's Client-Cert-Chain too: an upstream that reads Client-Cert may read it.
 */
export const ENVOY_REMOVED_HEADERS: readonly string[] = [
  ...new Set([...FORGEABLE_HEADERS, 'client-cert-chain', ...Object.values(DEFAULT_IDENTITY_HEADERS)]),
];

/**
 * An Envoy v3 static bootstrap (YAML, Envoy 1.25 or later) in front of any upstream: Envoy
 * terminates mutual TLS (`require_client_certificate`: no certificate chaining to the CA, no
 * handshake), asks `certbound authz --grpc-port` about every request through the ext_authz
 * filter's gRPC `Authorization/Check` with the verified certificate (`include_peer_certificate`),
 * and forwards allowed requests with the identity headers authz sets. A Check that fails or times
 * out is a 503 (`failure_mode_allow: false`): the gateway fails closed.
 *
 * Forged headers: the client's copies of every certificate, original-request and identity header
 * are removed by an early header mutation, before any filter runs. Route-level
 * `request_headers_to_remove` would be too late for the identity headers: the router applies it
 * after ext_authz, so it would remove what authz set. `forward_client_cert_details: SANITIZE`
 * drops a client's x-forwarded-client-cert (and Envoy adds none). Paths are normalised before
 * ext_authz sees them, so authz judges the path the upstream receives; encoded slashes are
 * refused and headers with underscores dropped (CGI-style upstreams read `x_certbound_subject`
 * as X-Certbound-Subject). There is no admin listener.
 *
 * @param grpcAuthz `host:port` of the Check server (`127.0.0.1:9191`), plaintext HTTP/2.
 * @throws ConfigError when `listen` is not an IP address and port, `grpcAuthz` not host:port, or the upstream not an http(s) URL without a path.
 * @see https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/ext_authz_filter
 */
export function envoyGatewayConfig(options: GatewayConfigOptions, grpcAuthz: string): string {
  const listen = hostPort(options.listen, '--listen');
  if (isIP(listen.host) === 0) throw misuse(`--listen must be an IP address and port for Envoy (not ${options.listen})`);
  const authz = hostPort(grpcAuthz, 'the gRPC authz address');
  const upstream = upstreamOf(options.upstream);
  const q = (text: string): string => JSON.stringify(text);
  const removals = ENVOY_REMOVED_HEADERS.map((name) => `                        - remove: ${q(name)}`).join('\n');
  return `# Envoy gateway for certbound, written by \`certbound authz config envoy\`: a static bootstrap
# (Envoy 1.25 or later). Run the Check server beside it:
#   certbound authz --port 9180 --grpc-port ${authz.port} --client-cert-format xfcc --jwks ... --issuer ... --audience ... --rule 'GET / read'
# No admin listener: it could rewrite or drain this gateway.
static_resources:
  listeners:
    - name: certbound_gateway
      address:
        socket_address: { address: ${q(listen.host)}, port_value: ${listen.port} }
      filter_chains:
        - transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
              # No client certificate that chains to the CA: no handshake. authz decides the rest.
              require_client_certificate: true
              common_tls_context:
                tls_params: { tls_minimum_protocol_version: TLSv1_2 }
                alpn_protocols: [h2, http/1.1]
                tls_certificates:
                  - certificate_chain: { filename: ${q(options.tlsCert)} }
                    private_key: { filename: ${q(options.tlsKey)} }
                validation_context:
                  trusted_ca: { filename: ${q(options.clientCa)} }
          filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: certbound_gateway
                codec_type: AUTO
                # The edge: the client's address is the connection's; x-envoy-* from outside is ignored.
                use_remote_address: true
                # A client's own x-forwarded-client-cert never passes, and Envoy adds none.
                forward_client_cert_details: SANITIZE
                # authz judges the path the upstream gets: dot segments resolved, slashes merged,
                # %2F and %5C refused.
                normalize_path: true
                merge_slashes: true
                path_with_escaped_slashes_action: REJECT_REQUEST
                common_http_protocol_options:
                  headers_with_underscores_action: DROP_HEADER
                # Before routing and every filter (route-level removal would run after ext_authz
                # and remove the identity headers it set).
                early_header_mutation_extensions:
                  - name: envoy.http.early_header_mutation.header_mutation
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation
                      mutations:
${removals}
                route_config:
                  name: certbound_gateway
                  virtual_hosts:
                    - name: upstream
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route: { cluster: upstream }
                http_filters:
                  - name: envoy.filters.http.ext_authz
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
                      transport_api_version: V3
                      grpc_service:
                        envoy_grpc: { cluster_name: certbound_authz }
                        timeout: ${CHECK_TIMEOUT}
                      # The verified client certificate, URL-encoded, in attributes.source.certificate.
                      include_peer_certificate: true
                      # authz down, slow or failing: refused (503), never let through.
                      failure_mode_allow: false
                      status_on_error: { code: ServiceUnavailable }
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: certbound_authz
      type: ${discoveryOf(authz.host)}
      connect_timeout: 1s
      # gRPC: HTTP/2, plaintext (authz listens on loopback or a private interface only).
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config:
            http2_protocol_options: {}
      load_assignment:
        cluster_name: certbound_authz
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: ${q(authz.host)}, port_value: ${authz.port} }
    - name: upstream
      type: ${discoveryOf(upstream.host)}
      connect_timeout: 2s
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: ${q(upstream.host)}, port_value: ${upstream.port} }
${upstream.tls ? upstreamTls(q(upstream.host)) : ''}`;
}

/** TLS towards an https upstream, with SNI. Like nginx's proxy_pass, its certificate is not verified unless a validation_context is added. */
function upstreamTls(sni: string): string {
  return `      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          sni: ${sni}
          # Add common_tls_context.validation_context.trusted_ca to verify the upstream's certificate.
`;
}

/** An IP address is a STATIC endpoint; a name is resolved (and re-resolved) by Envoy. */
const discoveryOf = (host: string): string => (isIP(host) === 0 ? 'STRICT_DNS' : 'STATIC');

function hostPort(value: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+|[A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65_535) throw misuse(`${what} must be HOST:PORT (not ${value})`);
  return { host: (match[1] ?? match[2]) as string, port };
}

function upstreamOf(url: string): { host: string; port: number; tls: boolean } {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || parsed.pathname !== '/' || parsed.search !== '') {
    throw misuse(`--upstream must be an http(s) URL without a path: Envoy forwards each request's own path (not ${url})`);
  }
  const tls = parsed.protocol === 'https:';
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? (tls ? 443 : 80) : Number(parsed.port), tls };
}
