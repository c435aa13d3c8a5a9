import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  CertboundError,
  ERROR_OUTCOMES,
  GrpcStatus,
  isCertboundError,
  toCertboundError,
  type CertboundErrorCode,
} from '../../src/core/errors.js';

const codes = Object.keys(ERROR_OUTCOMES) as CertboundErrorCode[];
const grpcNumbers = new Set<number>(Object.values(GrpcStatus));

/** RFC 6749 §5.2, RFC 6750 §3.1 and RFC 8693 §2.2.2 error codes. */
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_token',
  'insufficient_scope',
  'server_error',
  // RFC 6749 §4.1.2.1, registered in the OAuth Extensions Error registry; used for 429 and 503.
  'temporarily_unavailable',
]);

describe('ERROR_OUTCOMES', () => {
  test('every code maps to an HTTP 4xx/5xx status and a gRPC status number', () => {
    assert.ok(codes.length > 0);
    for (const code of codes) {
      const outcome = ERROR_OUTCOMES[code];
      assert.ok(Number.isInteger(outcome.http) && outcome.http >= 400 && outcome.http <= 599, `${code} http ${outcome.http}`);
      assert.ok(Number.isInteger(outcome.grpc) && outcome.grpc >= 1 && outcome.grpc <= 16, `${code} grpc ${outcome.grpc}`);
      assert.ok(grpcNumbers.has(outcome.grpc), `${code} grpc ${outcome.grpc} is one of GrpcStatus`);
    }
  });

  test('every code is CB_ prefixed upper snake case', () => {
    for (const code of codes) assert.match(code, /^CB_[A-Z0-9_]+$/);
  });

  test('OAuth error strings are registered RFC 6749/6750/8693 codes (or null)', () => {
    for (const code of codes) {
      const { oauth } = ERROR_OUTCOMES[code];
      assert.ok(oauth === null || OAUTH_ERRORS.has(oauth), `${code} oauth ${String(oauth)}`);
    }
  });

  test('RFC 6750 §3.1 invalid_token is 401, insufficient_scope 403, invalid_request 400/413/415', () => {
    for (const code of codes) {
      const { oauth, http } = ERROR_OUTCOMES[code];
      if (oauth === 'invalid_token') assert.equal(http, 401, code);
      if (oauth === 'insufficient_scope') assert.equal(http, 403, code);
      if (oauth === 'invalid_request') assert.ok([400, 413, 415].includes(http), code);
      if (oauth === 'invalid_client') assert.equal(http, 401, code);
    }
  });

  test('RFC 6749 §5.2 token endpoint errors other than invalid_client are 400', () => {
    // invalid_grant is not in the table: RFC 8693 §2.2.2 makes subject-token refusals invalid_request
    // (the STS's subjectTokenError option renders them as invalid_grant; see test/integration/sts).
    for (const oauthError of ['unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_target']) {
      const matching = codes.filter((code) => ERROR_OUTCOMES[code].oauth === oauthError);
      assert.ok(matching.length > 0, oauthError);
      for (const code of matching) assert.equal(ERROR_OUTCOMES[code].http, 400, code);
    }
  });

  test('the codes the core throws are all in the table', () => {
    for (const code of [
      'CB_TOKEN_MISSING',
      'CB_AUTHORIZATION_MALFORMED',
      'CB_CLIENT_CERT_MISSING',
      'CB_CNF_MISSING',
      'CB_CNF_MALFORMED',
      'CB_CNF_MISMATCH',
      'CB_JWKS_UNAVAILABLE',
      'CB_REQUEST_INVALID',
      'CB_CONTENT_TYPE_UNSUPPORTED',
      'CB_SUBJECT_TOKEN_INVALID',
      'CB_SUBJECT_TOKEN_NOT_FOR_CLIENT',
      'CB_TARGET_NOT_ALLOWED',
      'CB_SCOPE_NOT_ALLOWED',
      'CB_INTERNAL',
    ]) {
      assert.ok(code in ERROR_OUTCOMES, code);
    }
    assert.deepEqual(ERROR_OUTCOMES.CB_INTERNAL, { oauth: 'server_error', http: 500, grpc: GrpcStatus.INTERNAL });
    assert.equal(ERROR_OUTCOMES.CB_JWKS_UNAVAILABLE.http, 503);
  });
});

describe('CertboundError', () => {
  test('carries code, description, detail, reason and its outcome', () => {
    const cause = new Error('underlying');
    const error = new CertboundError('CB_CNF_MISMATCH', {
      description: 'bound elsewhere',
      detail: 'x5t#S256=abc',
      reason: 'mismatch',
      cause,
    });
    assert.equal(error.code, 'CB_CNF_MISMATCH');
    assert.equal(error.description, 'bound elsewhere');
    assert.equal(error.message, 'bound elsewhere');
    assert.equal(error.detail, 'x5t#S256=abc');
    assert.equal(error.reason, 'mismatch');
    assert.equal(error.cause, cause);
    assert.equal(error.name, 'CertboundError');
    assert.deepEqual(error.outcome, ERROR_OUTCOMES.CB_CNF_MISMATCH);
  });

  test('instanceof CertboundError and Error work', () => {
    const error = new CertboundError('CB_TOKEN_MISSING', { description: 'no access token' });
    assert.ok(error instanceof CertboundError);
    assert.ok(error instanceof Error);
    assert.equal(isCertboundError(error), true);
    assert.equal('cause' in error, false, 'no cause property when none given');
  });

  test('instanceof is false for plain errors, look-alikes and non-objects', () => {
    assert.equal(new Error('x') instanceof CertboundError, false);
    assert.equal(({ code: 'CB_INTERNAL', description: 'x' } as unknown) instanceof CertboundError, false);
    assert.equal(isCertboundError(null), false);
    assert.equal(isCertboundError('CB_INTERNAL'), false);
    assert.equal(isCertboundError(undefined), false);
  });

  test('instanceof is branded, so it works across duplicate copies of the class', () => {
    const brand = Symbol.for('certbound.error');
    const foreign = Object.assign(new Error('from another install'), { [brand]: true, code: 'CB_INTERNAL' });
    assert.equal(foreign instanceof CertboundError, true);
  });
});

describe('toCertboundError', () => {
  test('an unknown Error becomes CB_INTERNAL with a bland description; the message is only in detail', () => {
    const boom = new Error('boom');
    const error = toCertboundError(boom);
    assert.ok(error instanceof CertboundError);
    assert.equal(error.code, 'CB_INTERNAL');
    assert.equal(error.description, 'internal error');
    assert.equal(error.message, 'internal error');
    assert.equal(error.description.includes('boom'), false);
    assert.equal(error.detail, 'Error: boom');
    assert.equal(error.cause, boom);
    assert.equal(error.outcome.http, 500);
  });

  test('a secret in an internal message never reaches description', () => {
    const error = toCertboundError(new TypeError('-----BEGIN PRIVATE KEY----- MIGHAgEA'));
    assert.equal(error.description, 'internal error');
    assert.equal(error.detail, 'TypeError: -----BEGIN PRIVATE KEY----- MIGHAgEA');
  });

  test('a thrown non-Error becomes CB_INTERNAL with its string form in detail', () => {
    const error = toCertboundError('string thrown');
    assert.equal(error.code, 'CB_INTERNAL');
    assert.equal(error.description, 'internal error');
    assert.equal(error.detail, 'string thrown');
    assert.equal(toCertboundError(undefined).detail, 'undefined');
  });

  test('a CertboundError is returned unchanged', () => {
    const original = new CertboundError('CB_SCOPE_NOT_ALLOWED', { description: 'scope not allowed: admin' });
    assert.equal(toCertboundError(original), original);
  });
});

test('docs/errors.md lists every code with the outcome the table gives it', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const wrong = Object.entries(ERROR_OUTCOMES).filter(([code, outcome]) => {
    const oauth = outcome.oauth === null ? '—' : `\`${outcome.oauth}\``;
    return (
      !doc.includes(`| \`${code}\` | ${oauth} | ${outcome.http} | `) ||
      !new RegExp(`\\| \`${code}\` \\|[^\\n]*\\(${outcome.grpc}\\)`).test(doc)
    );
  });
  assert.deepEqual(
    wrong.map(([code]) => code),
    [],
  );
});
