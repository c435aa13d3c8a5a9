// A real nginx (Debian's /usr/sbin/nginx) terminating the client's mutual TLS in front of the real
// `certbound resource` CLI (--trusted-proxy 127.0.0.1 --client-cert-format pem-urlencoded), with
// tokens from the real `certbound sts` CLI. nginx forwards the verified client certificate in
// X-SSL-Client-Cert ($ssl_client_escaped_cert); the config is test/helpers/nginx.ts.
// Without nginx the file fails under CI (which must install it: .ci/run does) and skips loudly
// elsewhere.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import { DEV_ISSUER } from '../../src/pki/dev-pki.js';
import { createCertificateAuthority, issueCertificate } from '../../src/pki/generate.js';
import { NGINX, nginxInstalled, startNginx, type RunningNginx } from '../helpers/nginx.js';
import { exchangeRequest, postToken } from '../helpers/servers.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, startServer, type CliServer } from '../cli/run.js';

/** The issuer `pki init` writes into sts.yaml. */
const ISSUER = DEV_ISSUER;
const AUDIENCE = 'https://server.domain.com:8443';
/** How long the resource has to write a request's event line after answering it. */
const EVENT_TIMEOUT_MS = 5_000;

const onCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false' && process.env.CI !== '0';

if (!nginxInstalled()) {
  test('nginx in front of certbound resource', (t) => {
    if (onCi) assert.fail(`${NGINX} is missing: CI must run the real-nginx tests (.ci/run installs it with apt-get install nginx)`);
    const message = `${NGINX} not found, the real-nginx tests did not run: install it (sudo apt-get install nginx) or set CERTBOUND_TEST_NGINX`;
    t.diagnostic(message);
    process.stderr.write(`\n*** SKIPPED: ${message}\n\n`);
    t.skip(message);
  });
} else {
  describe('nginx terminating mutual TLS in front of certbound resource', { timeout: 60_000 }, () => {
    let dir: string | undefined;
    const file = (name: string): string => join(dir as string, name);
    let sts: CliServer;
    let resource: CliServer;
    let nginx: RunningNginx | undefined;
    let aliceToken: string;
    const agents: Agent[] = [];
    let ca: string;

    interface Event {
      type: string;
      code?: string;
      detail?: string;
      subject?: string;
      thumbprint?: string;
    }

    const thumbprints: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

    /** An agent presenting `who`'s certificate (from the pki init files), or none. */
    async function agentOf(who?: 'alice' | 'bob'): Promise<Agent> {
      const agent = new Agent({
        connect: {
          ca,
          ...(who === undefined
            ? {}
            : { cert: await readFile(file(`${who}.crt`), 'utf8'), key: await readFile(file(`${who}.key`), 'utf8') }),
        },
      });
      agents.push(agent);
      return agent;
    }

    function events(): Event[] {
      // Complete lines only: the last chunk may end mid-line.
      return resource
        .stderr()
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line) as Event);
    }

    /** The events the resource logged after the first `seen`, once there are `count` of them (bounded wait). */
    async function newEvents(seen: number, count = 1): Promise<Event[]> {
      // Checked again on each chunk the resource writes to stderr (its event lines).
      try {
        await resource.untilLogged(() => events().length >= seen + count, 'event lines', EVENT_TIMEOUT_MS);
      } catch {
        assert.fail(
          `the resource logged ${events().length - seen} of ${count} event(s) within ${EVENT_TIMEOUT_MS} ms:\n${resource.stderr()}`,
        );
      }
      return events().slice(seen);
    }

    interface Answer {
      status: number;
      challenge: string;
      body: Record<string, unknown>;
      text: string;
      event: Event | undefined;
    }

    /** GET / through nginx with alice's token and `headers`; with `logs`, also the event the resource logged for it. */
    async function callThroughNginx(agent: Agent, headers: Record<string, string | string[]> = {}, logs = true): Promise<Answer> {
      const seen = events().length;
      const response = await request(`${(nginx as RunningNginx).url}/`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${aliceToken}`, ...headers },
      });
      const text = await response.body.text();
      let body: Record<string, unknown> = {};
      if (String(response.headers['content-type']).startsWith('application/json')) body = JSON.parse(text) as Record<string, unknown>;
      const logged = logs ? await newEvents(seen) : [];
      assert.ok(logged.length <= 1, `one request, one event: ${JSON.stringify(logged)}`);
      return { status: response.statusCode, challenge: String(response.headers['www-authenticate'] ?? ''), body, text, event: logged[0] };
    }

    before(async () => {
      dir = await makeTempDir('nginx');
      await pkiInit(dir);
      ca = await readFile(file('ca.crt'), 'utf8');
      sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
      resource = await startServer([
        'resource',
        '--port',
        '0',
        '--tls-ca',
        file('ca.crt'),
        '--tls-cert',
        file('server.crt'),
        '--tls-key',
        file('server.key'),
        '--jwks',
        file('jwks.json'),
        '--issuer',
        ISSUER,
        '--audience',
        AUDIENCE,
        '--trusted-proxy',
        '127.0.0.1',
        '--client-cert-format',
        'pem-urlencoded',
      ]);
      nginx = await startNginx({
        tlsCert: file('server.crt'),
        tlsKey: file('server.key'),
        clientCa: file('ca.crt'),
        upstream: resource.url,
        upstreamName: 'server.domain.com',
        upstreamCa: file('ca.crt'),
      });
      const token = await postToken(await agentOf('alice'), sts.url, exchangeRequest());
      assert.equal(token.status, 200, JSON.stringify(token.body));
      aliceToken = token.body.access_token as string;
      const claims = JSON.parse(Buffer.from(aliceToken.split('.')[1] as string, 'base64url').toString('utf8')) as {
        cnf: { 'x5t#S256': string };
      };
      thumbprints.alice = claims.cnf['x5t#S256'];
      assert.equal(thumbprints.alice, computeThumbprint(await readFile(file('alice.crt'), 'utf8')));
      thumbprints.bob = computeThumbprint(await readFile(file('bob.crt'), 'utf8'));
    });

    after(async () => {
      await Promise.all(agents.map((agent) => agent.close()));
      await nginx?.close();
      await killAll();
      await removeTempDir(dir);
    });

    test("alice's certificate and alice's token through nginx: 200 for alice", async () => {
      const answer = await callThroughNginx(await agentOf('alice'));
      assert.equal(answer.status, 200, `${answer.text}\nnginx log:\n${nginx?.log()}`);
      assert.equal(answer.body.subject, 'alice');
      assert.equal(answer.body['x5t#S256'], thumbprints.alice);
      assert.equal(answer.event?.type, 'request.allowed');
      assert.equal(answer.event?.thumbprint, thumbprints.alice);
    });

    test("bob's certificate with alice's token through nginx: 401 invalid_token", async () => {
      const answer = await callThroughNginx(await agentOf('bob'));
      assert.equal(answer.status, 401, answer.text);
      assert.equal(answer.body.error, 'invalid_token');
      assert.equal(answer.body.error_description, 'token is bound to a different client certificate');
      assert.match(answer.challenge, /^Bearer error="invalid_token"/);
      assert.equal(answer.event?.code, 'CB_CNF_MISMATCH');
      assert.equal(answer.event?.detail, `token x5t#S256=${thumbprints.alice}, connection x5t#S256=${thumbprints.bob}`);
    });

    test('no client certificate through nginx: 401, a certificate is required', async () => {
      const answer = await callThroughNginx(await agentOf());
      assert.equal(answer.status, 401, answer.text);
      assert.equal(answer.body.error, 'invalid_token');
      assert.equal(
        answer.body.error_description,
        'a client certificate is required to use a certificate-bound token (the proxy forwarded none)',
      );
      assert.equal(answer.event?.code, 'CB_CLIENT_CERT_MISSING');
    });

    test('a forged X-SSL-Client-Cert sent to nginx is replaced by the certificate nginx verified', async () => {
      const alicePem = encodeURIComponent(await readFile(file('alice.crt'), 'utf8'));
      const bobPem = encodeURIComponent(await readFile(file('bob.crt'), 'utf8'));

      // alice's connection, a header naming bob: nginx forwards alice's, so alice's token works.
      const replaced = await callThroughNginx(await agentOf('alice'), { 'X-SSL-Client-Cert': bobPem });
      assert.equal(replaced.status, 200, replaced.text);
      assert.equal(replaced.body['x5t#S256'], thumbprints.alice);

      // bob's connection claiming to be alice: the resource compares with bob's.
      const impostor = await callThroughNginx(await agentOf('bob'), { 'x-ssl-client-cert': alicePem });
      assert.equal(impostor.status, 401, impostor.text);
      assert.equal(impostor.event?.code, 'CB_CNF_MISMATCH');
      assert.equal(impostor.event?.detail, `token x5t#S256=${thumbprints.alice}, connection x5t#S256=${thumbprints.bob}`);

      // No certificate, alice's in two forged headers: nginx sends none of them.
      const dropped = await callThroughNginx(await agentOf(), { 'x-ssl-client-cert': [alicePem, alicePem] });
      assert.equal(dropped.status, 401, dropped.text);
      assert.equal(dropped.event?.code, 'CB_CLIENT_CERT_MISSING');
    });

    test('a certificate from another CA is refused by nginx itself; the resource never sees the request', async () => {
      const otherCa = await createCertificateAuthority({ commonName: 'other CA' });
      const stranger = await issueCertificate(otherCa, { commonName: 'alice', usage: 'client' });
      const agent = new Agent({ connect: { ca, cert: stranger.certPem, key: stranger.keyPem } });
      agents.push(agent);
      const seen = events().length;
      const refused = await callThroughNginx(agent, {}, false);
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.text, /SSL certificate error/);
      // The next request's event is the first the resource logs after the stranger's.
      const next = await callThroughNginx(await agentOf('alice'));
      assert.equal(next.status, 200);
      assert.deepEqual(
        (await newEvents(seen)).map((event) => event.type),
        ['request.allowed'],
      );
    });
  });
}
