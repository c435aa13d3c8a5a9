// The Envoy gateway configuration (`authz config envoy`), tested by contract: no Envoy package
// exists on this machine (Debian does not ship one and none is installed), so unlike the nginx and
// Caddy configurations it is not run in front of a real upstream. The YAML is parsed with the
// `yaml` package and every field that carries the security is asserted by its Envoy v3 path:
// mutual TLS required against the CA, SANITIZE for x-forwarded-client-cert, the peer certificate
// sent to the Check, fail closed, the client's forgeable headers removed before ext_authz, and the
// clusters where the options say. The Check server's side is test/integration/envoy-grpc-authz.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { envoyGatewayConfig, ENVOY_REMOVED_HEADERS } from '../../src/cli/gateway/envoy.js';
import { FORGEABLE_HEADERS, type GatewayConfigOptions } from '../../src/cli/gateway/nginx.js';
import { DEFAULT_IDENTITY_HEADERS } from '../../src/core/gateway-authorizer.js';

const OPTIONS: GatewayConfigOptions = {
  listen: '0.0.0.0:8443',
  upstream: 'http://127.0.0.1:9000',
  authz: 'http://127.0.0.1:9180',
  tlsCert: '/etc/certbound/server.crt',
  tlsKey: '/etc/certbound/server.key',
  clientCa: '/etc/certbound/ca.crt',
};

/* eslint-disable @typescript-eslint/no-explicit-any -- a parsed Envoy bootstrap, read by path */
function bootstrap(options: Partial<GatewayConfigOptions> = {}, grpcAuthz = '127.0.0.1:9191'): any {
  return parse(envoyGatewayConfig({ ...OPTIONS, ...options }, grpcAuthz));
}
const listenerOf = (config: any) => config.static_resources.listeners[0];
const tlsOf = (config: any) => listenerOf(config).filter_chains[0].transport_socket.typed_config;
const hcmOf = (config: any) => listenerOf(config).filter_chains[0].filters[0].typed_config;
const clusterOf = (config: any, name: string) => config.static_resources.clusters.find((cluster: any) => cluster.name === name);
const endpointOf = (cluster: any) => cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;

test('the listener: options.listen, mutual TLS required against the client CA, the proxy certificate and key', () => {
  const config = bootstrap();
  assert.equal(config.admin, undefined, 'no admin listener');
  assert.deepEqual(listenerOf(config).address.socket_address, { address: '0.0.0.0', port_value: 8443 });
  const tls = tlsOf(config);
  assert.equal(tls['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
  assert.equal(tls.require_client_certificate, true);
  assert.deepEqual(tls.common_tls_context.validation_context.trusted_ca, { filename: OPTIONS.clientCa });
  assert.deepEqual(tls.common_tls_context.tls_certificates, [
    { certificate_chain: { filename: OPTIONS.tlsCert }, private_key: { filename: OPTIONS.tlsKey } },
  ]);
  assert.equal(tls.common_tls_context.tls_params.tls_minimum_protocol_version, 'TLSv1_2');
});

test('the connection manager: SANITIZE, the edge, normalised paths, and every forgeable header removed before any filter', () => {
  const hcm = hcmOf(bootstrap());
  assert.equal(hcm['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  assert.equal(hcm.forward_client_cert_details, 'SANITIZE');
  assert.equal(hcm.use_remote_address, true);
  assert.equal(hcm.normalize_path, true);
  assert.equal(hcm.merge_slashes, true);
  assert.equal(hcm.path_with_escaped_slashes_action, 'REJECT_REQUEST');
  assert.equal(hcm.common_http_protocol_options.headers_with_underscores_action, 'DROP_HEADER');
  const [early] = hcm.early_header_mutation_extensions;
  assert.equal(early.name, 'envoy.http.early_header_mutation.header_mutation');
  assert.equal(
    early.typed_config['@type'],
    'type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation',
  );
  const removed = early.typed_config.mutations.map((mutation: { remove: string }) => mutation.remove);
  assert.deepEqual(removed, ENVOY_REMOVED_HEADERS);
  for (const name of [...FORGEABLE_HEADERS, ...Object.values(DEFAULT_IDENTITY_HEADERS)]) assert.ok(removed.includes(name), name);
  // Route-level removal runs in the router, after ext_authz: it would remove the identity headers authz set.
  const { route_config: routes } = hcm;
  assert.equal(routes.request_headers_to_remove, undefined);
  assert.deepEqual(routes.virtual_hosts[0].routes, [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }]);
});

test('ext_authz: gRPC Check to certbound_authz with the peer certificate, V3, fail closed; the router last', () => {
  const filters = hcmOf(bootstrap()).http_filters;
  assert.deepEqual(
    filters.map((filter: { name: string }) => filter.name),
    ['envoy.filters.http.ext_authz', 'envoy.filters.http.router'],
  );
  const authz = filters[0].typed_config;
  assert.equal(authz['@type'], 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz');
  assert.equal(authz.transport_api_version, 'V3');
  assert.deepEqual(authz.grpc_service, { envoy_grpc: { cluster_name: 'certbound_authz' }, timeout: '5s' });
  assert.equal(authz.include_peer_certificate, true);
  assert.equal(authz.failure_mode_allow, false);
  assert.deepEqual(authz.status_on_error, { code: 'ServiceUnavailable' });
  assert.equal(authz.http_service, undefined);
  assert.equal(authz.with_request_body, undefined, 'no body is sent to authz');
  assert.equal(filters[1].typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
});

test('the clusters: the Check server over HTTP/2 at grpcAuthz, the upstream at options.upstream', () => {
  const config = bootstrap({}, '127.0.0.1:9191');
  const authz = clusterOf(config, 'certbound_authz');
  assert.equal(authz.type, 'STATIC');
  assert.deepEqual(endpointOf(authz), { address: '127.0.0.1', port_value: 9191 });
  const protocol = authz.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  assert.equal(protocol['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
  assert.deepEqual(protocol.explicit_http_config, { http2_protocol_options: {} });
  const upstream = clusterOf(config, 'upstream');
  assert.equal(upstream.type, 'STATIC');
  assert.deepEqual(endpointOf(upstream), { address: '127.0.0.1', port_value: 9000 });
  assert.equal(upstream.transport_socket, undefined, 'plain http upstream');
});

test('names are resolved by DNS, IPv6 is unbracketed, an https upstream gets TLS with SNI (default port 443)', () => {
  const config = bootstrap({ listen: '[::]:443', upstream: 'https://orders.internal' }, 'authz.internal:9191');
  assert.deepEqual(listenerOf(config).address.socket_address, { address: '::', port_value: 443 });
  const authz = clusterOf(config, 'certbound_authz');
  assert.equal(authz.type, 'STRICT_DNS');
  assert.deepEqual(endpointOf(authz), { address: 'authz.internal', port_value: 9191 });
  const upstream = clusterOf(config, 'upstream');
  assert.equal(upstream.type, 'STRICT_DNS');
  assert.deepEqual(endpointOf(upstream), { address: 'orders.internal', port_value: 443 });
  assert.equal(
    upstream.transport_socket.typed_config['@type'],
    'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  );
  assert.equal(upstream.transport_socket.typed_config.sni, 'orders.internal');
  assert.deepEqual(endpointOf(clusterOf(bootstrap({}, '[::1]:9191'), 'certbound_authz')), { address: '::1', port_value: 9191 });
});

test('file paths are carried exactly, whatever YAML would make of them unquoted', () => {
  const odd = { tlsCert: '/etc/my certs/#1: "server".crt', tlsKey: "C:\\keys\\server's.key", clientCa: '- [ca] {x}: y' };
  const tls = tlsOf(bootstrap(odd));
  assert.deepEqual(tls.common_tls_context.tls_certificates[0], {
    certificate_chain: { filename: odd.tlsCert },
    private_key: { filename: odd.tlsKey },
  });
  assert.deepEqual(tls.common_tls_context.validation_context.trusted_ca, { filename: odd.clientCa });
});

test('refused: a listen address Envoy cannot bind, a bad gRPC authz address, an upstream with a path', () => {
  assert.throws(() => bootstrap({ listen: 'gateway.example:8443' }), /--listen must be an IP address and port for Envoy/);
  assert.throws(() => bootstrap({ listen: '0.0.0.0' }), /--listen must be HOST:PORT/);
  for (const address of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'http://127.0.0.1:9191', ''])
    assert.throws(() => bootstrap({}, address), /the gRPC authz address must be HOST:PORT/, address);
  for (const upstream of ['http://127.0.0.1:9000/api', 'http://127.0.0.1:9000/?x=1', 'ftp://127.0.0.1', 'not a url'])
    assert.throws(() => bootstrap({ upstream }), /--upstream must be an http\(s\) URL without a path/, upstream);
});
