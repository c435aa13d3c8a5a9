// What the bench runner asks of the load generator (over IPC) and what it answers.
import type { Histogram } from './histogram.js';

/** TLS client material: the load generator presents a real client certificate on every connection. */
export interface ClientTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Name the server certificate is checked against (and SNI). */
  servername: string;
}

/**
 * - `keep-alive`: `concurrency` persistent connections, one request at a time on each;
 * - `new-connection`: every request on a fresh connection, full handshake (no session cache);
 * - `resumption`: every request on a fresh connection, resuming the TLS session of an earlier one.
 */
export type ConnectionMode = 'keep-alive' | 'new-connection' | 'resumption';

export interface PhaseLimits {
  /** Unmeasured requests first (connections, JIT, caches), in ms. */
  warmupMs: number;
  /** Length of the measured window, in ms. */
  durationMs: number;
  /** The measured window also ends after this many requests. */
  maxRequests: number;
  concurrency: number;
}

export interface HttpPhase extends PhaseLimits {
  kind: 'http';
  url: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  mode: ConnectionMode;
  tls: ClientTls;
  /** A 200 response body must contain this string to count as a success. */
  expectBody: string;
}

export interface GrpcPhase extends PhaseLimits {
  kind: 'grpc';
  /** host:port */
  target: string;
  tls: ClientTls;
  /** Bearer token sent as `authorization` metadata, if any. */
  token?: string;
  /** The reply message must contain this string to count as a success. */
  expectReply: string;
}

export type Phase = HttpPhase | GrpcPhase;

export interface PhaseResult {
  /** Successful measured requests. */
  requests: number;
  errors: number;
  /** Up to five distinct error descriptions. */
  errorSamples: string[];
  /** Length of the measured window, ms (until the last measured request finished). */
  elapsedMs: number;
  /** Successful requests per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Latencies of the successful requests, for merging slices (histogram.ts). */
  latencies: Histogram;
  /** TLS connections opened in the measured window, and how many resumed a session. */
  connections: number;
  resumedConnections: number;
  /** CPU seconds the load generator used in the measured window. */
  loadgenCpuSeconds: number;
}

export type LoadgenRequest = { type: 'phase'; id: number; phase: Phase } | { type: 'exit' };
export type LoadgenReply =
  | { type: 'ready' }
  /** The warm-up is over and the measured window starts now (the runner samples server CPU). */
  | { type: 'measuring'; id: number }
  | { type: 'result'; id: number; result: PhaseResult }
  | { type: 'failed'; id: number; error: string };
