// RFC 9728 protected resource metadata: the document and where it lives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protectedResourceMetadata, resourceMetadataUrl } from '../../src/http/resource-metadata.js';

test('the document says tokens must be certificate-bound and sent in the header', () => {
  assert.deepEqual(
    protectedResourceMetadata({
      resource: 'https://server.domain.com:8443',
      authorizationServers: ['https://sts.domain.com'],
      scopes: ['read'],
    }),
    {
      resource: 'https://server.domain.com:8443',
      authorization_servers: ['https://sts.domain.com'],
      bearer_methods_supported: ['header'],
      tls_client_certificate_bound_access_tokens: true,
      scopes_supported: ['read'],
    },
  );
  assert.equal(
    'scopes_supported' in protectedResourceMetadata({ resource: 'https://a.example', authorizationServers: ['https://sts.example'] }),
    false,
  );
});

test('the well-known path goes between host and path (RFC 9728 §3.1)', () => {
  assert.equal(
    resourceMetadataUrl('https://server.domain.com:8443'),
    'https://server.domain.com:8443/.well-known/oauth-protected-resource',
  );
  assert.equal(
    resourceMetadataUrl('https://server.domain.com:8443/'),
    'https://server.domain.com:8443/.well-known/oauth-protected-resource',
  );
  assert.equal(resourceMetadataUrl('https://api.example/v1/orders'), 'https://api.example/.well-known/oauth-protected-resource/v1/orders');
});

test('a resource that is not an https URL without query or fragment is refused', () => {
  for (const resource of ['server.domain.com', 'http://server.domain.com', 'https://a.example/?x=1', 'https://a.example/#f']) {
    assert.throws(() => resourceMetadataUrl(resource), TypeError, resource);
  }
  assert.throws(() => protectedResourceMetadata({ resource: 'https://a.example', authorizationServers: [] }), /authorizationServers/);
});
