// Gateway mode with a real Caddy (Debian's caddy 2.6): Caddy terminates mutual TLS in front of an
// upstream that is not Node (Python's http.server) and asks the real `certbound authz` CLI about
// every request with forward_auth, using the Caddyfile `certbound authz config caddy` prints.
import assert from 'node:assert/strict';
import { caddyGatewayConfig } from '../../src/cli/gateway/caddy.js';
import { CADDY, caddyInstalled, startCaddy } from '../helpers/caddy.js';
import { gatewayTests } from '../helpers/gateway.js';

gatewayTests({
  proxy: 'caddy',
  format: 'rfc9440',
  configFor: caddyGatewayConfig,
  start(options) {
    assert.ok(caddyInstalled(), `${CADDY} is missing: .ci/run installs caddy`);
    return startCaddy((port) => caddyGatewayConfig(options(port)));
  },
});
