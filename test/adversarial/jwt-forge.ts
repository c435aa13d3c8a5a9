// Helpers for test/adversarial/jwt.test.ts: hand-built JWS compact tokens (every byte of header,
// payload and signature under the test's control), a certificate chain with an intermediate CA,
// an HTTP server that counts requests (to prove jku/x5u are never fetched), and a raw TLS client
// for requests undici will not send (duplicate headers, oversized heads).
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs it before it loads
import { createHash, createHmac, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { issueCertificate, type CertificateAuthority, type IssuedCertificate } from '../../src/pki/generate.js';

type After = { after(fn: () => unknown): void };

// ---------------------------------------------------------------------------------------------
// JWS compact serialization by hand (RFC 7515 §7.1).

/** base64url without padding of text (UTF-8) or bytes. */
export function b64u(input: string | Uint8Array): string {
  return Buffer.from(input).toString('base64url');
}

/** Produces the signature bytes over the JWS signing input `BASE64URL(header) || '.' || BASE64URL(payload)`. */
export type Signer = (signingInput: Buffer) => Buffer;

/** ECDSA with the given hash, in the JOSE (IEEE P1363, r||s) encoding RFC 7518 §3.4 requires. */
export function ecdsaSigner(key: KeyObject, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer {
  return (input) => sign(hash, input, { key, dsaEncoding: 'ieee-p1363' });
}

/** RSASSA-PKCS1-v1_5 (RS256 and friends). */
export function rsaSigner(key: KeyObject, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer {
  return (input) => sign(hash, input, key);
}

/** HMAC (HS256 and friends) keyed with arbitrary bytes: the key-confusion attack's signer. */
export function hmacSigner(secret: string | Uint8Array, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer {
  return (input) => createHmac(hash, secret).update(input).digest();
}

/**
 * A compact JWS from the exact header and payload text (or bytes) given: JSON is not re-serialized,
 * so duplicate members, key order and non-JSON payloads survive. `signer` undefined gives an empty
 * signature segment (alg none).
 */
export function compactJws(headerText: string, payload: string | Uint8Array, signer?: Signer): string {
  const signingInput = `${b64u(headerText)}.${b64u(payload)}`;
  const signature = signer === undefined ? '' : b64u(signer(Buffer.from(signingInput, 'ascii')));
  return `${signingInput}.${signature}`;
}

/** The segments of a compact token. */
export function segmentsOf(token: string): string[] {
  return token.split('.');
}

// ---------------------------------------------------------------------------------------------
// Thumbprints, computed here independently of src/ (the test oracle).

/** RFC 8705 §3.1 x5t#S256: base64url(SHA-256(DER)), no padding. */
export function x5tS256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

// ---------------------------------------------------------------------------------------------
// A certificate chain root → intermediate → leaf. The test PKI's root has pathLenConstraint 0
// (createCertificateAuthority), so it cannot have an intermediate below it: this chain gets its
// own root, which the servers under test trust alongside the test CA.

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

async function asAuthority(certificate: x509.X509Certificate, keys: webcrypto.CryptoKeyPair): Promise<CertificateAuthority> {
  const der = Buffer.from(certificate.rawData);
  return {
    certPem: `${certificate.toString('pem')}\n`,
    keyPem: await pkcs8Pem(keys.privateKey),
    der,
    thumbprint: x5tS256(der),
    subject: certificate.subject,
    signingKeys: keys,
    certificate,
  };
}

function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
}

export interface CertificateChain {
  /** Self-signed root without a path length limit. */
  root: CertificateAuthority;
  /** CA issued by `root`, pathLenConstraint 0. */
  intermediate: CertificateAuthority;
  /** Client certificate issued by `intermediate`. */
  leaf: IssuedCertificate;
  /** `leaf` followed by `intermediate`, as the client presents it in the TLS handshake. */
  leafChainPem: string;
}

export async function createCertificateChain(leafCommonName: string): Promise<CertificateChain> {
  const now = Date.now();
  const notBefore = new Date(now - 5 * 60 * 1000);
  const notAfter = new Date(now + 30 * DAY_MS);
  const rootKeys = await generateKeys();
  const rootCertificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: 'CN=adversarial root, O=certbound test',
    notBefore,
    notAfter,
    signingAlgorithm: EC_P256,
    keys: rootKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const root = await asAuthority(rootCertificate, rootKeys);
  const intermediateKeys = await generateKeys();
  const intermediateCertificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: 'CN=adversarial intermediate, O=certbound test',
    issuer: rootCertificate.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: EC_P256,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCertificate),
    ],
  });
  const intermediate = await asAuthority(intermediateCertificate, intermediateKeys);
  const leaf = await issueCertificate(intermediate, { commonName: leafCommonName, usage: 'client' });
  return { root, intermediate, leaf, leafChainPem: `${leaf.certPem}${intermediate.certPem}` };
}

// ---------------------------------------------------------------------------------------------
// An HTTP server on 127.0.0.1 that records every request: the place jku / x5u point at.

export interface CountingServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every request received, as "METHOD /path". */
  requests: string[];
}

/** Serve `routes` (path → body) on 127.0.0.1:0 and record each request; closed with `t`. */
export async function startCountingServer(t: After, routes: Record<string, { type: string; body: string }>): Promise<CountingServer> {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method ?? '?'} ${req.url ?? ''}`);
    const route = routes[(req.url ?? '/').split('?', 1)[0] ?? '/'];
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': route.type, 'content-length': Buffer.byteLength(route.body) });
    res.end(route.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 request over TLS: the request head is written byte for byte.

export interface RawResponse {
  /** 0 when the connection ended before a status line arrived. */
  status: number;
  /** Header name (lower case) → every value, in order. */
  headers: Map<string, string[]>;
  body: string;
  /** The whole response text as received. */
  raw: string;
  /** A socket error seen after (or instead of) the response, e.g. ECONNRESET. */
  socketError: string | undefined;
}

export interface RawRequestOptions {
  port: number;
  ca: string;
  cert: string;
  key: string;
  /** Request line target (default `/`). */
  path?: string;
  /** Header lines without CRLF, e.g. `authorization: Bearer x`. Host and Connection are added. */
  headerLines: string[];
}

/**
 * Send one GET with exactly the given header lines over mutual TLS and read the answer until the
 * server closes. The head is written in 16 KiB pieces and writing stops as soon as the server
 * answers, so an oversized head that the server refuses early does not end in a reset that hides
 * the refusal.
 */
export function rawHttpsGet(options: RawRequestOptions): Promise<RawResponse> {
  const head = Buffer.from(
    [`GET ${options.path ?? '/'} HTTP/1.1`, `host: 127.0.0.1:${options.port}`, 'connection: close', ...options.headerLines, '', ''].join(
      '\r\n',
    ),
    'latin1',
  );
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let socketError: string | undefined;
    let settled = false;
    const socket = connect({
      host: '127.0.0.1',
      port: options.port,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      minVersion: 'TLSv1.2',
    });
    const timer = setTimeout(() => {
      socket.destroy();
      finish(new Error('raw request timed out after 10 s'));
    }, 10_000);
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      if (error !== undefined && raw.length === 0) {
        reject(error);
        return;
      }
      resolve(parseResponse(raw, socketError));
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      socketError = error.code ?? error.message;
    });
    socket.on('close', () =>
      finish(socketError === undefined ? undefined : new Error(`socket closed with ${socketError} before any response`)),
    );
    socket.once('secureConnect', () => {
      void (async () => {
        for (let offset = 0; offset < head.length && chunks.length === 0 && !socket.destroyed; offset += 16 * 1024) {
          const flushed = socket.write(head.subarray(offset, offset + 16 * 1024));
          if (!flushed)
            await new Promise<void>((done) => {
              const go = (): void => {
                socket.off('drain', go);
                socket.off('close', go);
                done();
              };
              socket.on('drain', go);
              socket.on('close', go);
            });
        }
      })();
    });
  });
}

function parseResponse(raw: string, socketError: string | undefined): RawResponse {
  const headers = new Map<string, string[]>();
  const end = raw.indexOf('\r\n\r\n');
  const headText = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? '' : raw.slice(end + 4);
  const [statusLine = '', ...lines] = headText.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: status === undefined ? 0 : Number(status), headers, body, raw, socketError };
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/2 gRPC request over TLS. node:http2 refuses to send a header such as
// `authorization` twice (ERR_HTTP2_HEADER_SINGLE_VALUE) and grpc-js's client refuses two
// `authorization` values, so a request with two of them is written here frame by frame
// (RFC 9113 §3.4, §6; HPACK literals without indexing, RFC 7541 §6.2.2).

export interface RawGrpcOptions {
  port: number;
  ca: string;
  cert: string;
  key: string;
  /** Name the server certificate is checked against (and SNI). */
  servername: string;
  /** Full method path, e.g. /echo.EchoServer/SayHello. */
  path: string;
  /** Extra header fields, in order; a name may repeat. */
  headers: Array<[string, string]>;
  /** The serialized request message (protobuf bytes). */
  message: Uint8Array;
}

export interface RawGrpcResult {
  /** How stream 1 ended: END_STREAM from the server, RST_STREAM, GOAWAY or the socket closing. */
  ending: 'end_stream' | 'rst_stream' | 'goaway' | 'closed';
  /** Frame types received on stream 1, in order (1 HEADERS, 0 DATA, 3 RST_STREAM). */
  streamFrames: number[];
}

function hpackInteger(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const bytes = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInteger(bytes.length, 7, 0x00), bytes]);
}

/** Literal header field without indexing, new name (RFC 7541 §6.2.2). */
function hpackLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

function h2Frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** One unary gRPC call on stream 1 of a fresh connection, with header fields exactly as given. */
export function rawGrpcUnary(options: RawGrpcOptions): Promise<RawGrpcResult> {
  const block = Buffer.concat([
    hpackLiteral(':method', 'POST'),
    hpackLiteral(':scheme', 'https'),
    hpackLiteral(':path', options.path),
    hpackLiteral(':authority', `${options.servername}:${options.port}`),
    hpackLiteral('content-type', 'application/grpc'),
    hpackLiteral('te', 'trailers'),
    ...options.headers.map(([name, value]) => hpackLiteral(name, value)),
  ]);
  const grpcMessage = Buffer.alloc(5 + options.message.length);
  grpcMessage.writeUInt32BE(options.message.length, 1);
  Buffer.from(options.message).copy(grpcMessage, 5);
  const END_STREAM = 0x1;
  const END_HEADERS = 0x4;
  const ACK = 0x1;
  return new Promise((resolve, reject) => {
    const streamFrames: number[] = [];
    let pending = Buffer.alloc(0);
    let settled = false;
    const socket = connect({
      host: '127.0.0.1',
      port: options.port,
      servername: options.servername,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.2',
    });
    const timer = setTimeout(() => done(undefined, new Error('raw gRPC call timed out after 10 s')), 10_000);
    const done = (ending: RawGrpcResult['ending'] | undefined, error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (ending === undefined) reject(error ?? new Error('raw gRPC call failed'));
      else resolve({ ending, streamFrames });
    };
    socket.on('error', (error) => done(undefined, error));
    socket.on('close', () => done('closed'));
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') {
        done(undefined, new Error(`server did not negotiate h2 (got ${String(socket.alpnProtocol)})`));
        return;
      }
      socket.write(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
          h2Frame(0x4, 0, 0, Buffer.alloc(0)), // SETTINGS
          h2Frame(0x1, END_HEADERS, 1, block), // HEADERS
          h2Frame(0x0, END_STREAM, 1, grpcMessage), // DATA
        ]),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const type = pending.readUInt8(3);
        const flags = pending.readUInt8(4);
        const streamId = pending.readUInt32BE(5) & 0x7fffffff;
        const payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === 0x4 && (flags & ACK) === 0) socket.write(h2Frame(0x4, ACK, 0, Buffer.alloc(0)));
        else if (type === 0x6 && (flags & ACK) === 0) socket.write(h2Frame(0x6, ACK, 0, Buffer.from(payload)));
        else if (type === 0x7) done('goaway');
        if (streamId === 1) {
          streamFrames.push(type);
          if (type === 0x3) done('rst_stream');
          else if ((type === 0x0 || type === 0x1) && (flags & END_STREAM) !== 0) done('end_stream');
        }
      }
    });
  });
}
