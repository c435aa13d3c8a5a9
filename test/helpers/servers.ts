import type { TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { parsePolicy } from '../../src/config/policy.js';
import { hashSubjectToken } from '../../src/core/policy/authorize.js';
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../../src/core/rfc.js';
import { createSigningKey, type SigningKey } from '../../src/core/signing/signer.js';
import { createStsServer, type StsEvent, type StsOptions } from '../../src/sts/server.js';
import type { IssuedCertificate } from '../../src/pki/generate.js';
import type { TestPki } from './pki.js';

export const ISSUER = 'https://sts.domain.com';
export const AUDIENCE = 'https://server.domain.com:8443';
export const ALICE_SECRET = 'iamtheeggman';
export const BOB_SECRET = 'iamthewalrus';
export const UNPINNED_SECRET = 'goo-goo-g-joob';

/** The dev policy, plus a subject token pinned to no certificate. */
export function testPolicy(pki: TestPki) {
  return parsePolicy({
    clients: [
      { client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } },
      { client_id: 'bob', certificate: { 'x5t#S256': pki.bob.thumbprint } },
    ],
    subject_tokens: [
      {
        sha256: hashSubjectToken(ALICE_SECRET),
        subject: 'alice',
        client_certificate: { 'x5t#S256': pki.alice.thumbprint },
        audiences: [AUDIENCE, 'https://other.domain.com'],
        scopes: ['read', 'write'],
      },
      {
        sha256: hashSubjectToken(BOB_SECRET),
        subject: 'bob',
        client_certificate: { subject_dn: 'CN=bob, O=certbound dev' },
        audiences: [AUDIENCE],
        scopes: ['read'],
      },
      { sha256: hashSubjectToken(UNPINNED_SECRET), subject: 'carol', audiences: [AUDIENCE] },
    ],
  });
}

export interface RunningSts {
  url: string;
  signingKey: SigningKey;
  events: StsEvent[];
  /** The node:https server underneath, for tests that wait on its events ('request', ...). */
  server: ReturnType<typeof createStsServer>['server'];
}

/** Start an STS on 127.0.0.1:0 for one test file; closed with the test. */
export async function startSts(
  t: TestContext | { after(fn: () => unknown): void },
  pki: TestPki,
  overrides: Partial<StsOptions> = {},
): Promise<RunningSts> {
  const signingKey = (overrides.signingKey as SigningKey | undefined) ?? (await createSigningKey({ privateKey: pki.jwtKeyPem }));
  const events: StsEvent[] = [];
  const sts = createStsServer({
    issuer: ISSUER,
    signingKey,
    policy: testPolicy(pki),
    tls: { ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem },
    onEvent: (event) => events.push(event),
    ...overrides,
  });
  const url = await sts.listen(0, '127.0.0.1');
  t.after(() => sts.close());
  return { url: url.origin, signingKey, events, server: sts.server };
}

/** An undici agent presenting `client` (or no certificate), trusting the test CA; closed with the test. */
export function agentFor(t: { after(fn: () => unknown): void }, pki: TestPki, client?: IssuedCertificate): Agent {
  const agent =
    client === undefined
      ? new Agent({ connect: { ca: pki.ca.certPem } })
      : createMtlsAgent({ ca: pki.ca.certPem, cert: client.certPem, key: client.keyPem });
  t.after(() => agent.close());
  return agent;
}

export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export async function postToken(
  agent: Agent,
  stsUrl: string,
  body: Record<string, string | string[]> | string,
  contentType = 'application/x-www-form-urlencoded',
): Promise<JsonResponse> {
  let payload: string;
  if (typeof body === 'string') payload = body;
  else if (contentType.startsWith('application/json')) payload = JSON.stringify(body);
  else {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(body)) for (const item of [value].flat()) form.append(name, item);
    payload = form.toString();
  }
  const response = await request(`${stsUrl}/token`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': contentType },
    body: payload,
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text.length === 0 ? {} : JSON.parse(text) };
}

export function exchangeRequest(extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return {
    grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
    subject_token: ALICE_SECRET,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: AUDIENCE,
    ...extra,
  };
}
