import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { discoveryProblem, metadataPathsOf, metadataUrlOf } from '../../src/sts/discovery.js';

describe('RFC 8414 §3.1 where clients look for the metadata', () => {
  test('an issuer without a path: /.well-known/oauth-authorization-server at its origin', () => {
    assert.equal(metadataUrlOf('https://sts.domain.com:8081').href, 'https://sts.domain.com:8081/.well-known/oauth-authorization-server');
    assert.equal(metadataUrlOf('https://sts.domain.com:8081/').href, 'https://sts.domain.com:8081/.well-known/oauth-authorization-server');
    assert.deepEqual([...metadataPathsOf('https://sts.domain.com:8081')], ['/.well-known/oauth-authorization-server']);
  });

  test('an issuer with a path: the well-known path is inserted before it (and the appended form is served too)', () => {
    assert.equal(
      metadataUrlOf('https://as.example.com/tenant/1').href,
      'https://as.example.com/.well-known/oauth-authorization-server/tenant/1',
    );
    assert.deepEqual(
      [...metadataPathsOf('https://as.example.com/tenant/1')],
      ['/.well-known/oauth-authorization-server/tenant/1', '/tenant/1/.well-known/oauth-authorization-server'],
    );
  });
});

describe('discoveryProblem: the public URL must be the issuer origin', () => {
  test('the same origin, with or without a trailing slash, is fine', () => {
    assert.equal(discoveryProblem('https://sts.domain.com:8081', 'https://sts.domain.com:8081'), undefined);
    assert.equal(discoveryProblem('https://as.example.com/tenant', 'https://as.example.com/'), undefined);
  });

  test('another port, host or a path prefix is a problem that names both URLs', () => {
    assert.equal(
      discoveryProblem('https://sts.domain.com', 'https://sts.domain.com:8081'),
      'clients discovering issuer https://sts.domain.com fetch https://sts.domain.com/.well-known/oauth-authorization-server, which is not where this STS is reached (https://sts.domain.com:8081)',
    );
    assert.match(discoveryProblem('https://sts.domain.com', 'https://other.domain.com') ?? '', /not where this STS is reached/);
    assert.match(discoveryProblem('https://sts.domain.com', 'https://sts.domain.com/prefix') ?? '', /not where this STS is reached/);
  });
});
