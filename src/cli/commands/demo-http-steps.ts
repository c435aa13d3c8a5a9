import { decodeJwt } from 'jose';
import { Agent, request } from 'undici';
import { createMtlsAgent } from '../../client/mtls-agent.js';
import { createTokenSource } from '../../client/token-source.js';
import { CertboundError } from '../../core/errors.js';
import { computeThumbprint } from '../../core/thumbprint.js';
import { DEV_AUDIENCE, DEV_SUBJECT_TOKENS } from '../../pki/dev-pki.js';
import type { DemoSetup } from './demo-setup.js';
import type { DemoSteps } from './demo-step.js';

/** The demo's HTTPS story: the STS exchange, the resource server, a replay, no certificate, tampering. */
export function httpSteps(world: DemoSetup): DemoSteps {
  const { sts, resource, ca, alice, bob } = world;
  const agents: Agent[] = [];
  const [aliceCert, aliceKey, bobCert, bobKey] = [alice.cert, alice.key, bob.cert, bob.key];
  const aliceAgent = createMtlsAgent({ ca, cert: aliceCert, key: aliceKey });
  const bobAgent = createMtlsAgent({ ca, cert: bobCert, key: bobKey });
  const anonymousAgent = new Agent({ connect: { ca } });
  agents.push(aliceAgent, bobAgent, anonymousAgent);
  const exchangeAs = (agent: Agent, subjectToken: string) =>
    createTokenSource({ stsUrl: sts, agent, subjectToken, audience: DEV_AUDIENCE, scope: 'read' }).getTokenResponse();
  const callResource = async (agent: Agent, token: string) => {
    const response = await request(`${resource}/`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
    const body = await response.body.text();
    return { status: response.statusCode, challenge: String(response.headers['www-authenticate'] ?? ''), body };
  };
  let aliceToken = '';

  return {
    close: async () => {
      await Promise.all(agents.map((agent) => agent.close()));
    },
    steps: [
      {
        title: 'alice exchanges her subject token at the STS over mTLS',
        expected: 'a JWT access token whose cnf x5t#S256 is the thumbprint of alice.crt',
        async run() {
          const token = await exchangeAs(aliceAgent, DEV_SUBJECT_TOKENS.alice);
          aliceToken = token.accessToken;
          const claims = decodeJwt(aliceToken);
          const bound = (claims.cnf as Record<string, string> | undefined)?.['x5t#S256'];
          const thumbprint = computeThumbprint(aliceCert);
          return {
            ok: bound === thumbprint && claims.sub === 'alice',
            observed: `token for sub=${String(claims.sub)}, expires_in=${token.expiresIn}s, scope=${token.scope ?? ''}`,
            details: [`cnf: ${JSON.stringify(claims.cnf)}`, `x5t#S256 of alice.crt: ${thumbprint}`],
          };
        },
      },
      {
        title: 'alice calls the resource server with her token and her certificate',
        expected: '200 and a greeting for alice',
        async run() {
          const result = await callResource(aliceAgent, aliceToken);
          return { ok: result.status === 200 && JSON.parse(result.body).subject === 'alice', observed: `${result.status} ${result.body}` };
        },
      },
      {
        title: "bob replays alice's stolen token with his own certificate",
        expected: '401 invalid_token: the token is bound to a different certificate',
        async run() {
          const result = await callResource(bobAgent, aliceToken);
          return {
            ok: result.status === 401 && result.challenge.includes('error="invalid_token"'),
            observed: `${result.status} WWW-Authenticate: ${result.challenge}`,
          };
        },
      },
      {
        title: "alice's token is sent without any client certificate",
        expected: '401 invalid_token: a client certificate is required',
        async run() {
          const result = await callResource(anonymousAgent, aliceToken);
          return {
            ok: result.status === 401 && result.challenge.includes('error="invalid_token"'),
            observed: `${result.status} WWW-Authenticate: ${result.challenge}`,
          };
        },
      },
      {
        title: "bob presents alice's subject token at the STS",
        expected: 'refused with invalid_request (RFC 8693 §2.2.2): that subject token is pinned to alice',
        async run() {
          try {
            await exchangeAs(bobAgent, DEV_SUBJECT_TOKENS.alice);
            return { ok: false, observed: 'the STS issued a token' };
          } catch (error) {
            const remote = error instanceof CertboundError ? error.remoteError : undefined;
            return {
              ok: remote === 'invalid_request' && /not issued to this client certificate/.test(String((error as Error).message)),
              observed: error instanceof Error ? error.message : String(error),
            };
          }
        },
      },
      {
        title: "a tampered token (alice's token with sub changed to admin) is presented with alice's certificate",
        expected: '401 invalid_token: the signature no longer verifies',
        async run() {
          const [header, payload, signature] = aliceToken.split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
          const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${signature}`;
          const result = await callResource(aliceAgent, forged);
          return {
            ok: result.status === 401 && result.challenge.includes('error="invalid_token"'),
            observed: `${result.status} WWW-Authenticate: ${result.challenge}`,
          };
        },
      },
    ],
  };
}
