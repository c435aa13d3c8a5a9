// The ceiling: how many ES256 signatures and verifications one core does, measured in the same
// run as everything else, on a JWS signing input shaped like a certbound access token. The raw
// node:crypto figures bound what any token endpoint or resource server can do per core; the
// jose figures show what the JOSE layer adds on top. Run as a child process of the runner:
//   node dist/bench/ceiling.js <jwt.key PEM file> <milliseconds per measurement>
// prints one JSON line.
import { createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { jwtVerify, SignJWT } from 'jose';

export interface CeilingResult {
  alg: 'ES256';
  /** Raw node:crypto ECDSA P-256 signatures per second on one core (one synchronous loop). */
  signPerSecond: number;
  verifyPerSecond: number;
  /**
   * The same through jose 6 (SignJWT / jwtVerify with claim checks), one call at a time. jose 6
   * uses WebCrypto, whose signing and verifying run on libuv's thread pool: not one core's work.
   */
  joseSignPerSecond: number;
  joseVerifyPerSecond: number;
}

function claims(): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: 'https://sts.domain.com',
    sub: 'alice',
    aud: 'https://server.domain.com:8443',
    client_id: 'alice',
    iat: now,
    nbf: now,
    exp: now + 3600,
    jti: randomUUID(),
    cnf: { 'x5t#S256': 'DGQSLqEAIvd7QerXdSyL5BbKj77YDzNWXzrTfwYlJ7w' },
  };
}

function signingInput(): Buffer {
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })).toString('base64url');
  return Buffer.from(`${header}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`);
}

/** Operations per second of `op`, run back to back for `durationMs` (after a short warm-up). */
function rateOf(durationMs: number, op: () => void): number {
  const warmUntil = performance.now() + Math.min(200, durationMs / 4);
  while (performance.now() < warmUntil) op();
  let count = 0;
  const start = performance.now();
  const until = start + durationMs;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 32; i++) op();
    count += 32;
    now = performance.now();
  }
  return (count * 1000) / (now - start);
}

async function asyncRateOf(durationMs: number, op: () => Promise<unknown>): Promise<number> {
  const warmUntil = performance.now() + Math.min(200, durationMs / 4);
  while (performance.now() < warmUntil) await op();
  let count = 0;
  const start = performance.now();
  const until = start + durationMs;
  let now = start;
  while (now < until) {
    await op();
    count++;
    now = performance.now();
  }
  return (count * 1000) / (now - start);
}

export async function measureCeiling(privateKeyPem: string, durationMs: number): Promise<CeilingResult> {
  const privateKey: KeyObject = createPrivateKey(privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const input = signingInput();
  const signature = sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const signPerSecond = rateOf(durationMs, () => sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  const verifyPerSecond = rateOf(durationMs, () => {
    if (!verify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature))
      throw new Error('ceiling: signature did not verify');
  });
  const joseSign = (): Promise<string> =>
    new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' }).sign(privateKey);
  const token = await joseSign();
  const joseSignPerSecond = await asyncRateOf(durationMs / 2, joseSign);
  const joseVerifyPerSecond = await asyncRateOf(durationMs / 2, () =>
    jwtVerify(token, publicKey, {
      issuer: 'https://sts.domain.com',
      audience: 'https://server.domain.com:8443',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    }),
  );
  return { alg: 'ES256', signPerSecond, verifyPerSecond, joseSignPerSecond, joseVerifyPerSecond };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [keyFile, ms] = process.argv.slice(2);
  if (keyFile === undefined) {
    process.stderr.write('usage: node dist/bench/ceiling.js <ES256 private key PEM> [milliseconds]\n');
    process.exit(2);
  }
  const result = await measureCeiling(readFileSync(keyFile, 'utf8'), Number(ms ?? 1500));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
