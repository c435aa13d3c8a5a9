// RFC 8414 discovery out of the box: the STS of `pki init` serves its metadata where clients look
// for it, openid-client and oauth4webapi run the documented examples against it (discovery,
// client_credentials, token exchange, introspection over mutual TLS), and a configuration whose
// public URL would break discovery is refused at start unless it says why that is fine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { computeThumbprint } from '../../src/core/thumbprint.js';
import { killAll, lines, makeTempDir, pkiInit, removeTempDir, runCli, startServer } from './run.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = ['openid-client', 'oauth4webapi'] as const;

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);
let issuer: string;

/**
 * A port that was free a moment ago. Discovery compares the issuer with where the metadata was
 * fetched, so the STS must listen on its issuer's port, which must be known before it starts.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

before(async () => {
  dir = await makeTempDir('discovery');
  await pkiInit(dir);
  const port = await freePort();
  // The dev issuer is https://sts.domain.com:8081; here the STS runs on a free loopback port and
  // its certificate also names 127.0.0.1.
  issuer = `https://127.0.0.1:${port}`;
  await startServer(['sts', '--config', file('sts.yaml'), '--port', String(port), '--issuer', issuer]);
});

after(async () => {
  await killAll();
  await removeTempDir(dir);
});

function runExample(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'dist', 'examples', `${name}.js`)],
      { env: { ...process.env, CERTS: dir, CERTBOUND_ISSUER: issuer }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    );
  });
}

describe('the documented client library examples run against the STS of pki init', () => {
  for (const name of EXAMPLES) {
    test(`${name}: discovery, client_credentials, token exchange and introspection over mutual TLS`, async () => {
      const result = await runExample(name);
      assert.equal(result.code, 0, result.stderr);
      const output = JSON.parse(result.stdout) as Record<string, Record<string, unknown>>;
      const alice = computeThumbprint(await readFile(file('alice.crt'), 'utf8'));
      assert.deepEqual(output, {
        client_credentials: { token_type: 'bearer', scope: 'read' },
        token_exchange: { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', expires_in: 3600 },
        introspection: { active: true, sub: 'alice', cnf: { 'x5t#S256': alice } },
      });
    });
  }

  test('docs/interop.md shows each example exactly as the file that runs', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'interop.md'), 'utf8');
    for (const name of EXAMPLES) {
      const marker = `<!-- example: examples/${name}.ts -->`;
      const at = doc.indexOf(marker);
      assert.ok(at >= 0, `docs/interop.md has no ${marker}`);
      const block = /```ts\n([\s\S]*?)```/.exec(doc.slice(at))?.[1];
      assert.equal(block, await readFile(join(ROOT, 'examples', `${name}.ts`), 'utf8'), `the block after ${marker}`);
    }
  });
});

describe('RFC 8414 §3: the metadata is where the issuer says', () => {
  test('the metadata document names the issuer it was fetched for and the endpoints under it', async () => {
    const response = await fetchJson(`${issuer}/.well-known/oauth-authorization-server`);
    assert.equal(response.issuer, issuer);
    assert.equal(response.token_endpoint, `${issuer}/token`);
    assert.deepEqual(response.mtls_endpoint_aliases, { token_endpoint: `${issuer}/token`, introspection_endpoint: `${issuer}/introspect` });
  });

  test('a public_url on another origin is refused at start, naming both URLs', async () => {
    const config = file('sts-elsewhere.yaml');
    await writeFile(config, `${await readFile(file('sts.yaml'), 'utf8')}\npublic_url: https://sts.domain.com:9443\n`);
    const refused = await runCli(['sts', '--config', config, '--check-config']);
    assert.equal(refused.code, 2);
    assert.deepEqual(lines(refused.stderr), [
      `certbound: ${config}: public_url: clients discovering issuer https://sts.domain.com:8081 fetch https://sts.domain.com:8081/.well-known/oauth-authorization-server, which is not where this STS is reached (https://sts.domain.com:9443); make public_url the issuer's origin, or set issuer_metadata_elsewhere: true when a proxy there serves the metadata`,
    ]);
    const flag = await runCli(['sts', '--config', file('sts.yaml'), '--public-url', 'https://sts.domain.com:9443', '--check-config']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /^certbound: --public-url: public_url: clients discovering issuer/);
  });

  test('issuer_metadata_elsewhere: true starts, and the log says where discovery must be served', async () => {
    const config = file('sts-proxied.yaml');
    await writeFile(
      config,
      `${await readFile(file('sts.yaml'), 'utf8')}\npublic_url: https://sts.domain.com:9443\nissuer_metadata_elsewhere: true\n`,
    );
    const proxied = await startServer(['sts', '--config', config, '--port', '0']);
    try {
      await proxied.untilLogged('"type":"discovery.elsewhere"');
      assert.match(
        proxied.stderr(),
        /"detail":"RFC 8414 clients fetch https:\/\/sts\.domain\.com:8081\/\.well-known\/oauth-authorization-server; this STS is reached at https:\/\/sts\.domain\.com:9443"/,
      );
      const metadata = await fetchJson(`${proxied.url}/.well-known/oauth-authorization-server`);
      assert.equal(metadata.token_endpoint, 'https://sts.domain.com:9443/token');
    } finally {
      await proxied.stop();
    }
  });
});

async function fetchJson(url: string): Promise<Record<string, unknown>> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connect: { ca: await readFile(file('ca.crt'), 'utf8'), servername: 'sts.domain.com' } });
  try {
    const response = await request(url, { dispatcher: agent });
    assert.equal(response.statusCode, 200);
    return (await response.body.json()) as Record<string, unknown>;
  } finally {
    await agent.close();
  }
}
