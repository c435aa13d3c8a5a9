import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PARAMETERS, parseTokenRequest } from '../../src/core/token-request.js';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN } from '../../src/core/rfc.js';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

const form = (text: string): Buffer => Buffer.from(text, 'utf8');
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

const invalid = { code: 'CB_REQUEST_INVALID' } as const;
const unsupported = {
  code: 'CB_CONTENT_TYPE_UNSUPPORTED',
  description: 'content type must be application/x-www-form-urlencoded or application/json',
} as const;

describe('parseTokenRequest: media types', () => {
  test('RFC 6749 §3.2 / RFC 8693 §2.1 form body is parsed', () => {
    const body = new URLSearchParams({
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: 'iamtheeggman',
      subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      scope: 'read write',
    }).toString();
    const params = parseTokenRequest(FORM, form(body));
    assert.equal(params.required('grant_type'), GRANT_TYPE_TOKEN_EXCHANGE);
    assert.equal(params.required('subject_token'), 'iamtheeggman');
    assert.equal(params.required('subject_token_type'), TOKEN_TYPE_ACCESS_TOKEN);
    assert.equal(params.optional('scope'), 'read write');
    assert.deepEqual(params.names().sort(), ['grant_type', 'scope', 'subject_token', 'subject_token_type']);
    assert.equal(params.has('scope'), true);
    assert.equal(params.has('audience'), false);
  });

  test('form values are percent- and plus-decoded', () => {
    const params = parseTokenRequest(FORM, form('scope=read+write&audience=https%3A%2F%2Fserver.domain.com%3A8443&x=%C3%A9'));
    assert.equal(params.optional('scope'), 'read write');
    assert.deepEqual(params.list('audience'), ['https://server.domain.com:8443']);
    assert.equal(params.optional('x'), 'é');
  });

  test('JSON body with string values is parsed', () => {
    const params = parseTokenRequest(JSON_TYPE, json({ grant_type: GRANT_TYPE_TOKEN_EXCHANGE, subject_token: 's', scope: 'read' }));
    assert.equal(params.required('grant_type'), GRANT_TYPE_TOKEN_EXCHANGE);
    assert.equal(params.required('subject_token'), 's');
    assert.equal(params.optional('scope'), 'read');
  });

  test('RFC 9110 §8.3.1 media type is case-insensitive and charset=utf-8 is accepted (any case)', () => {
    for (const type of [`${FORM}; charset=utf-8`, `${FORM};charset=UTF-8`, 'Application/X-WWW-Form-Urlencoded']) {
      assert.equal(parseTokenRequest(type, form('grant_type=x')).required('grant_type'), 'x', type);
    }
    assert.equal(parseTokenRequest(`${JSON_TYPE}; charset=utf-8`, json({ grant_type: 'x' })).required('grant_type'), 'x');
  });

  test('another charset is refused with CB_REQUEST_INVALID', () => {
    assert.throws(() => parseTokenRequest(`${FORM}; charset=iso-8859-1`, form('grant_type=x')), {
      code: 'CB_REQUEST_INVALID',
      description: 'only the UTF-8 charset is accepted',
    });
    assert.throws(() => parseTokenRequest(`${JSON_TYPE}; charset=utf-16`, json({ grant_type: 'x' })), invalid);
  });

  test('text/plain is CB_CONTENT_TYPE_UNSUPPORTED', () => {
    assert.throws(() => parseTokenRequest('text/plain', form('grant_type=x')), unsupported);
    assert.throws(() => parseTokenRequest('multipart/form-data; boundary=x', form('grant_type=x')), unsupported);
  });

  test('a missing or unparsable content type is CB_CONTENT_TYPE_UNSUPPORTED', () => {
    assert.throws(() => parseTokenRequest(undefined, form('grant_type=x')), unsupported);
    assert.throws(() => parseTokenRequest('', form('grant_type=x')), unsupported);
    assert.throws(() => parseTokenRequest('not a media type', form('grant_type=x')), unsupported);
  });
});

describe('parseTokenRequest: parameters', () => {
  test('RFC 6749 §3.2 a non-repeatable parameter sent twice in a form is CB_REQUEST_INVALID', () => {
    assert.throws(() => parseTokenRequest(FORM, form('grant_type=a&grant_type=b')), {
      code: 'CB_REQUEST_INVALID',
      description: 'parameter grant_type must not be repeated',
    });
    assert.throws(() => parseTokenRequest(FORM, form('scope=read&scope=write')), {
      code: 'CB_REQUEST_INVALID',
      description: 'parameter scope must not be repeated',
    });
    assert.throws(() => parseTokenRequest(FORM, form('subject_token=a&subject_token=a')), invalid, 'even with the same value');
  });

  test('a JSON array for a non-repeatable parameter (scope) is CB_REQUEST_INVALID', () => {
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ scope: ['read', 'write'] })), {
      code: 'CB_REQUEST_INVALID',
      description: 'parameter scope must be a string',
    });
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ grant_type: [GRANT_TYPE_TOKEN_EXCHANGE] })), invalid);
  });

  test('RFC 8693 §2.1 audience and resource may repeat in a form, order kept', () => {
    const params = parseTokenRequest(FORM, form('audience=a1&resource=https%3A%2F%2Fr1&audience=a2&resource=https%3A%2F%2Fr2'));
    assert.deepEqual(params.list('audience'), ['a1', 'a2']);
    assert.deepEqual(params.list('resource'), ['https://r1', 'https://r2']);
  });

  test('RFC 8693 §2.1 audience and resource may be JSON arrays of strings (or single strings)', () => {
    const params = parseTokenRequest(JSON_TYPE, json({ audience: ['a1', 'a2'], resource: 'https://r1' }));
    assert.deepEqual(params.list('audience'), ['a1', 'a2']);
    assert.deepEqual(params.list('resource'), ['https://r1']);
  });

  test('a JSON array for audience must hold only strings', () => {
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ audience: ['a', 1] })), {
      code: 'CB_REQUEST_INVALID',
      description: 'parameter audience must be a string or an array of strings',
    });
  });

  test('optional() of a repeated repeatable parameter is refused (use list())', () => {
    const params = parseTokenRequest(FORM, form('audience=a1&audience=a2'));
    assert.throws(() => params.optional('audience'), {
      code: 'CB_REQUEST_INVALID',
      description: 'parameter audience must not be repeated',
    });
    assert.throws(() => params.required('audience'), invalid);
  });

  test('list() drops empty values and is empty for an absent parameter', () => {
    const params = parseTokenRequest(FORM, form('audience=&audience=a&resource='));
    assert.deepEqual(params.list('audience'), ['a']);
    assert.deepEqual(params.list('resource'), []);
    assert.deepEqual(params.list('nothing'), []);
  });

  test('invalid UTF-8 bytes are CB_REQUEST_INVALID', () => {
    const bad = Buffer.concat([Buffer.from('grant_type=', 'latin1'), Buffer.from([0xc3, 0x28, 0xff])]);
    assert.throws(() => parseTokenRequest(FORM, bad), { code: 'CB_REQUEST_INVALID', description: 'request body is not valid UTF-8' });
    const badJson = Buffer.concat([Buffer.from('{"grant_type":"', 'latin1'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}', 'latin1')]);
    assert.throws(() => parseTokenRequest(JSON_TYPE, badJson), {
      code: 'CB_REQUEST_INVALID',
      description: 'request body is not valid UTF-8',
    });
  });

  test('malformed JSON is CB_REQUEST_INVALID', () => {
    assert.throws(() => parseTokenRequest(JSON_TYPE, form('{"grant_type":')), {
      code: 'CB_REQUEST_INVALID',
      description: 'request body is not valid JSON',
    });
    assert.throws(() => parseTokenRequest(JSON_TYPE, form('')), invalid, 'an empty body is not JSON');
  });

  test('JSON that is not an object is CB_REQUEST_INVALID', () => {
    for (const text of ['[]', '["grant_type"]', '"grant_type"', '42', 'null', 'true']) {
      assert.throws(
        () => parseTokenRequest(JSON_TYPE, form(text)),
        { code: 'CB_REQUEST_INVALID', description: 'JSON request body must be an object' },
        text,
      );
    }
  });

  test('a nested object, number, boolean or null value in JSON is CB_REQUEST_INVALID', () => {
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ subject_token: { nested: 'x' } })), {
      code: 'CB_REQUEST_INVALID',
      description: 'parameter subject_token must be a string',
    });
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ audience: { a: 'b' } })), invalid);
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ audience: [['a']] })), invalid);
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ expires_in: 60 })), invalid);
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ flag: true })), invalid);
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ scope: null })), invalid);
  });

  test(`exactly MAX_PARAMETERS (${MAX_PARAMETERS}) distinct parameters are accepted`, () => {
    const names = Array.from({ length: MAX_PARAMETERS }, (_, i) => `p${i}`);
    const params = parseTokenRequest(FORM, form(names.map((n) => `${n}=v`).join('&')));
    assert.equal(params.names().length, MAX_PARAMETERS);
    const fromJson = parseTokenRequest(JSON_TYPE, json(Object.fromEntries(names.map((n) => [n, 'v']))));
    assert.equal(fromJson.names().length, MAX_PARAMETERS);
  });

  test('more than MAX_PARAMETERS distinct parameters are refused (form and JSON)', () => {
    const names = Array.from({ length: MAX_PARAMETERS + 1 }, (_, i) => `p${i}`);
    const description = `too many parameters (at most ${MAX_PARAMETERS})`;
    assert.throws(() => parseTokenRequest(FORM, form(names.map((n) => `${n}=v`).join('&'))), { code: 'CB_REQUEST_INVALID', description });
    assert.throws(() => parseTokenRequest(JSON_TYPE, json(Object.fromEntries(names.map((n) => [n, 'v'])))), {
      code: 'CB_REQUEST_INVALID',
      description,
    });
  });

  test('a form with a huge number of repeated values is refused', () => {
    const text = Array.from({ length: MAX_PARAMETERS * 4 + 1 }, () => 'audience=a').join('&');
    assert.throws(() => parseTokenRequest(FORM, form(text)), { code: 'CB_REQUEST_INVALID', description: 'too many parameters' });
  });

  test('RFC 6749 §3.1 required() of a missing parameter is CB_REQUEST_INVALID', () => {
    const params = parseTokenRequest(FORM, form('grant_type=x'));
    assert.throws(() => params.required('subject_token'), {
      code: 'CB_REQUEST_INVALID',
      description: 'missing required parameter subject_token',
    });
  });

  test('RFC 6749 §3.1 required() of an empty value is CB_REQUEST_INVALID (empty counts as absent)', () => {
    assert.throws(() => parseTokenRequest(FORM, form('subject_token=&grant_type=x')).required('subject_token'), {
      code: 'CB_REQUEST_INVALID',
      description: 'missing required parameter subject_token',
    });
    assert.throws(() => parseTokenRequest(JSON_TYPE, json({ subject_token: '' })).required('subject_token'), {
      code: 'CB_REQUEST_INVALID',
      description: 'missing required parameter subject_token',
    });
  });

  test('RFC 6749 §3.1 optional() returns undefined for an empty value and for an absent parameter', () => {
    const params = parseTokenRequest(FORM, form('scope=&grant_type=x'));
    assert.equal(params.has('scope'), true);
    assert.equal(params.optional('scope'), undefined);
    assert.equal(params.optional('absent'), undefined);
    assert.equal(parseTokenRequest(JSON_TYPE, json({ scope: '' })).optional('scope'), undefined);
  });

  test('an empty form body has no parameters', () => {
    const params = parseTokenRequest(FORM, Buffer.alloc(0));
    assert.deepEqual(params.names(), []);
  });
});
