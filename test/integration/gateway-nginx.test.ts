// Gateway mode with a real nginx (Debian's): nginx terminates mutual TLS in front of an upstream
// that is not Node (Python's http.server) and asks the real `certbound authz` CLI about every
// request through auth_request, with the configuration `certbound authz config nginx` prints.
import assert from 'node:assert/strict';
import { nginxGatewayConfig } from '../../src/cli/gateway/nginx.js';
import { gatewayTests } from '../helpers/gateway.js';
import { NGINX, nginxInstalled, nginxMainConfig, startNginxWith } from '../helpers/nginx.js';

gatewayTests({
  proxy: 'nginx',
  format: 'pem-urlencoded',
  configFor: nginxGatewayConfig,
  start(options) {
    assert.ok(nginxInstalled(), `${NGINX} is missing: .ci/run installs nginx`);
    return startNginxWith((dir, port) => nginxMainConfig(dir, nginxGatewayConfig(options(port))));
  },
});
