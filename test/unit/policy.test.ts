import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs it before it loads
import * as x509 from '@peculiar/x509';
import { readCertificateFacts, type CertificateFacts } from '../../src/core/certificate/facts.js';
import { authenticateSubjectToken } from '../../src/core/subject-token.js';
import { authorizeAudiences, authorizeScopes, findClient, hashSubjectToken } from '../../src/core/policy/authorize.js';
import { parsePolicy, PolicyError } from '../../src/config/policy.js';
import { type Policy, type SubjectCredential } from '../../src/core/policy/types.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../../src/core/rfc.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { issueCertificate } from '../../src/pki/generate.js';

const AUDIENCE = 'https://server.domain.com:8443';
const OTHER_AUDIENCE = 'https://other.domain.com';
const ALICE_SECRET = 'iamtheeggman';
const CAROL_SECRET = 'goo-goo-g-joob';
const SHA_A = 'a'.repeat(64);
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** Independent SHA-256 hex, to check hashSubjectToken against. */
const sha256Hex = (text: string): string => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');

/** The smallest valid document, to which one problem is added per test. */
function minimal(): Record<string, unknown> {
  return { clients: [{ client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } }] };
}

function assertPolicyError(raw: unknown, path: string, problem?: RegExp): void {
  assert.throws(
    () => parsePolicy(raw),
    (error: unknown) => {
      assert.ok(error instanceof PolicyError, `expected PolicyError, got ${String(error)}`);
      assert.ok(error instanceof TypeError, 'PolicyError is a TypeError');
      assert.equal(error.name, 'PolicyError');
      assert.equal(error.path, path);
      assert.ok(error.message.startsWith(`${path}: `), `message "${error.message}" names ${path}`);
      if (problem !== undefined) assert.match(error.message, problem);
      return true;
    },
  );
}

describe('parsePolicy: errors name the path', () => {
  test('a document that is not a mapping', () => {
    assertPolicyError(null, 'policy', /must be a mapping/);
    assertPolicyError([], 'policy', /must be a mapping/);
    assertPolicyError('clients', 'policy', /must be a mapping/);
  });

  test('the prefix argument is used in paths', () => {
    assert.throws(() => parsePolicy({ clients: [] }, 'sts.policy'), { name: 'PolicyError', path: 'sts.policy.clients' });
  });

  test('unknown top-level key', () => {
    assertPolicyError(
      { ...minimal(), subjects: [] },
      'policy.subjects',
      /unknown key \(expected one of clients, subject_tokens, trusted_issuers\)/,
    );
  });

  test('unknown key in a client and in a subject token', () => {
    assertPolicyError(
      { clients: [{ client_id: 'a', certificate: { subject_dn: 'CN=a' }, secret: 'x' }] },
      'policy.clients[0].secret',
      /unknown key/,
    );
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [AUDIENCE], scope: 'read' }] },
      'policy.subject_tokens[0].scope',
      /unknown key/,
    );
  });

  test('no clients (missing, not a list, empty)', () => {
    assertPolicyError({}, 'policy.clients', /must be a list/);
    assertPolicyError({ clients: { alice: {} } }, 'policy.clients', /must be a list/);
    assertPolicyError({ clients: [] }, 'policy.clients', /at least one client must be registered/);
  });

  test('duplicate client_id names the second occurrence', () => {
    assertPolicyError(
      {
        clients: [
          { client_id: 'alice', certificate: { subject_dn: 'CN=alice' } },
          { client_id: 'bob', certificate: { subject_dn: 'CN=bob' } },
          { client_id: 'alice', certificate: { subject_dn: 'CN=alice2' } },
        ],
      },
      'policy.clients[2].client_id',
      /duplicate client_id "alice"/,
    );
  });

  test('missing or empty client_id', () => {
    assertPolicyError({ clients: [{ certificate: { subject_dn: 'CN=a' } }] }, 'policy.clients[0].client_id', /non-empty string/);
    assertPolicyError(
      { clients: [{ client_id: '', certificate: { subject_dn: 'CN=a' } }] },
      'policy.clients[0].client_id',
      /non-empty string/,
    );
  });

  test('a certificate matcher with two fields', () => {
    assertPolicyError(
      { clients: [{ client_id: 'a', certificate: { subject_dn: 'CN=a', san_dns: 'a.domain.com' } }] },
      'policy.clients[0].certificate',
      /must have exactly one of x5t#S256, subject_dn, san_dns, san_uri, san_ip, san_email/,
    );
  });

  test('a certificate matcher with no field or an unknown field', () => {
    assertPolicyError({ clients: [{ client_id: 'a', certificate: {} }] }, 'policy.clients[0].certificate', /exactly one of/);
    assertPolicyError({ clients: [{ client_id: 'a', certificate: { cn: 'a' } }] }, 'policy.clients[0].certificate', /exactly one of/);
    assertPolicyError({ clients: [{ client_id: 'a' }] }, 'policy.clients[0].certificate', /must be a mapping/);
  });

  test('RFC 8705 §3.1 an x5t#S256 matcher that is not 43 base64url characters', () => {
    const sha = createHash('sha256').update('x').digest();
    for (const bad of [sha.toString('base64'), sha.toString('hex'), sha.toString('base64url').slice(0, 42)]) {
      assertPolicyError(
        { clients: [{ client_id: 'a', certificate: { 'x5t#S256': bad } }] },
        'policy.clients[0].certificate.x5t#S256',
        /base64url SHA-256 thumbprint without padding \(43 characters\)/,
      );
    }
  });

  test('RFC 4514 a subject_dn that is not a distinguished name', () => {
    for (const bad of ['not a dn', 'alice', 'foo=bar']) {
      assertPolicyError(
        { clients: [{ client_id: 'a', certificate: { subject_dn: bad } }] },
        'policy.clients[0].certificate.subject_dn',
        /not a distinguished name/,
      );
    }
  });

  test('a subject token whose sha256 is not 64 hex characters', () => {
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: 'abc', subject: 's', audiences: [AUDIENCE] }] },
      'policy.subject_tokens[0].sha256',
      /must be 64 hex characters/,
    );
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: sha256Hex('x').replace(/.$/, 'g'), subject: 's', audiences: [AUDIENCE] }] },
      'policy.subject_tokens[0].sha256',
      /must be 64 hex characters/,
    );
  });

  test('a duplicate subject token (also when the hex differs only in case) names the second one', () => {
    const hash = sha256Hex(ALICE_SECRET);
    assertPolicyError(
      {
        ...minimal(),
        subject_tokens: [
          { sha256: hash, subject: 'alice', audiences: [AUDIENCE] },
          { sha256: sha256Hex('other'), subject: 'other', audiences: [AUDIENCE] },
          { sha256: hash.toUpperCase(), subject: 'mallory', audiences: [AUDIENCE] },
        ],
      },
      'policy.subject_tokens[2].sha256',
      /duplicate subject token/,
    );
  });

  test('a subject token without audiences', () => {
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: SHA_A, subject: 's' }] },
      'policy.subject_tokens[0].audiences',
      /must list at least one audience/,
    );
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [] }] },
      'policy.subject_tokens[0].audiences',
      /at least one audience/,
    );
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [AUDIENCE, ''] }] },
      'policy.subject_tokens[0].audiences[1]',
      /non-empty string/,
    );
  });

  test('a subject token without subject', () => {
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: SHA_A, audiences: [AUDIENCE] }] },
      'policy.subject_tokens[0].subject',
      /non-empty string/,
    );
  });

  test('RFC 6749 §3.3 a scope that is not a scope token', () => {
    for (const bad of ['read write', 'quote"d', 'back\\slash', 'é']) {
      assertPolicyError(
        { ...minimal(), subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [AUDIENCE], scopes: ['ok', bad] }] },
        'policy.subject_tokens[0].scopes[1]',
        /is not an RFC 6749 §3.3 scope token/,
      );
    }
  });

  test('a bad client_certificate matcher on a subject token', () => {
    assertPolicyError(
      {
        ...minimal(),
        subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [AUDIENCE], client_certificate: { 'x5t#S256': 'short' } }],
      },
      'policy.subject_tokens[0].client_certificate.x5t#S256',
    );
  });

  test('grant_types and token_types must be lists of strings', () => {
    assertPolicyError(
      { clients: [{ client_id: 'a', certificate: { subject_dn: 'CN=a' }, grant_types: GRANT_TYPE_TOKEN_EXCHANGE }] },
      'policy.clients[0].grant_types',
      /must be a list/,
    );
    assertPolicyError(
      { ...minimal(), subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [AUDIENCE], token_types: [1] }] },
      'policy.subject_tokens[0].token_types[0]',
      /non-empty string/,
    );
  });
});

describe('parsePolicy: defaults and normal form', () => {
  test('RFC 8693 grant_types defaults to token exchange; token_types to access_token; scopes to none', () => {
    const policy = parsePolicy({ ...minimal(), subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [AUDIENCE] }] });
    assert.deepEqual(policy.clients[0]?.grantTypes, [GRANT_TYPE_TOKEN_EXCHANGE]);
    assert.deepEqual(policy.subjectTokens[0]?.tokenTypes, [TOKEN_TYPE_ACCESS_TOKEN]);
    assert.deepEqual(policy.subjectTokens[0]?.scopes, []);
    assert.equal(policy.subjectTokens[0]?.clientCertificate, undefined);
  });

  test('subject_tokens may be absent', () => {
    assert.deepEqual(parsePolicy(minimal()).subjectTokens, []);
  });

  test('explicit grant_types (even none) and token_types are kept', () => {
    const policy = parsePolicy({
      clients: [
        { client_id: 'a', certificate: { subject_dn: 'CN=a' }, grant_types: [] },
        { client_id: 'b', certificate: { subject_dn: 'CN=b' }, grant_types: [GRANT_TYPE_TOKEN_EXCHANGE] },
      ],
      subject_tokens: [{ sha256: SHA_A, subject: 's', audiences: [AUDIENCE], token_types: [TOKEN_TYPE_JWT] }],
    });
    assert.deepEqual(policy.clients[0]?.grantTypes, []);
    assert.deepEqual(policy.clients[1]?.grantTypes, [GRANT_TYPE_TOKEN_EXCHANGE]);
    assert.deepEqual(policy.subjectTokens[0]?.tokenTypes, [TOKEN_TYPE_JWT]);
  });

  test('OpenSSL print form of a subject DN (spaces around =) is accepted', () => {
    const policy = parsePolicy({ clients: [{ client_id: 'a', certificate: { subject_dn: 'CN = alice, O = certbound dev' } }] });
    assert.deepEqual(policy.clients[0]?.certificate, { subject_dn: 'CN=alice, O=certbound dev' });
  });

  test('sha256 is stored lower-case', () => {
    const policy = parsePolicy({
      ...minimal(),
      subject_tokens: [{ sha256: 'ABCDEF'.padEnd(64, '0'), subject: 's', audiences: [AUDIENCE] }],
    });
    assert.equal(policy.subjectTokens[0]?.sha256, 'abcdef'.padEnd(64, '0'));
  });

  test('RFC 4514 subject_dn is stored in canonical form', () => {
    const policy = parsePolicy({ clients: [{ client_id: 'a', certificate: { subject_dn: 'CN=alice,O=certbound dev' } }] });
    assert.deepEqual(policy.clients[0]?.certificate, { subject_dn: 'CN=alice, O=certbound dev' });
  });

  test('hashSubjectToken is the lower-case hex SHA-256 of the UTF-8 token', () => {
    assert.equal(hashSubjectToken(ALICE_SECRET), sha256Hex(ALICE_SECRET));
    assert.equal(
      hashSubjectToken('é'),
      createHash('sha256')
        .update(Buffer.from([0xc3, 0xa9]))
        .digest('hex'),
    );
    // FIPS 180-2 known answer: SHA-256("abc").
    assert.equal(hashSubjectToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('policy decisions on real certificates', () => {
  let pki: TestPki;
  let alice: CertificateFacts;
  let bob: CertificateFacts;
  let server: CertificateFacts;
  let stranger: CertificateFacts;
  let mailer: CertificateFacts;
  let policy: Policy;

  before(async () => {
    pki = await createTestPki();
    const mailerCert = await issueCertificate(pki.ca, { commonName: 'mailer', usage: 'client', emails: ['mailer@domain.com'] });
    alice = readCertificateFacts(pki.alice.der);
    bob = readCertificateFacts(pki.bob.der);
    server = readCertificateFacts(pki.server.der);
    stranger = readCertificateFacts(pki.stranger.der);
    mailer = readCertificateFacts(mailerCert.der);
    policy = parsePolicy({
      clients: [
        { client_id: 'alice', certificate: { subject_dn: 'CN=alice,O=certbound dev' } },
        { client_id: 'bob', certificate: { 'x5t#S256': pki.bob.thumbprint } },
        { client_id: 'server', certificate: { san_dns: 'SERVER.domain.com' } },
        { client_id: 'mailer', certificate: { san_email: 'mailer@domain.com' } },
      ],
      subject_tokens: [
        {
          sha256: hashSubjectToken(ALICE_SECRET),
          subject: 'alice',
          client_certificate: { 'x5t#S256': pki.alice.thumbprint },
          audiences: [AUDIENCE, OTHER_AUDIENCE],
          scopes: ['read', 'write'],
        },
        {
          sha256: hashSubjectToken(CAROL_SECRET),
          subject: 'carol',
          audiences: [AUDIENCE],
          token_types: [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT],
        },
      ],
    });
  });

  describe('findClient', () => {
    test('RFC 8705 §2.1.2 tls_client_auth_subject_dn (configured without spaces)', () => {
      assert.equal(findClient(policy, alice)?.clientId, 'alice');
    });

    test('RFC 8705 §2.1 x5t#S256 pins one certificate', () => {
      assert.equal(findClient(policy, bob)?.clientId, 'bob');
    });

    test('RFC 8705 §2.1.2 tls_client_auth_san_dns matches case-insensitively', () => {
      assert.equal(findClient(policy, server)?.clientId, 'server');
    });

    test('RFC 8705 §2.1.2 tls_client_auth_san_email', () => {
      assert.equal(findClient(policy, mailer)?.clientId, 'mailer');
    });

    test('RFC 8705 §2.1.2 tls_client_auth_san_uri', () => {
      const byUri = parsePolicy({ clients: [{ client_id: 'spiffe-alice', certificate: { san_uri: 'spiffe://domain.com/client/alice' } }] });
      assert.equal(findClient(byUri, alice)?.clientId, 'spiffe-alice');
      assert.equal(findClient(byUri, bob), undefined);
      const wrongUri = parsePolicy({ clients: [{ client_id: 'x', certificate: { san_uri: 'spiffe://domain.com/client/bob' } }] });
      assert.equal(findClient(wrongUri, alice), undefined);
    });

    test('RFC 8705 §2.1.2 tls_client_auth_san_ip', () => {
      const byIp = parsePolicy({ clients: [{ client_id: 'local', certificate: { san_ip: '127.0.0.1' } }] });
      assert.equal(findClient(byIp, server)?.clientId, 'local');
      assert.equal(findClient(byIp, alice), undefined);
    });

    test('a certificate matching no registration is undefined', () => {
      const onlyBob = parsePolicy({ clients: [{ client_id: 'bob', certificate: { 'x5t#S256': pki.bob.thumbprint } }] });
      assert.equal(findClient(onlyBob, alice), undefined);
      const otherEmail = parsePolicy({ clients: [{ client_id: 'x', certificate: { san_email: 'bob@domain.com' } }] });
      assert.equal(findClient(otherEmail, alice), undefined);
      const otherDns = parsePolicy({ clients: [{ client_id: 'x', certificate: { san_dns: 'evil.domain.com' } }] });
      assert.equal(findClient(otherDns, server), undefined);
    });

    test('RFC 8705 §2.1.2 a mistyped subject_dn ("alice") never authenticates a CA-issued certificate with an empty subject', async () => {
      // RFC 5280 §4.2.1.6 allows an empty subject when the SAN extension is present.
      const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const now = Date.now();
      const emptySubject = await x509.X509CertificateGenerator.create({
        serialNumber: '0badd00d',
        subject: '',
        issuer: pki.ca.certificate.subjectName,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        signingAlgorithm: EC_P256,
        publicKey: keys.publicKey,
        signingKey: pki.ca.signingKeys.privateKey,
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'anyone.domain.com' }], true)],
      });
      const facts = readCertificateFacts(new Uint8Array(emptySubject.rawData));
      assert.equal(facts.subjectDn, '');
      let typo: Policy;
      try {
        typo = parsePolicy({ clients: [{ client_id: 'alice', certificate: { subject_dn: 'alice' } }] });
      } catch (error) {
        assert.ok(error instanceof PolicyError, 'refusing the policy is the correct outcome');
        return;
      }
      assert.equal(
        findClient(typo, facts),
        undefined,
        `policy ${JSON.stringify(typo.clients[0]?.certificate)} authenticated an empty-subject certificate`,
      );
    });

    test('the stranger (same DN as alice, other CA) still matches by DN: DN matching relies on the TLS trust anchor', () => {
      // Documented behaviour of subject_dn matching: the certificate chain is checked by TLS, not here.
      assert.equal(stranger.subjectDn, alice.subjectDn);
      assert.equal(findClient(policy, stranger)?.clientId, 'alice');
      const pinned = parsePolicy({ clients: [{ client_id: 'alice', certificate: { 'x5t#S256': pki.alice.thumbprint } }] });
      assert.equal(findClient(pinned, stranger), undefined);
    });
  });

  describe('authenticateSubjectToken', () => {
    test('RFC 8693 §2.2.2 an unknown subject token is CB_SUBJECT_TOKEN_INVALID (invalid_grant)', () => {
      assert.throws(() => authenticateSubjectToken(policy, 'not-a-known-secret', TOKEN_TYPE_ACCESS_TOKEN, alice), {
        code: 'CB_SUBJECT_TOKEN_INVALID',
        description: 'subject_token is not valid',
      });
    });

    test('RFC 8693 §2.1 a subject_token_type not accepted for the token is CB_TOKEN_TYPE_UNSUPPORTED', () => {
      assert.throws(() => authenticateSubjectToken(policy, ALICE_SECRET, TOKEN_TYPE_JWT, alice), {
        code: 'CB_TOKEN_TYPE_UNSUPPORTED',
        description: `subject_token_type ${TOKEN_TYPE_JWT} is not accepted for this subject token`,
      });
    });

    test('RFC 8705 §3 a subject token pinned to another certificate is CB_SUBJECT_TOKEN_NOT_FOR_CLIENT', () => {
      for (const other of [bob, stranger]) {
        assert.throws(() => authenticateSubjectToken(policy, ALICE_SECRET, TOKEN_TYPE_ACCESS_TOKEN, other), {
          code: 'CB_SUBJECT_TOKEN_NOT_FOR_CLIENT',
          description: 'subject_token was not issued to this client certificate',
          detail: `subject=alice presented by x5t#S256=${other.thumbprint}`,
        });
      }
    });

    test('the pinned certificate authenticates the subject', () => {
      const credential = authenticateSubjectToken(policy, ALICE_SECRET, TOKEN_TYPE_ACCESS_TOKEN, alice);
      assert.equal(credential.subject, 'alice');
      assert.equal(credential.sha256, sha256Hex(ALICE_SECRET));
    });

    test('an unpinned subject token may be presented by any certificate, with any listed token type', () => {
      assert.equal(authenticateSubjectToken(policy, CAROL_SECRET, TOKEN_TYPE_ACCESS_TOKEN, bob).subject, 'carol');
      assert.equal(authenticateSubjectToken(policy, CAROL_SECRET, TOKEN_TYPE_JWT, stranger).subject, 'carol');
    });
  });

  describe('authorizeAudiences / authorizeScopes', () => {
    let credential: SubjectCredential;
    before(() => {
      credential = authenticateSubjectToken(policy, ALICE_SECRET, TOKEN_TYPE_ACCESS_TOKEN, alice);
    });

    test('RFC 8693 §2.2.2 allowed audiences are granted, de-duplicated, in order', () => {
      assert.deepEqual(authorizeAudiences(credential, [AUDIENCE]), [AUDIENCE]);
      assert.deepEqual(authorizeAudiences(credential, [OTHER_AUDIENCE, AUDIENCE, OTHER_AUDIENCE]), [OTHER_AUDIENCE, AUDIENCE]);
    });

    test('RFC 8693 §2.2.2 any audience outside the policy is CB_TARGET_NOT_ALLOWED (invalid_target), not dropped', () => {
      assert.throws(() => authorizeAudiences(credential, [AUDIENCE, 'https://evil.domain.com']), {
        code: 'CB_TARGET_NOT_ALLOWED',
        description: 'not allowed to request a token for https://evil.domain.com',
      });
      assert.throws(
        () => authorizeAudiences(credential, ['https://server.domain.com:8443/']),
        { code: 'CB_TARGET_NOT_ALLOWED' },
        'exact match only',
      );
    });

    test('RFC 6749 §3.3 allowed scopes are granted; none requested, none granted', () => {
      assert.deepEqual(authorizeScopes(credential, ['write', 'read']), ['write', 'read']);
      assert.deepEqual(authorizeScopes(credential, []), []);
    });

    test('RFC 6749 §5.2 a scope outside the policy is CB_SCOPE_NOT_ALLOWED (invalid_scope)', () => {
      assert.throws(() => authorizeScopes(credential, ['read', 'admin', 'root']), {
        code: 'CB_SCOPE_NOT_ALLOWED',
        description: 'scope not allowed: admin root',
      });
      assert.throws(() => authorizeScopes(credential, ['READ']), { code: 'CB_SCOPE_NOT_ALLOWED' }, 'scopes are case-sensitive');
    });
  });
});

describe('parsePolicy: clients, issuance policy and trusted issuers name the path of each problem', () => {
  const client = (extra: Record<string, unknown>) => ({ clients: [{ client_id: 'c', certificate: { subject_dn: 'CN=c' }, ...extra }] });
  const selfSigned = (extra: Record<string, unknown>) => ({
    clients: [{ client_id: 's', auth_method: 'self_signed_tls_client_auth', ...extra }],
  });
  const issuer = (extra: Record<string, unknown>) => ({
    ...minimal(),
    trusted_issuers: [
      {
        issuer: 'https://idp.example',
        jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] },
        audiences: ['sts'],
        subjects: [{ subject: '*', audiences: ['a'] }],
        ...extra,
      },
    ],
  });
  const cases: Array<[string, unknown, string, RegExp]> = [
    [
      'an unknown auth_method',
      client({ auth_method: 'private_key_jwt' }),
      'policy.clients[0].auth_method',
      /tls_client_auth .* or self_signed_tls_client_auth/,
    ],
    [
      'certificates on a PKI client',
      client({ certificates: ['x'] }),
      'policy.clients[0]',
      /certificates and jwks are for self_signed_tls_client_auth/,
    ],
    [
      'a self-signed client with a matcher',
      selfSigned({ certificate: { subject_dn: 'CN=s' } }),
      'policy.clients[0].certificate',
      /registers whole certificates/,
    ],
    ['a self-signed client without certificates', selfSigned({}), 'policy.clients[0]', /must register at least one certificate/],
    [
      'a self-signed thumbprint of the wrong shape',
      selfSigned({ certificates: ['abc='] }),
      'policy.clients[0].certificates[0]',
      /43 characters/,
    ],
    [
      'a self-signed JWKS without x5c',
      selfSigned({ jwks: { keys: [{ kty: 'EC' }] } }),
      'policy.clients[0].jwks',
      /no key has an x5c certificate/,
    ],
    [
      'a bad SPIFFE pattern',
      client({ certificate: { spiffe_id: 'spiffe://domain.com/a*' } }),
      'policy.clients[0].certificate.spiffe_id',
      /whole segment/,
    ],
    [
      'client_id_from spiffe_id without a spiffe_id matcher',
      client({ client_id_from: 'spiffe_id' }),
      'policy.clients[0]',
      /needs certificate: \{ spiffe_id/,
    ],
    ['a zero max_token_lifetime', client({ max_token_lifetime: 0 }), 'policy.clients[0].max_token_lifetime', /from 1 to 86400/],
    [
      'an unknown requested token type',
      client({ requested_token_types: ['urn:ietf:params:oauth:token-type:saml2'] }),
      'policy.clients[0].requested_token_types[0]',
      /must be one of/,
    ],
    ['narrow_scopes that is not a boolean', client({ narrow_scopes: 'yes' }), 'policy.clients[0].narrow_scopes', /true or false/],
    ['narrow_scopes left empty (null)', client({ narrow_scopes: null }), 'policy.clients[0].narrow_scopes', /true or false/],
    ['introspection left empty (null)', client({ introspection: null }), 'policy.clients[0].introspection', /true or false/],
    [
      'an x5c that is not a certificate',
      selfSigned({ jwks: { keys: [{ kty: 'EC', x5c: ['AAAA'] }] } }),
      'policy.clients[0].jwks.keys[0].x5c[0]',
      /is not a certificate/,
    ],
    ['both jwks and jwks_uri', issuer({ jwks_uri: 'https://idp.example/jwks' }), 'policy.trusted_issuers[0]', /exactly one of jwks/],
    [
      'a plain-http jwks_uri',
      {
        ...minimal(),
        trusted_issuers: [
          {
            issuer: 'https://idp.example',
            jwks_uri: 'http://idp.example/jwks',
            audiences: ['sts'],
            subjects: [{ subject: '*', audiences: ['a'] }],
          },
        ],
      },
      'policy.trusted_issuers[0].jwks_uri',
      /https URL/,
    ],
    [
      'a private key in the issuer JWKS',
      issuer({ jwks: { keys: [{ kty: 'EC', d: 'secret' }] } }),
      'policy.trusted_issuers[0].jwks.keys[0]',
      /public asymmetric key/,
    ],
    ['no audiences', issuer({ audiences: [] }), 'policy.trusted_issuers[0].audiences', /at least one audience/],
    ['an HMAC algorithm', issuer({ algorithms: ['HS256'] }), 'policy.trusted_issuers[0].algorithms[0]', /asymmetric/],
    [
      'copying a claim the STS sets',
      issuer({ copy_claims: ['cnf'] }),
      'policy.trusted_issuers[0].copy_claims[0]',
      /cnf is set by the STS itself/,
    ],
    ['an unknown token type', issuer({ token_types: ['saml'] }), 'policy.trusted_issuers[0].token_types[0]', /jwt, id_token, access_token/],
    ['no subject rules', issuer({ subjects: [] }), 'policy.trusted_issuers[0].subjects', /at least one subject rule/],
    [
      'a subject rule without audiences',
      issuer({ subjects: [{ subject: '*' }] }),
      'policy.trusted_issuers[0].subjects[0].audiences',
      /at least one audience/,
    ],
  ];
  for (const [name, raw, path, problem] of cases) {
    test(name, () => assertPolicyError(raw, path, problem));
  }

  test('a duplicate issuer', () => {
    const doc = issuer({});
    const list = doc.trusted_issuers as unknown[];
    assertPolicyError({ ...doc, trusted_issuers: [list[0], list[0]] }, 'policy.trusted_issuers[1].issuer', /duplicate issuer/);
  });
});
