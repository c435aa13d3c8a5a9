// Soak / fault test: mixed load (RFC 8693 token exchanges at the STS, bound-token requests at
// the HTTPS resource server, gRPC unary calls at the echo server) from a few concurrent loops,
// while faults are injected on a schedule: TLS reloads with fresh server certificates, a
// keystore key rotation, JWKS outages (the resource's key source goes through a proxy that can
// be switched off), and a CRL that revokes a third client, "mallory", whose refusals are
// expected. Everything listens on 127.0.0.1:0 inside this process; a run is bounded by
// durationMs and maxRequests, whichever comes first.
//
// Library: runSoak(options) → SoakReport. CLI: node dist/test/soak/soak.js [--duration-seconds N]
// [--max-requests N] prints a table and the JSON report; exit status 1 on any unexpected failure
// or when the memory bounds (SOAK_MEMORY_BOUNDS) are exceeded. See docs/soak.md.
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { status as grpcStatus } from '@grpc/grpc-js';
import { decodeProtectedHeader } from 'jose';
import { Agent, request } from 'undici';
import { createMtlsAgent } from '../../src/client/mtls-agent.js';
import { hashSubjectToken } from '../../src/core/policy/authorize.js';
import { parsePolicy } from '../../src/config/policy.js';
import { type Policy } from '../../src/core/policy/types.js';
import { createBoundTokenVerifier } from '../../src/core/verify.js';
import { createEchoServer, loadEchoDefinitions, type ManagedGrpcServer } from '../../src/cli/servers/echo-server.js';
import type { ManagedServer } from '../../src/server/https-server.js';
import type { ServerTlsOptions } from '../../src/server/tls.js';
import { createResourceServer } from '../../src/cli/servers/resource-server.js';
import { loadJwksSource, type JwksEvent } from '../../src/keys/jwks-source.js';
import { addKeystoreKey, openKeystore, type KeystoreProvider } from '../../src/keys/keystore.js';
import { createCrl, issueCertificate, type IssuedCertificate } from '../../src/pki/generate.js';
import { createStsServer, type StsEvent } from '../../src/sts/server.js';
import { bearer, callUnary, channelCredentials, type EchoClient } from '../helpers/grpc.js';
import { whenever } from '../helpers/wait.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { ALICE_SECRET, AUDIENCE, BOB_SECRET, exchangeRequest, ISSUER } from '../helpers/servers.js';

export interface SoakOptions {
  /** Wall-clock length of the loaded phase, in ms (warm-up and teardown not included). */
  durationMs: number;
  /** Most requests (token + resource + gRPC, all clients) the loaded phase sends. */
  maxRequests: number;
  /** Progress lines (faults as they happen, a status line every 10 s). */
  log?: (line: string) => void;
}

export interface SoakFailure {
  kind: string;
  detail: string;
}

export interface SoakReport {
  durationMs: number;
  /** Requests sent in the loaded phase, all clients (mallory's refused ones included). */
  requests: { token: number; resource: number; grpc: number };
  /** Unexpected failures (at most MAX_RECORDED_FAILURES kept; failureCount has them all). */
  failures: SoakFailure[];
  failureCount: number;
  /** What was injected and when (`+12.3s kind: detail`), in order. */
  faults: string[];
  /** Injected faults by kind: tls-reload, key-rotation, jwks-outage, crl-revocation, cert-reissue. */
  faultCounts: Record<string, number>;
  /** Refusals of the revoked client that were expected (and checked to be the right refusal). */
  expectedRefusals: { token: number; resource: number; grpc: number };
  /** Mallory's requests that straddled the revocation (either answer accepted). */
  straddled: number;
  /** Calls made with a previously issued (reused) token, included in requests. */
  reusedTokenCalls: number;
  /** Tokens issued per signing key id, in order of first use. */
  tokensByKid: Record<string, number>;
  jwks: { fetchesServed: number; fetchesRefused: number; fetchFailedEvents: number; recoveredEvents: number };
  /** Latency per kind: p50/p99 are bucket upper bounds (ms). */
  latencyMs: Record<'token' | 'resource' | 'grpc', { p50: number; p99: number; max: number }>;
  rssStartMb: number;
  rssEndMb: number;
  heapStartMb: number;
  heapEndMb: number;
  rssPeakMb: number;
  /** Memory every MEMORY_SAMPLE_MS of the loaded phase. */
  memorySamples: Array<{ atSeconds: number; rssMb: number; heapMb: number }>;
  /** Whether start/end were measured right after a forced full GC. */
  gcForced: boolean;
  memoryBounds: { heapGrowthMb: number; rssGrowthMb: number };
  memoryWithinBounds: boolean;
  stoppedBy: 'duration' | 'maxRequests';
  node: string;
  cpus: number;
}

/**
 * Memory growth allowed between the start (after warm-up) and the end of the loaded phase, both
 * measured after a forced full GC when one is available (see forcedGc). Heap: 64 MB — the soak
 * keeps no per-request state (counters and fixed histograms only), so a heap that grows by tens
 * of MB over a run is a leak. RSS: 128 MB — RSS also holds freed-but-unreturned malloc arenas,
 * OpenSSL session and buffer caches and the code of late-optimised functions, which do not come
 * back after a GC; without a forced GC the young generation alone can move heapUsed by ~30 MB.
 */
// heapUsed (after a forced GC) is the leak detector. RSS is bounded loosely: Node 24's allocator
// keeps freed pages, and its RSS rose ~180 MB in the 15 s run while the heap after GC grew 4 MB;
// the 180 s run in docs/soak.md shows whether RSS keeps climbing.
export const SOAK_MEMORY_BOUNDS = { heapGrowthMb: 64, rssGrowthMb: 320 } as const;

/** Failures kept in the report; all are counted. */
const MAX_RECORDED_FAILURES = 500;
/** Per-request timeouts: a soak may fail, never hang. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Issued tokens' lifetime; rotations keep retired keys published this long (plus 60 s skew). */
const TOKEN_LIFETIME_SECONDS = 60;
/** A token is reused for extra calls while younger than this (well inside its lifetime). */
const REUSE_MAX_AGE_MS = 20_000;
/** New agents and gRPC channels (so new TLS handshakes) at least every this many iterations. */
const RECONNECT_EVERY = 25;
/** JWKS source settings: short, so that outages and rotations are really exercised. */
const JWKS_CACHE_MAX_AGE_MS = 1000;
const JWKS_COOLDOWN_MS = 500;
const JWKS_MAX_STALENESS_MS = 30_000;
/** The rotation publishes the new key this long before it signs. */
const PUBLISH_AHEAD_SECONDS = 4;
const MEMORY_SAMPLE_MS = 5000;
const MALLORY_SECRET = 'iamthewalrus-goo-goo-g-joob-mallory';
const REVOKED_DESCRIPTION = 'client certificate was not issued by a trusted CA or is not valid';

type Kind = 'token' | 'resource' | 'grpc';
type ClientName = 'alice' | 'bob' | 'mallory';

/**
 * One cycle of faults, offsets in ms from the cycle's start. Cycles repeat every 15 s (runs under
 * 60 s) or 30 s; the first cycle holds every kind of fault, so a 15 s run injects them all.
 *
 * The rotation publishes the new key at +2 s; it signs from PUBLISH_AHEAD_SECONDS later (between
 * +5 s and +6 s, the schedule having whole seconds). The first outage starts at +4 s, and only
 * once the proxy has served a JWKS with the new key (the source refreshes every ~1 s under load),
 * and lasts past the activation: tokens signed by the new key arrive during the outage and must
 * verify from the cache. An outage before the new key is fetched would make those tokens fail
 * with an unknown kid — expected, and avoided by this schedule.
 */
const CYCLE = {
  reissueMallory: 0,
  tlsReload1: 1000,
  rotate: 2000,
  outage1Start: 4000,
  tlsReload2: 5000,
  outage1End: 7500,
  revokeMallory: 8500,
  tlsReload3: 10_000,
  outage2Start: 11_000,
  outage2End: 13_000,
  tlsReload4: 13_500,
  /** Only in 30 s cycles. */
  tlsReload5: 21_000,
} as const;

// ---------------------------------------------------------------------------------------------
// Small utilities

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A full GC, if one can be had: global.gc under --expose-gc, else the flag set at run time and
 * gc taken from a fresh context (node:test does not pass --expose-gc). Undefined when neither works.
 */
function forcedGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

function measureMemory(gc: (() => void) | undefined): { rss: number; heap: number } {
  if (gc !== undefined) {
    gc();
    gc();
  }
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed };
}

/** Latencies in fixed buckets: no per-request state, so the soak itself cannot grow the heap. */
class Latency {
  private static readonly BOUNDS = [
    1,
    2,
    3,
    5,
    7,
    10,
    15,
    20,
    30,
    50,
    75,
    100,
    150,
    200,
    300,
    500,
    750,
    1000,
    2000,
    5000,
    10_000,
    Number.POSITIVE_INFINITY,
  ];
  private readonly counts = new Array<number>(Latency.BOUNDS.length).fill(0);
  private total = 0;
  private max = 0;
  add(ms: number): void {
    const index = Latency.BOUNDS.findIndex((bound) => ms <= bound);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.total += 1;
    this.max = Math.max(this.max, ms);
  }
  private quantile(q: number): number {
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= q * this.total) return Math.min(Latency.BOUNDS[i] as number, Math.ceil(this.max));
    }
    return 0;
  }
  summary(): { p50: number; p99: number; max: number } {
    return { p50: this.total === 0 ? 0 : this.quantile(0.5), p99: this.total === 0 ? 0 : this.quantile(0.99), max: Math.round(this.max) };
  }
}

function describeError(error: unknown): string {
  const err = error as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause === undefined ? '' : ` (cause: ${err.cause.code ?? ''} ${err.cause.message ?? ''})`;
  return `network error ${err.code ?? err.name ?? 'Error'}: ${err.message ?? String(error)}${cause}`;
}

/** The policy of test/helpers/servers.ts testPolicy, plus mallory, registered by subject DN. */
function soakPolicy(pki: TestPki): Policy {
  return parsePolicy({
    clients: [
      { client_id: 'alice', certificate: { subject_dn: 'CN=alice, O=certbound dev' } },
      { client_id: 'bob', certificate: { 'x5t#S256': pki.bob.thumbprint } },
      { client_id: 'mallory', certificate: { subject_dn: 'CN=mallory, O=certbound dev' } },
    ],
    subject_tokens: [
      {
        sha256: hashSubjectToken(ALICE_SECRET),
        subject: 'alice',
        client_certificate: { 'x5t#S256': pki.alice.thumbprint },
        audiences: [AUDIENCE],
        scopes: ['read', 'write'],
      },
      {
        sha256: hashSubjectToken(BOB_SECRET),
        subject: 'bob',
        client_certificate: { subject_dn: 'CN=bob, O=certbound dev' },
        audiences: [AUDIENCE],
        scopes: ['read'],
      },
      {
        sha256: hashSubjectToken(MALLORY_SECRET),
        subject: 'mallory',
        client_certificate: { subject_dn: 'CN=mallory, O=certbound dev' },
        audiences: [AUDIENCE],
        scopes: ['read'],
      },
    ],
  });
}

const issueServerCertificate = (pki: TestPki): Promise<IssuedCertificate> =>
  issueCertificate(pki.ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });

/** The fingerprint of the certificate a fresh handshake with 127.0.0.1:port gets. */
function servedFingerprint(port: number, pki: TestPki, alpn?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      {
        host: '127.0.0.1',
        port,
        ca: pki.ca.certPem,
        cert: pki.alice.certPem,
        key: pki.alice.keyPem,
        servername: 'localhost',
        ...(alpn === undefined ? {} : { ALPNProtocols: [alpn] }),
      },
      () => {
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? 'none';
        socket.destroy();
        resolve(fingerprint);
      },
    );
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error('timeout')));
    socket.once('error', reject);
  });
}

async function withTimeout(promise: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(() => (onTimeout(), resolve()), ms)))]);
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// The JWKS proxy: forwards GET /.well-known/jwks.json to the STS, or is "down".

type ProxyMode = 'up' | 'reset' | '503';

interface JwksProxy {
  url: string;
  mode: ProxyMode;
  served: number;
  refused: number;
  /** performance.now() of the last document served that contained each kid. */
  servedKidAt: Map<string, number>;
  /** Emits 'served' after each document served (servedKidAt is updated first). */
  events: EventEmitter;
  /** performance.now() when the last outage ended (undefined: none yet). */
  upSince: number;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

async function startJwksProxy(pki: TestPki, upstream: string, onFailure: (failure: SoakFailure) => void): Promise<JwksProxy> {
  const upstreamAgent = new Agent({ connect: { ca: pki.ca.certPem } });
  const proxy: JwksProxy = {
    url: '',
    mode: 'up',
    served: 0,
    refused: 0,
    servedKidAt: new Map(),
    events: new EventEmitter(),
    upSince: performance.now(),
    setMode(mode) {
      if (mode !== 'up') server.closeIdleConnections();
      if (mode === 'up' && proxy.mode !== 'up') proxy.upSince = performance.now();
      proxy.mode = mode;
    },
    async close() {
      await withTimeout(new Promise<void>((resolve) => (server.close(() => resolve()), server.closeIdleConnections())), 3000, () =>
        server.closeAllConnections(),
      );
      await upstreamAgent.close();
    },
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (proxy.mode === 'reset') {
      proxy.refused += 1;
      req.socket.destroy();
      return;
    }
    if (proxy.mode === '503') {
      proxy.refused += 1;
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('jwks proxy: down for the soak');
      return;
    }
    if (req.method !== 'GET' || req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    try {
      const answer = await request(`${upstream}/.well-known/jwks.json`, {
        dispatcher: upstreamAgent,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
      const body = await answer.body.text();
      if (answer.statusCode !== 200) throw new Error(`STS JWKS answered ${answer.statusCode}: ${body.slice(0, 200)}`);
      const now = performance.now();
      for (const key of (JSON.parse(body) as { keys: Array<{ kid?: string }> }).keys)
        if (key.kid !== undefined) proxy.servedKidAt.set(key.kid, now);
      proxy.served += 1;
      proxy.events.emit('served');
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': String(answer.headers['cache-control'] ?? 'no-store') })
        .end(body);
    } catch (error) {
      onFailure({ kind: 'jwks-proxy', detail: `upstream fetch from the STS failed while up: ${describeError(error)}` });
      res.writeHead(502).end();
    }
  };
  const server: HttpsServer = createHttpsServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (req, res) => void handle(req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

// ---------------------------------------------------------------------------------------------
// The run

/** Mallory's current certificate and when (performance.now()) it was revoked. */
interface MalloryCert {
  cert: IssuedCertificate;
  generation: number;
  revokedAt: number | undefined;
}

interface Shared {
  pki: TestPki;
  stsUrl: string;
  resourceUrl: string;
  grpcTarget: string;
  /** Incremented by every TLS reload: workers reconnect, so the new material is really used. */
  tlsGeneration: number;
  mallory: MalloryCert;
  startedAt: number;
  deadline: number;
  maxRequests: number;
  sent: number;
  stoppedBy: 'duration' | 'maxRequests' | undefined;
  requests: Record<Kind, number>;
  expectedRefusals: Record<Kind, number>;
  straddled: number;
  reusedTokenCalls: number;
  latency: Record<Kind, Latency>;
  tokensByKid: Map<string, number>;
  failures: SoakFailure[];
  failureCount: number;
  faults: string[];
  faultCounts: Record<string, number>;
  log: (line: string) => void;
}

function elapsed(shared: Shared): string {
  return `+${((performance.now() - shared.startedAt) / 1000).toFixed(1)}s`;
}

function fail(shared: Shared, failure: SoakFailure): void {
  shared.failureCount += 1;
  if (shared.failures.length < MAX_RECORDED_FAILURES)
    shared.failures.push({ kind: failure.kind, detail: `${elapsed(shared)} ${failure.detail}` });
  if (shared.failureCount <= 20) shared.log(`${elapsed(shared)} FAILURE ${failure.kind}: ${failure.detail}`);
}

function fault(shared: Shared, kind: string, detail: string): void {
  const line = `${elapsed(shared)} ${kind}: ${detail}`;
  shared.faults.push(line);
  shared.faultCounts[kind] = (shared.faultCounts[kind] ?? 0) + 1;
  shared.log(line);
}

function stopping(shared: Shared): boolean {
  if (shared.stoppedBy !== undefined) return true;
  if (performance.now() >= shared.deadline) shared.stoppedBy = 'duration';
  else if (shared.sent >= shared.maxRequests) shared.stoppedBy = 'maxRequests';
  return shared.stoppedBy !== undefined;
}

/** Take one request from the budget; false when the run is over. */
function take(shared: Shared): boolean {
  if (stopping(shared)) return false;
  shared.sent += 1;
  return true;
}

/** What one request came to: served (with the expected content), or refused/failed with detail. */
type Outcome = { ok: true; token?: string } | { ok: false; refusedAsRevoked: boolean; detail: string };

async function exchange(shared: Shared, agent: Agent, secret: string): Promise<Outcome> {
  const form = new URLSearchParams(exchangeRequest({ subject_token: secret }) as Record<string, string>).toString();
  let statusCode: number;
  let text: string;
  try {
    const response = await request(`${shared.stsUrl}/token`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    statusCode = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    return { ok: false, refusedAsRevoked: false, detail: describeError(error) };
  }
  let body: { access_token?: unknown; error?: unknown; error_description?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // reported below with the raw text
  }
  if (statusCode === 200 && typeof body.access_token === 'string') {
    const kid = String(decodeProtectedHeader(body.access_token).kid);
    shared.tokensByKid.set(kid, (shared.tokensByKid.get(kid) ?? 0) + 1);
    return { ok: true, token: body.access_token };
  }
  const refusedAsRevoked = statusCode === 401 && body.error === 'invalid_client' && body.error_description === REVOKED_DESCRIPTION;
  return { ok: false, refusedAsRevoked, detail: `HTTP ${statusCode} ${text.slice(0, 300)}` };
}

async function callResource(shared: Shared, agent: Agent, token: string, subject: string): Promise<Outcome> {
  try {
    const response = await request(`${shared.resourceUrl}/`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}` },
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    const text = await response.body.text();
    if (response.statusCode === 200) {
      const body = JSON.parse(text) as { subject?: unknown };
      if (body.subject === subject) return { ok: true };
      return { ok: false, refusedAsRevoked: false, detail: `HTTP 200 for the wrong subject: ${text.slice(0, 300)}` };
    }
    let description: unknown;
    try {
      description = (JSON.parse(text) as { error_description?: unknown }).error_description;
    } catch {
      description = undefined;
    }
    const challenge = String(response.headers['www-authenticate'] ?? '');
    return {
      ok: false,
      refusedAsRevoked: response.statusCode === 401 && description === REVOKED_DESCRIPTION,
      detail: `HTTP ${response.statusCode} ${text.slice(0, 300)} www-authenticate: ${challenge}`,
    };
  } catch (error) {
    return { ok: false, refusedAsRevoked: false, detail: describeError(error) };
  }
}

async function callGrpc(client: EchoClient, token: string, subject: string): Promise<Outcome> {
  const outcome = await callUnary(client, bearer(token), 'soak');
  if (outcome.code === grpcStatus.OK) {
    if (outcome.replies[0]?.includes(`(token subject ${subject},`)) return { ok: true };
    return { ok: false, refusedAsRevoked: false, detail: `OK for the wrong subject: ${outcome.replies[0] ?? ''}` };
  }
  // A revoked certificate fails the TLS handshake: UNAVAILABLE without certbound's error trailer
  // (which CB_JWKS_UNAVAILABLE, also UNAVAILABLE, would carry).
  return {
    ok: false,
    refusedAsRevoked: outcome.code === grpcStatus.UNAVAILABLE && outcome.trailer === undefined,
    detail: `gRPC ${grpcStatus[outcome.code] ?? outcome.code} (${outcome.code}) ${outcome.details} trailer=${outcome.trailer ?? '-'}`,
  };
}

interface Connections {
  agent: Agent;
  grpc: EchoClient;
  /** performance.now() when made: every connection they open handshakes after this. */
  createdAt: number;
  tlsGeneration: number;
  cert: IssuedCertificate;
}

function connectAs(shared: Shared, cert: IssuedCertificate): Connections {
  const { EchoServer } = loadEchoDefinitions();
  // A local subchannel pool: otherwise grpc-js shares one connection between equal clients, and
  // a new client would not handshake again after a TLS reload. The target is 127.0.0.1 (loopback
  // only, no resolver), verified as "localhost" (an IP is no TLS server name, RFC 6066 §3).
  const grpc = new EchoServer(shared.grpcTarget, channelCredentials(shared.pki, cert), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
  }) as unknown as EchoClient;
  return {
    agent: createMtlsAgent({ ca: shared.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem }),
    grpc,
    createdAt: performance.now(),
    tlsGeneration: shared.tlsGeneration,
    cert,
  };
}

async function disconnect(connections: Connections): Promise<void> {
  connections.grpc.close();
  await withTimeout(connections.agent.close(), 5000, () => void connections.agent.destroy());
}

/**
 * One client's loop: exchange → resource → gRPC with the fresh token, and on every other
 * iteration a resource and a gRPC call with the previous token too. alice and bob must always be
 * served. mallory must be served until her certificate is revoked, and refused (for that reason)
 * on connections made after the revocation; a request that straddles the revocation may go either
 * way. After each revocation she gets a newly issued certificate at the next cycle.
 */
async function worker(shared: Shared, name: ClientName, secret: string, warmUp: boolean): Promise<void> {
  const certOf = (): IssuedCertificate => (name === 'alice' ? shared.pki.alice : name === 'bob' ? shared.pki.bob : shared.mallory.cert);
  let connections = connectAs(shared, certOf());
  let malloryState: MalloryCert | undefined = name === 'mallory' ? shared.mallory : undefined;
  let previous: { token: string; at: number } | undefined;
  let current: { token: string; at: number } | undefined;
  let iteration = 0;
  try {
    while (warmUp ? iteration < 1 : !stopping(shared)) {
      iteration += 1;
      const certChanged = name === 'mallory' && malloryState !== shared.mallory;
      const revokedSinceConnect = malloryState?.revokedAt !== undefined && malloryState.revokedAt > connections.createdAt;
      if (certChanged || revokedSinceConnect || connections.tlsGeneration !== shared.tlsGeneration || iteration % RECONNECT_EVERY === 0) {
        await disconnect(connections);
        if (certChanged) {
          malloryState = shared.mallory;
          previous = current = undefined; // tokens bound to the old certificate
        }
        connections = connectAs(shared, certOf());
      }
      const mustBeRefused = malloryState?.revokedAt !== undefined && malloryState.revokedAt <= connections.createdAt;
      const judge = (kind: Kind, startedAt: number, outcome: Outcome, detail: string): boolean => {
        const tookMs = performance.now() - startedAt;
        shared.latency[kind].add(tookMs);
        if (malloryState === undefined) {
          if (!outcome.ok) fail(shared, { kind, detail: `${name} ${detail}: ${outcome.detail}` });
          return outcome.ok;
        }
        // mallory: decide with the revocation state at the end of the request.
        if (malloryState.revokedAt === undefined) {
          if (!outcome.ok) fail(shared, { kind, detail: `mallory (not revoked) ${detail}: ${outcome.detail}` });
          return outcome.ok;
        }
        if (mustBeRefused) {
          if (outcome.ok) fail(shared, { kind, detail: `mallory's revoked certificate was served: ${detail}` });
          else if (!outcome.refusedAsRevoked)
            fail(shared, { kind, detail: `mallory (revoked) ${detail}: not the revocation refusal: ${outcome.detail}` });
          else shared.expectedRefusals[kind] += 1;
          return false;
        }
        shared.straddled += 1;
        if (!outcome.ok && !outcome.refusedAsRevoked)
          fail(shared, { kind, detail: `mallory (revocation in flight) ${detail}: ${outcome.detail}` });
        return outcome.ok;
      };
      const count = (kind: Kind): boolean => {
        if (!warmUp && !take(shared)) return false;
        if (!warmUp) shared.requests[kind] += 1;
        return true;
      };

      if (!count('token')) break;
      let startedAt = performance.now();
      const issued = await exchange(shared, connections.agent, secret);
      if (judge('token', startedAt, issued, 'token exchange') && issued.ok && issued.token !== undefined) {
        previous = current;
        current = { token: issued.token, at: performance.now() };
      }
      const calls: Array<{ token: string; reused: boolean }> = [];
      if (current !== undefined) calls.push({ token: current.token, reused: false });
      if (iteration % 2 === 1 && previous !== undefined && performance.now() - previous.at < REUSE_MAX_AGE_MS)
        calls.push({ token: previous.token, reused: true });
      for (const call of calls) {
        if (!count('resource')) break;
        startedAt = performance.now();
        judge(
          'resource',
          startedAt,
          await callResource(shared, connections.agent, call.token, name),
          `GET / (${call.reused ? 'reused' : 'fresh'} token)`,
        );
        if (!count('grpc')) break;
        startedAt = performance.now();
        judge(
          'grpc',
          startedAt,
          await callGrpc(connections.grpc, call.token, name),
          `SayHello (${call.reused ? 'reused' : 'fresh'} token)`,
        );
        if (call.reused && !warmUp) shared.reusedTokenCalls += 2;
      }
      // A revoked client is refused quickly; do not let it spin.
      if (mustBeRefused) await sleep(250);
    }
  } finally {
    await disconnect(connections);
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  if (!Number.isFinite(options.durationMs) || options.durationMs <= 0) throw new TypeError('durationMs must be a positive number');
  if (!Number.isInteger(options.maxRequests) || options.maxRequests <= 0) throw new TypeError('maxRequests must be a positive integer');
  const log = options.log ?? (() => {});
  const cleanups: Array<() => unknown> = [];
  const gc = forcedGc();

  try {
    // --- setup ---------------------------------------------------------------------------
    const pki = await createTestPki();
    let serverCert = pki.server;
    const revokedCerts: string[] = [];
    let crl: string | undefined;
    const tlsNow = (): ServerTlsOptions => ({
      ca: pki.ca.certPem,
      cert: serverCert.certPem,
      key: serverCert.keyPem,
      ...(crl === undefined ? {} : { crl }),
    });

    // Failures reported by servers' events, before `shared` exists or from callbacks.
    const early: SoakFailure[] = [];
    let shared: Shared | undefined;
    const lateFailure = (failure: SoakFailure): void => {
      if (shared === undefined) early.push(failure);
      else fail(shared, failure);
    };

    const dir = await mkdtemp(join(tmpdir(), 'certbound-soak-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await addKeystoreKey(dir, { now: Math.floor(Date.now() / 1000) });
    const keys: KeystoreProvider = await openKeystore(dir, {
      onEvent: (event) => {
        if (event.type === 'keystore.reload_failed') lateFailure({ kind: 'keystore', detail: `reload failed: ${event.error.message}` });
      },
    });
    cleanups.push(() => keys.close());

    const sts = createStsServer({
      issuer: ISSUER,
      keys,
      policy: soakPolicy(pki),
      tls: tlsNow(),
      accessTokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
      // The loops ask for a token per iteration, far above a real client's rate.
      rateLimit: false,
      onEvent: (event: StsEvent) => {
        if (event.type === 'server.error') lateFailure({ kind: 'sts', detail: `server.error ${event.detail}` });
      },
    });
    const stsUrl = (await sts.listen(0, '127.0.0.1')).origin;
    cleanups.push(() => closeManaged(sts));

    const proxy = await startJwksProxy(pki, stsUrl, lateFailure);
    cleanups.push(() => proxy.close());
    const jwksCounts = { fetchFailedEvents: 0, recoveredEvents: 0 };
    const jwks = await loadJwksSource(`${proxy.url}/.well-known/jwks.json`, {
      ca: pki.ca.certPem,
      cacheMaxAgeMs: JWKS_CACHE_MAX_AGE_MS,
      cooldownMs: JWKS_COOLDOWN_MS,
      maxStalenessMs: JWKS_MAX_STALENESS_MS,
      timeoutMs: 2000,
      onEvent: (event: JwksEvent) => {
        if (event.type === 'jwks.recovered') jwksCounts.recoveredEvents += 1;
        if (event.type === 'jwks.expired') lateFailure({ kind: 'jwks', detail: `cached keys expired (${event.keysAgeSeconds} s old)` });
        if (event.type === 'jwks.fetch_failed') {
          jwksCounts.fetchFailedEvents += 1;
          // Expected while the proxy is down (and just after: a fetch refused at the last moment).
          if (proxy.mode === 'up' && performance.now() - proxy.upSince > 1000)
            lateFailure({ kind: 'jwks', detail: `fetch failed while the proxy was up: ${event.detail}` });
        }
      },
    });
    const verifier = createBoundTokenVerifier({ keys: jwks, issuer: ISSUER, audience: AUDIENCE });
    const resource = createResourceServer({ tls: tlsNow(), verifier });
    const resourceUrl = (await resource.listen(0, '127.0.0.1')).origin;
    cleanups.push(() => closeManaged(resource));
    const echo = createEchoServer({ tls: tlsNow(), verifier });
    const grpcPort = Number((await echo.listen(0, '127.0.0.1')).port);
    cleanups.push(() => closeGrpc(echo));

    const cycleMs = options.durationMs >= 60_000 ? 30_000 : 15_000;
    const mallory0 = await issueCertificate(pki.ca, { commonName: 'mallory', usage: 'client' });
    shared = {
      pki,
      stsUrl,
      resourceUrl,
      grpcTarget: `127.0.0.1:${grpcPort}`,
      tlsGeneration: 0,
      mallory: { cert: mallory0, generation: 0, revokedAt: undefined },
      startedAt: performance.now(),
      deadline: Number.POSITIVE_INFINITY,
      maxRequests: options.maxRequests,
      sent: 0,
      stoppedBy: undefined,
      requests: { token: 0, resource: 0, grpc: 0 },
      expectedRefusals: { token: 0, resource: 0, grpc: 0 },
      straddled: 0,
      reusedTokenCalls: 0,
      latency: { token: new Latency(), resource: new Latency(), grpc: new Latency() },
      tokensByKid: new Map(),
      failures: [],
      failureCount: 0,
      faults: [],
      faultCounts: {},
      log,
    };
    const s: Shared = shared;
    for (const failure of early) fail(s, failure);

    const clients: Array<[ClientName, string]> = [
      ['alice', ALICE_SECRET],
      ['alice', ALICE_SECRET],
      ['bob', BOB_SECRET],
      ['mallory', MALLORY_SECRET],
    ];
    // Warm-up: one iteration per client (JIT, first handshakes, first JWKS fetch), not counted.
    await Promise.all(clients.map(([name, secret]) => worker(s, name, secret, true)));
    if (s.failureCount > 0) log(`warm-up had ${s.failureCount} failures`);
    s.tokensByKid.clear();

    const start = measureMemory(gc);
    let rssPeak = start.rss;
    const memorySamples: SoakReport['memorySamples'] = [];
    s.startedAt = performance.now();
    s.deadline = s.startedAt + options.durationMs;
    log(
      `soak: ${options.durationMs / 1000} s or ${options.maxRequests} requests; ${clients.length} loops; fault cycle ${cycleMs / 1000} s; rss ${mb(start.rss)} MB, heap ${mb(start.heap)} MB${gc === undefined ? ' (no forced GC)' : ' (after GC)'}`,
    );

    const sampler = setInterval(() => {
      const usage = process.memoryUsage();
      rssPeak = Math.max(rssPeak, usage.rss);
      memorySamples.push({
        atSeconds: Math.round((performance.now() - s.startedAt) / 1000),
        rssMb: mb(usage.rss),
        heapMb: mb(usage.heapUsed),
      });
      if (memorySamples.length % 2 === 0) {
        log(
          `${elapsed(s)} requests token=${s.requests.token} resource=${s.requests.resource} grpc=${s.requests.grpc} failures=${s.failureCount} rss=${mb(usage.rss)} MB heap=${mb(usage.heapUsed)} MB`,
        );
      }
    }, MEMORY_SAMPLE_MS);

    // --- faults ------------------------------------------------------------------------------
    let reloads = 0;
    const reloadAll = async (why: string, freshCertificate: boolean, onApplied?: () => void): Promise<void> => {
      if (freshCertificate) serverCert = await issueServerCertificate(pki);
      const tls = tlsNow();
      // All three synchronous: from here on every new handshake uses the new material.
      sts.reloadTls(tls);
      resource.reloadTls(tls);
      echo.reloadTls(tls);
      onApplied?.();
      s.tlsGeneration += 1;
      reloads += 1;
      // Prove it: a new handshake with each server gets the new certificate.
      const expected = new X509Certificate(serverCert.certPem).fingerprint256;
      const ports: Array<[string, number, string | undefined]> = [
        ['sts', Number(new URL(stsUrl).port), undefined],
        ['resource', Number(new URL(resourceUrl).port), undefined],
        ['grpc', grpcPort, 'h2'],
      ];
      const seen = await Promise.all(
        ports.map(
          async ([server, port, alpn]) =>
            [server, await servedFingerprint(port, pki, alpn).catch((error: unknown) => describeError(error))] as const,
        ),
      );
      const wrong = seen.filter(([, fingerprint]) => fingerprint !== expected);
      for (const [server, fingerprint] of wrong)
        fail(s, { kind: 'fault', detail: `after TLS reload #${reloads} ${server} served ${fingerprint}, not the new certificate` });
      fault(
        s,
        why,
        `#${reloads} sts+resource+grpc reloadTls (${freshCertificate ? `new server certificate serial ${new X509Certificate(serverCert.certPem).serialNumber.slice(0, 12)}…` : 'same certificate'}${crl === undefined ? '' : `, CRL revoking ${revokedCerts.length}`}); new handshakes verified${wrong.length === 0 ? '' : ' — MISMATCH'}`,
      );
    };

    let rotation: { kid: string; publishedAt: number; activatesAtMs: number } | undefined;
    const rotate = async (): Promise<void> => {
      const key = await addKeystoreKey(dir, {
        now: Math.floor(Date.now() / 1000),
        publishAheadSeconds: PUBLISH_AHEAD_SECONDS,
        maxTokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
      });
      if (!(await keys.reload())) fail(s, { kind: 'fault', detail: 'keystore reload after the rotation failed' });
      const activatesAtMs = performance.now() + (key.activateAt * 1000 - Date.now());
      rotation = { kid: key.kid, publishedAt: performance.now(), activatesAtMs };
      fault(
        s,
        'key-rotation',
        `new key ${key.kid.slice(0, 12)}… published now, signs from +${((activatesAtMs - s.startedAt) / 1000).toFixed(1)}s`,
      );
    };

    /**
     * Wait until the proxy has served the rotated key, so the verifier has it cached: checked on
     * each document it serves, for at most 5 s and not past the end of the run.
     */
    const newKeyFetched = async (): Promise<boolean> => {
      const fetched = (): boolean => rotation === undefined || (proxy.servedKidAt.get(rotation.kid) ?? -1) >= rotation.publishedAt;
      try {
        await whenever(proxy.events, 'served', fetched, 'the rotated key served', {
          timeoutMs: Math.max(0, Math.min(5000, s.deadline - performance.now())),
        });
      } catch {
        // not within the bound: the caller reports it unless the run is over
      }
      return fetched();
    };

    let outageStarted: { at: number; refusedBefore: number; mode: ProxyMode } | undefined;
    let outages = 0;
    const outageStart = async (withRotation: boolean): Promise<void> => {
      if (withRotation && !(await newKeyFetched())) {
        if (!stopping(s)) fail(s, { kind: 'fault', detail: 'the verifier did not fetch the rotated key within 5 s; outage skipped' });
        return;
      }
      if (stopping(s)) return;
      outages += 1;
      const mode: ProxyMode = outages % 2 === 1 ? 'reset' : '503';
      proxy.setMode(mode);
      outageStarted = { at: performance.now(), refusedBefore: proxy.refused, mode };
      const note =
        withRotation && rotation !== undefined
          ? `; rotated key ${rotation.kid.slice(0, 12)}… already fetched, activates ${((rotation.activatesAtMs - performance.now()) / 1000).toFixed(1)} s into the outage`
          : '';
      fault(s, 'jwks-outage', `#${outages} JWKS proxy down (${mode === 'reset' ? 'connections destroyed' : 'HTTP 503'})${note}`);
    };
    const outageEnd = (): void => {
      if (outageStarted === undefined) return;
      const { at, refusedBefore, mode } = outageStarted;
      outageStarted = undefined;
      proxy.setMode('up');
      const refused = proxy.refused - refusedBefore;
      const lasted = ((performance.now() - at) / 1000).toFixed(1);
      if (refused === 0 && !stopping(s))
        fail(s, { kind: 'fault', detail: `JWKS outage (${mode}) of ${lasted} s refused no fetch: the outage was not exercised` });
      fault(s, 'jwks-outage-end', `JWKS proxy up after ${lasted} s; ${refused} fetches refused meanwhile`);
    };

    const checkRotationSigned = (): void => {
      if (rotation === undefined || stopping(s)) return;
      const signed = s.tokensByKid.get(rotation.kid) ?? 0;
      if (performance.now() > rotation.activatesAtMs + 1000 && signed === 0)
        fail(s, { kind: 'fault', detail: `rotated key ${rotation.kid} has signed no token 1 s after its activation` });
    };

    const reissueMallory = async (): Promise<void> => {
      const cert = await issueCertificate(pki.ca, { commonName: 'mallory', usage: 'client' });
      s.mallory = { cert, generation: s.mallory.generation + 1, revokedAt: undefined };
      fault(s, 'cert-reissue', `mallory gets a new certificate (#${s.mallory.generation})`);
    };
    const revokeMallory = async (): Promise<void> => {
      revokedCerts.push(s.mallory.cert.certPem);
      crl = await createCrl(pki.ca, { revoked: revokedCerts });
      const state = s.mallory;
      await reloadAll('crl-revocation', false, () => (state.revokedAt = performance.now()));
    };

    type Step = { at: number; run: () => Promise<void> | void };
    const stepsOf = (cycle: number): Step[] => {
      const base = cycle * cycleMs;
      const steps: Step[] = [
        ...(cycle === 0 ? [] : [{ at: CYCLE.reissueMallory, run: reissueMallory }]),
        { at: CYCLE.tlsReload1, run: () => reloadAll('tls-reload', true) },
        { at: CYCLE.rotate, run: rotate },
        { at: CYCLE.outage1Start, run: () => outageStart(true) },
        { at: CYCLE.tlsReload2, run: () => reloadAll('tls-reload', true) },
        { at: CYCLE.outage1End, run: () => (outageEnd(), checkRotationSigned()) },
        { at: CYCLE.revokeMallory, run: revokeMallory },
        { at: CYCLE.tlsReload3, run: () => reloadAll('tls-reload', true) },
        { at: CYCLE.outage2Start, run: () => outageStart(false) },
        { at: CYCLE.outage2End, run: outageEnd },
        { at: CYCLE.tlsReload4, run: () => reloadAll('tls-reload', true) },
        ...(cycleMs >= 30_000 ? [{ at: CYCLE.tlsReload5, run: () => reloadAll('tls-reload', true) }] : []),
      ];
      return steps.map((step) => ({ at: base + step.at, run: step.run }));
    };

    const scheduler = async (): Promise<void> => {
      try {
        for (let cycle = 0; !stopping(s); cycle++) {
          for (const step of stepsOf(cycle)) {
            while (!stopping(s) && performance.now() - s.startedAt < step.at)
              await sleep(Math.min(50, step.at - (performance.now() - s.startedAt)));
            if (stopping(s)) break;
            await step.run();
          }
          while (!stopping(s) && performance.now() - s.startedAt < (cycle + 1) * cycleMs) await sleep(50);
        }
      } catch (error) {
        fail(s, { kind: 'fault', detail: `fault injection threw: ${describeError(error)}` });
      } finally {
        if (outageStarted !== undefined) {
          outageStarted = undefined;
          proxy.setMode('up');
          fault(s, 'jwks-outage-end', 'JWKS proxy up (end of run)');
        }
      }
    };

    // --- load --------------------------------------------------------------------------------
    await Promise.all([scheduler(), ...clients.map(([name, secret]) => worker(s, name, secret, false))]);
    const durationMs = Math.round(performance.now() - s.startedAt);
    clearInterval(sampler);
    const end = measureMemory(gc);
    rssPeak = Math.max(rssPeak, end.rss);
    log(`${elapsed(s)} stopped (${s.stoppedBy ?? 'duration'}); rss ${mb(end.rss)} MB, heap ${mb(end.heap)} MB`);

    const heapGrowth = mb(end.heap - start.heap);
    const rssGrowth = mb(end.rss - start.rss);
    return {
      durationMs,
      requests: { ...s.requests },
      failures: s.failures,
      failureCount: s.failureCount,
      faults: s.faults,
      faultCounts: s.faultCounts,
      expectedRefusals: { ...s.expectedRefusals },
      straddled: s.straddled,
      reusedTokenCalls: s.reusedTokenCalls,
      tokensByKid: Object.fromEntries(s.tokensByKid),
      jwks: { fetchesServed: proxy.served, fetchesRefused: proxy.refused, ...jwksCounts },
      latencyMs: { token: s.latency.token.summary(), resource: s.latency.resource.summary(), grpc: s.latency.grpc.summary() },
      rssStartMb: mb(start.rss),
      rssEndMb: mb(end.rss),
      heapStartMb: mb(start.heap),
      heapEndMb: mb(end.heap),
      rssPeakMb: mb(rssPeak),
      memorySamples,
      gcForced: gc !== undefined,
      memoryBounds: { ...SOAK_MEMORY_BOUNDS },
      memoryWithinBounds: heapGrowth < SOAK_MEMORY_BOUNDS.heapGrowthMb && rssGrowth < SOAK_MEMORY_BOUNDS.rssGrowthMb,
      stoppedBy: s.stoppedBy ?? 'duration',
      node: process.version,
      cpus: availableParallelism(),
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

async function closeManaged(server: ManagedServer): Promise<void> {
  await withTimeout(server.close(), 5000, () => server.forceClose());
}

async function closeGrpc(server: ManagedGrpcServer): Promise<void> {
  await withTimeout(server.close(), 5000, () => server.forceClose());
}

// ---------------------------------------------------------------------------------------------
// Report and CLI

/** The report as a human-readable table. */
export function formatReport(report: SoakReport): string {
  const rows: Array<[string, string]> = [
    ['node / cpus', `${report.node} / ${report.cpus}`],
    ['duration', `${(report.durationMs / 1000).toFixed(1)} s (stopped by ${report.stoppedBy})`],
    [
      'requests token / resource / grpc',
      `${report.requests.token} / ${report.requests.resource} / ${report.requests.grpc} (total ${report.requests.token + report.requests.resource + report.requests.grpc})`,
    ],
    [
      'throughput',
      `${Math.round(((report.requests.token + report.requests.resource + report.requests.grpc) * 1000) / Math.max(1, report.durationMs))} req/s`,
    ],
    ['calls with a reused token', String(report.reusedTokenCalls)],
    ['latency p50/p99/max token', `${report.latencyMs.token.p50} / ${report.latencyMs.token.p99} / ${report.latencyMs.token.max} ms`],
    [
      'latency p50/p99/max resource',
      `${report.latencyMs.resource.p50} / ${report.latencyMs.resource.p99} / ${report.latencyMs.resource.max} ms`,
    ],
    ['latency p50/p99/max grpc', `${report.latencyMs.grpc.p50} / ${report.latencyMs.grpc.p99} / ${report.latencyMs.grpc.max} ms`],
    [
      'faults',
      Object.entries(report.faultCounts)
        .map(([kind, n]) => `${kind} ${n}`)
        .join(', '),
    ],
    ['tokens by signing key', Object.values(report.tokensByKid).join(' → ') + ` (${Object.keys(report.tokensByKid).length} keys)`],
    [
      'JWKS fetches served / refused',
      `${report.jwks.fetchesServed} / ${report.jwks.fetchesRefused} (fetch_failed events ${report.jwks.fetchFailedEvents}, recovered ${report.jwks.recoveredEvents})`,
    ],
    [
      'expected refusals (revoked mallory)',
      `token ${report.expectedRefusals.token}, resource ${report.expectedRefusals.resource}, grpc ${report.expectedRefusals.grpc}; straddling the revocation ${report.straddled}`,
    ],
    ['UNEXPECTED FAILURES', String(report.failureCount)],
    [
      'RSS start → end (peak)',
      `${report.rssStartMb} → ${report.rssEndMb} MB (${report.rssPeakMb} MB), bound +${report.memoryBounds.rssGrowthMb} MB`,
    ],
    [
      'heapUsed start → end',
      `${report.heapStartMb} → ${report.heapEndMb} MB, bound +${report.memoryBounds.heapGrowthMb} MB${report.gcForced ? ' (after forced GC)' : ' (no forced GC)'}`,
    ],
    ['memory within bounds', report.memoryWithinBounds ? 'yes' : 'NO'],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, value]) => `| ${name.padEnd(width)} | ${value}`);
  const samples = report.memorySamples.filter((_, i) => i % 2 === 1 || i === report.memorySamples.length - 1);
  const memoryLine = samples.map((sample) => `${sample.atSeconds}s ${sample.rssMb}/${sample.heapMb}`).join(', ');
  return [
    ...lines,
    '',
    `memory samples (rss/heap MB): ${memoryLine}`,
    '',
    'faults:',
    ...report.faults.map((line) => `  ${line}`),
    ...(report.failures.length === 0
      ? []
      : ['', 'failures:', ...report.failures.map((failure) => `  [${failure.kind}] ${failure.detail}`)]),
  ].join('\n');
}

function parseArguments(argv: readonly string[]): { durationMs: number; maxRequests: number } {
  let durationSeconds = 180;
  let maxRequests: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (flag === '--duration-seconds' && Number.isFinite(value) && value > 0) durationSeconds = value;
    else if (flag === '--max-requests' && Number.isInteger(value) && value > 0) maxRequests = value;
    else throw new TypeError(`usage: soak.js [--duration-seconds N] [--max-requests N] (bad argument ${flag ?? ''} ${argv[i + 1] ?? ''})`);
    i += 1;
  }
  // Default request bound: far above what 2 cores serve (~1000 req/s), so the duration decides.
  return { durationMs: durationSeconds * 1000, maxRequests: maxRequests ?? Math.ceil(durationSeconds * 5000) };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArguments(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const report = await runSoak({ ...parsed, log: (line) => console.log(line) });
  console.log(`\n${formatReport(report)}\n`);
  console.log(JSON.stringify(report, null, 2));
  const ok = report.failureCount === 0 && report.memoryWithinBounds;
  console.log(
    ok ? '\nsoak: PASS' : `\nsoak: FAIL (${report.failureCount} unexpected failures; memory within bounds: ${report.memoryWithinBounds})`,
  );
  process.exit(ok ? 0 : 1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error('soak: crashed:', error);
    process.exit(1);
  });
}
