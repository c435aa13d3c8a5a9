import assert from 'node:assert/strict';
import { test } from 'node:test';

// The package's exports map, resolved through the package's own name as a user would import it.
test('every subpath export resolves and exposes its entry points', async () => {
  const core = await import('certbound');
  assert.equal(typeof core.computeThumbprint, 'function');
  assert.equal(typeof core.createBoundTokenVerifier, 'function');
  assert.equal(core.GRANT_TYPE_TOKEN_EXCHANGE, 'urn:ietf:params:oauth:grant-type:token-exchange');
  const sts = await import('certbound/sts');
  assert.equal(typeof sts.createStsServer, 'function');
  assert.equal(typeof sts.loadStsConfig, 'function');
  const node = await import('certbound/node');
  assert.equal(typeof node.protect, 'function');
  assert.equal(typeof node.loadJwksSource, 'function');
  const client = await import('certbound/client');
  assert.equal(typeof client.createTokenSource, 'function');
  assert.equal(typeof client.createBoundFetch, 'function');
  const pki = await import('certbound/pki');
  assert.equal(typeof pki.planDevPki, 'function');
  const errors = await import('certbound/errors');
  assert.equal(errors.CertboundError, core.CertboundError, 'one error class, whichever subpath it comes from');
});
