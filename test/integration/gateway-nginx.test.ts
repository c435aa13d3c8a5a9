// Gateway mode with a real nginx (Debian's): nginx terminates mutual TLS in front of an upstream
// that is not Node (Python's http.server) and asks the real `certbound authz` CLI about every
// request through auth_request, with the configuration `certbound authz config nginx` prints.
import assert from 'node:assert/strict';
import { nginxGatewayConfig } from '../../src/cli/gateway/nginx.js';
import { gatewayTests } from '../helpers/gateway.js';
import { NGINX, nginxInstalled, nginxMainConfig, startNginxWith } from '../helpers/nginx.js';

/** The line of the generated configuration that gives authz the certificate nginx verified. */
const VERIFIED_CERTIFICATE = 'proxy_set_header x-ssl-client-cert $certbound_client_cert;';

/**
 * The generated configuration with the classic hole: the client's own X-SSL-Client-Cert, when it
 * sent one, goes to authz instead of the certificate nginx verified (as if an inner proxy had set
 * it). Without one, the verified certificate still goes, so the owner's own request works.
 */
function forwardingClientHeader(config: string): string {
  if (!config.includes(VERIFIED_CERTIFICATE)) throw new Error(`the generated configuration has no line ${VERIFIED_CERTIFICATE}`);
  return `map $http_x_ssl_client_cert $certbound_forwarded_cert {
  "" $certbound_client_cert;
  default $http_x_ssl_client_cert;
}
${config.replace(VERIFIED_CERTIFICATE, 'proxy_set_header x-ssl-client-cert $certbound_forwarded_cert;')}`;
}

gatewayTests({
  proxy: 'nginx',
  format: 'pem-urlencoded',
  configFor: nginxGatewayConfig,
  start(options) {
    assert.ok(nginxInstalled(), `${NGINX} is missing: .ci/run installs nginx`);
    return startNginxWith((dir, port) => nginxMainConfig(dir, nginxGatewayConfig(options(port))));
  },
  broken: {
    what: "an nginx that forwards the client's own X-SSL-Client-Cert",
    start: (options) => startNginxWith((dir, port) => nginxMainConfig(dir, forwardingClientHeader(nginxGatewayConfig(options(port))))),
    unsafeRow: /^6\. other certificate \+ forged x-ssl-client-cert \(nginx\) +refused \(401\/403\) +200 +FAIL \(UNSAFE\)$/,
  },
});
