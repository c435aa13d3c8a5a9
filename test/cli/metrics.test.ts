// The metrics of the real servers, scraped from --admin-port while they work: every family a
// server reports is there, each moves with what it counts, label values stay in their closed sets,
// and under --workers the primary serves the sum of its workers.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { METRIC_FAMILIES } from '../../src/metrics/families.js';
import { adminUrlOf, getAdmin, samplesOf, valueOf } from '../helpers/prometheus.js';
import { killAll, makeTempDir, pkiInit, removeTempDir, runCli, startServer, type CliServer } from './run.js';

const ISSUER = 'https://sts.domain.com:8081';
const AUDIENCE = 'https://server.domain.com:8443';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
before(async () => {
  dir = await makeTempDir('metrics');
  await pkiInit(dir);
});
after(async () => {
  await killAll();
  await removeTempDir(dir);
});

async function agentAs(who: 'alice' | 'bob'): Promise<Agent> {
  const [ca, cert, key] = await Promise.all(['ca.crt', `${who}.crt`, `${who}.key`].map((name) => readFile(file(name), 'utf8')));
  return new Agent({ connect: { ca, cert, key } });
}

async function exchange(sts: string, agent: Agent, subjectToken: string): Promise<{ status: number; token?: string }> {
  const response = await request(`${sts}/token`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: AUDIENCE,
    }).toString(),
  });
  const body = (await response.body.json()) as { access_token?: string };
  return { status: response.statusCode, ...(body.access_token === undefined ? {} : { token: body.access_token }) };
}

async function get(url: string, agent: Agent, token: string): Promise<number> {
  const response = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
  await response.body.dump();
  return response.statusCode;
}

const resourceArgs = (jwks: string, ...extra: string[]): string[] => [
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
  jwks,
  '--issuer',
  ISSUER,
  '--audience',
  AUDIENCE,
  '--admin-port',
  '0',
  ...extra,
];

function adminOf(server: CliServer): string {
  const url = adminUrlOf(server.stderr());
  assert.ok(url !== undefined, `no admin.listening event: ${server.stderr()}`);
  return url;
}

/** Every family the server reports is declared in the scrape, and Node's process metrics are there. */
function assertFamilies(scrape: string, server: 'sts' | 'resource'): void {
  for (const family of METRIC_FAMILIES) {
    const expected = (family.servers as readonly string[]).includes(server) && !('primaryOnly' in family);
    assert.equal(scrape.includes(`# TYPE ${family.name} ${family.kind}\n`), expected, `${server}: ${family.name}`);
  }
  assert.match(scrape, /^process_resident_memory_bytes \d+/m);
}

test('sts and resource: issuance, refusals by code, verification, cache, TLS and reloads are counted on /metrics', async () => {
  const sts = await startServer([
    'sts',
    '--config',
    file('sts.yaml'),
    '--port',
    '0',
    '--admin-port',
    '0',
    '--rate-limit',
    '1',
    '--rate-burst',
    '2',
  ]);
  const resource = await startServer(resourceArgs(file('jwks.json')));
  const [alice, bob] = [await agentAs('alice'), await agentAs('bob')];
  try {
    const issued = [await exchange(sts.url, alice, 'iamtheeggman'), await exchange(sts.url, alice, 'iamtheeggman')];
    assert.deepEqual(
      issued.map((result) => result.status),
      [200, 200],
    );
    assert.equal((await exchange(sts.url, alice, 'iamtheeggman')).status, 429);
    assert.equal((await exchange(sts.url, bob, 'not-a-subject-token')).status, 400);
    const token = issued[0]?.token as string;

    assert.equal(await get(resource.url, alice, token), 200);
    assert.equal(await get(resource.url, alice, token), 200);
    assert.equal(await get(resource.url, bob, token), 401);
    // Plain HTTP to the TLS port: a failed handshake with OpenSSL's reason.
    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(resource.url).port), '127.0.0.1', () => socket.end('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      socket.on('close', () => resolve()).on('error', () => {});
      socket.resume();
    });

    const stsScrape = (await getAdmin(adminOf(sts), '/metrics')).text;
    assertFamilies(stsScrape, 'sts');
    assert.equal(valueOf(stsScrape, 'certbound_tokens_issued_total', { grant_type: TOKEN_EXCHANGE, client_id: 'alice' }), 2);
    assert.equal(valueOf(stsScrape, 'certbound_refusals_total', { event: 'token.refused', code: 'CB_RATE_LIMITED' }), 1);
    const tokenRefusals = samplesOf(stsScrape).filter((s) => s.name === 'certbound_refusals_total' && s.labels.event === 'token.refused');
    assert.equal(tokenRefusals.length, 2, JSON.stringify(tokenRefusals));
    assert.ok(tokenRefusals.every((sample) => /^CB_[A-Z_]+$/.test(sample.labels.code as string)));
    assert.equal(valueOf(stsScrape, 'certbound_http_request_seconds_count', { status: '200' }), 2);
    assert.equal(valueOf(stsScrape, 'certbound_http_request_seconds_count', { status: '429' }), 1);
    assert.ok(!stsScrape.includes(token) && !stsScrape.includes('iamtheeggman'), 'no token in the metrics');

    const admin = adminOf(resource);
    let scrape = (await getAdmin(admin, '/metrics')).text;
    assertFamilies(scrape, 'resource');
    assert.equal(valueOf(scrape, 'certbound_allowed_total', { event: 'request.allowed' }), 2);
    const refusals = samplesOf(scrape).filter((s) => s.name === 'certbound_refusals_total');
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0]?.labels.event, 'request.refused');
    assert.match(refusals[0]?.labels.code as string, /^CB_CNF_/);
    assert.equal(valueOf(scrape, 'certbound_token_verification_seconds_count', { outcome: 'valid' }), 2);
    assert.equal(valueOf(scrape, 'certbound_token_verification_seconds_count', { outcome: 'invalid' }), 1);
    assert.equal(valueOf(scrape, 'certbound_verification_cache_total', { result: 'hit' }), 1);
    assert.equal(valueOf(scrape, 'certbound_verification_cache_total', { result: 'miss' }), 2);
    assert.ok((valueOf(scrape, 'certbound_tls_handshakes_total') as number) >= 2);
    assert.equal(valueOf(scrape, 'certbound_tls_handshake_failures_total', { reason: 'ERR_SSL_HTTP_REQUEST' }), 1);
    assert.equal(valueOf(scrape, 'certbound_jwks_usable'), 1);
    assert.ok((valueOf(scrape, 'certbound_jwks_age_seconds') as number) >= 0);
    assert.equal(valueOf(scrape, 'certbound_in_flight_requests'), 0);

    resource.child.kill('SIGHUP');
    await resource.untilLogged('"type":"tls.reloaded"');
    scrape = (await getAdmin(admin, '/metrics')).text;
    assert.equal(valueOf(scrape, 'certbound_reloads_total', { what: 'tls', outcome: 'ok' }), 1);
    assert.equal(valueOf(scrape, 'certbound_reloads_total', { what: 'jwks', outcome: 'ok' }), 1);
    assert.equal((await getAdmin(admin, '/readyz')).status, 200);
    assert.equal((await getAdmin(adminOf(sts), '/readyz')).status, 200);
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await Promise.all([sts.stop(), resource.stop()]);
  }
});

test('a JWKS URL is fetched before the ready line; with --start-without-jwks, /readyz waits for it', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const jwksUrl = `${sts.url}/.well-known/jwks.json`;
  const resource = await startServer(resourceArgs(jwksUrl));
  try {
    // Fetched at start: ready at once, one fetch counted.
    assert.match(resource.stderr(), /"type":"jwks\.refreshed"/);
    const admin = adminOf(resource);
    assert.equal((await getAdmin(admin, '/readyz')).status, 200);
    const scrape = (await getAdmin(admin, '/metrics')).text;
    assert.equal(valueOf(scrape, 'certbound_jwks_fetches_total', { outcome: 'ok' }), 1);
    assert.equal(valueOf(scrape, 'certbound_jwks_usable'), 1);
  } finally {
    await resource.stop();
  }

  // The STS gone: with --start-without-jwks the resource listens, not ready, until the STS is back.
  const port = new URL(sts.url).port;
  await sts.stop();
  const waiting = await startServer(resourceArgs(jwksUrl, '--start-without-jwks'));
  const restarted: CliServer[] = [];
  try {
    const admin = adminOf(waiting);
    const first = await getAdmin(admin, '/readyz');
    assert.deepEqual([first.status, first.text], [503, 'not ready: JWKS not fetched yet\n']);
    assert.equal(valueOf((await getAdmin(admin, '/metrics')).text, 'certbound_jwks_usable'), 0);
    await waiting.untilLogged('"type":"jwks.fetch_failed"');
    restarted.push(await startServer(['sts', '--config', file('sts.yaml'), '--port', port]));
    // Each probe fetches again: certbound wait polls /readyz until it is 200.
    const ready = await runCli(['wait', `${admin}/readyz`, '--timeout', '15']);
    assert.equal(ready.code, 0, ready.stderr);
    await waiting.untilLogged('"type":"jwks.recovered"');
  } finally {
    await Promise.all([waiting.stop(), ...restarted.map((server) => server.stop())]);
  }
});

test('--workers: the primary serves the sum of its workers, counts a restart, and is ready when every worker is', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const resource = await startServer(resourceArgs(file('jwks.json'), '--workers', '2'));
  try {
    const alice = await agentAs('alice');
    const { token } = await exchange(sts.url, alice, 'iamtheeggman');
    await alice.close();
    // A fresh connection each time, so that the primary hands them to both workers.
    for (let i = 0; i < 6; i++) {
      const agent = await agentAs('alice');
      assert.equal(await get(resource.url, agent, token as string), 200);
      await agent.close();
    }
    const admin = adminOf(resource);
    await resource.untilLogged(
      (stderr) => new Set([...stderr.matchAll(/"pid":(\d+),[^\n]*"request.allowed"/g)].map((m) => m[1])).size === 2,
      'both workers served',
    );
    let scrape = (await getAdmin(admin, '/metrics')).text;
    assert.equal(valueOf(scrape, 'certbound_allowed_total', { event: 'request.allowed' }), 6);
    assert.equal(valueOf(scrape, 'certbound_tls_handshakes_total'), 6);
    assert.equal(valueOf(scrape, 'certbound_worker_restarts_total'), 0);
    assert.equal(samplesOf(scrape).filter((sample) => sample.name === 'process_resident_memory_bytes').length, 1);
    assert.equal((await getAdmin(admin, '/readyz')).status, 200);

    const victim = Number(/"pid":(\d+),[^\n]*"request.allowed"/.exec(resource.stderr())?.[1]);
    process.kill(victim, 'SIGKILL');
    await resource.untilLogged('"type":"worker.restarted"');
    scrape = (await getAdmin(admin, '/metrics')).text;
    assert.equal(valueOf(scrape, 'certbound_worker_restarts_total'), 1);
    assert.equal((await getAdmin(admin, '/readyz')).status, 200);
  } finally {
    await Promise.all([sts.stop(), resource.stop()]);
  }
});

test('grpc-server and authz: calls and gateway checks admitted and refused are counted on their admin listeners', async () => {
  const sts = await startServer(['sts', '--config', file('sts.yaml'), '--port', '0']);
  const grpcAudience = 'https://grpc.domain.com:50051';
  const grpc = await startServer([
    'grpc-server',
    '--port',
    '0',
    '--tls-ca',
    file('ca.crt'),
    '--tls-cert',
    file('grpc.crt'),
    '--tls-key',
    file('grpc.key'),
    '--jwks',
    file('jwks.json'),
    '--issuer',
    ISSUER,
    '--audience',
    grpcAudience,
    '--admin-port',
    '0',
  ]);
  const authz = await startServer([
    'authz',
    '--port',
    '0',
    '--jwks',
    file('jwks.json'),
    '--issuer',
    ISSUER,
    '--audience',
    AUDIENCE,
    '--client-cert-format',
    'rfc9440',
    '--default-rule',
    'any',
    '--admin-port',
    '0',
  ]);
  try {
    const call = await runCli([
      'grpc-call',
      `127.0.0.1:${new URL(grpc.url).port}`,
      '--servername',
      'localhost',
      '--sts',
      sts.url,
      '--tls-ca',
      file('ca.crt'),
      '--tls-cert',
      file('alice.crt'),
      '--tls-key',
      file('alice.key'),
      '--subject-token',
      'iamtheeggman',
      '--audience',
      grpcAudience,
    ]);
    assert.equal(call.code, 0, call.stderr);
    let scrape = (await getAdmin(adminOf(grpc), '/metrics')).text;
    assert.equal(valueOf(scrape, 'certbound_allowed_total', { event: 'call.allowed' }), 1);
    assert.equal(valueOf(scrape, 'certbound_token_verification_seconds_count', { outcome: 'valid' }), 1);
    assert.equal((await getAdmin(adminOf(grpc), '/readyz')).status, 200);

    // No token, no forwarded certificate, no original request: refused, with its code.
    const refused = await request(`${authz.url}/anything`);
    assert.equal(refused.statusCode, 400);
    await refused.body.dump();
    scrape = (await getAdmin(adminOf(authz), '/metrics')).text;
    const refusals = samplesOf(scrape).filter((sample) => sample.name === 'certbound_refusals_total');
    assert.equal(refusals.length, 1, JSON.stringify(refusals));
    assert.equal(refusals[0]?.labels.event, 'authz.refused');
    assert.match(refusals[0]?.labels.code as string, /^CB_/);
    assert.equal(valueOf(scrape, 'certbound_http_request_seconds_count', { status: '400' }), 1);
    assert.equal((await getAdmin(adminOf(authz), '/readyz')).status, 200);
  } finally {
    await Promise.all([sts.stop(), grpc.stop(), authz.stop()]);
  }
});

test('sts --workers 2 with admin.port in its file: the primary serves the tokens both workers issued', async () => {
  const config = `${await readFile(file('sts.yaml'), 'utf8')}\nadmin:\n  port: 0\n`;
  await writeFile(file('sts-admin.yaml'), config);
  const sts = await startServer(['sts', '--config', file('sts-admin.yaml'), '--port', '0', '--workers', '2']);
  try {
    for (let i = 0; i < 4; i++) {
      const agent = await agentAs('alice');
      assert.equal((await exchange(sts.url, agent, 'iamtheeggman')).status, 200);
      await agent.close();
    }
    const scrape = (await getAdmin(adminOf(sts), '/metrics')).text;
    assert.equal(valueOf(scrape, 'certbound_tokens_issued_total', { grant_type: TOKEN_EXCHANGE, client_id: 'alice' }), 4);
    assert.equal((await getAdmin(adminOf(sts), '/readyz')).status, 200);
  } finally {
    await sts.stop();
  }
});
