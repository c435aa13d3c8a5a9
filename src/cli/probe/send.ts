import { Agent, request } from 'undici';
import { createMtlsAgent } from '../../client/mtls-agent.js';
import type { TlsFiles } from '../../files/tls-files.js';
import { DEFAULTS } from '../../defaults.js';
import { ACCESS_TOKEN_QUERY_PARAMETER, type ProbeCase } from './cases.js';

/** What the probe sends to: the URL, how to reach it, the token and the two clients. */
export interface ProbeTarget {
  url: URL;
  method: string;
  /** TLS SNI, the name the server certificate is checked against, and the Host header. */
  servername: string | undefined;
  /** The CA bundle the server certificate must chain to. */
  ca: string;
  token: string;
  owner: TlsFiles;
  other: TlsFiles;
}

/** How a case's request ended: an HTTP status, a TLS alert from the server, or no answer at all. */
export type Observation =
  /** `error`: the error code of a Bearer challenge (RFC 6750 §3), when the answer has one. */
  | { kind: 'answered'; status: number; error: string | undefined }
  | { kind: 'tls-refused'; reason: string }
  | { kind: 'no-answer'; reason: string };

/** A request that gets no headers within this is reported as unanswered. */
const TIMEOUT_MS = DEFAULTS.client.timeoutMs;

/**
 * Send one case's request, on a connection of its own (a fresh agent: nothing a previous case
 * negotiated is reused), and say how it ended. Never throws for what the server does.
 */
export async function sendCase(target: ProbeTarget, probeCase: ProbeCase): Promise<Observation> {
  const url = new URL(target.url);
  const headers: Record<string, string> = { ...probeCase.headers };
  if (probeCase.token === 'authorization') headers.authorization = `Bearer ${target.token}`;
  else url.searchParams.set(ACCESS_TOKEN_QUERY_PARAMETER, target.token);
  // Gateways compare Host with SNI (Caddy answers 421 when they differ).
  if (target.servername !== undefined) headers.host = url.port === '' ? target.servername : `${target.servername}:${url.port}`;
  const agent = agentFor(target, probeCase);
  try {
    const response = await request(url, {
      method: target.method as 'GET',
      headers,
      dispatcher: agent,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body.dump();
    return { kind: 'answered', status: response.statusCode, error: challengeError(response.headers['www-authenticate']) };
  } catch (error) {
    return failureOf(error, target.token);
  } finally {
    await agent.destroy();
  }
}

function agentFor(target: ProbeTarget, probeCase: ProbeCase): Agent {
  const servername = target.servername === undefined ? {} : { servername: target.servername };
  const client = probeCase.certificate === 'owner' ? target.owner : probeCase.certificate === 'other' ? target.other : undefined;
  if (client !== undefined) return createMtlsAgent({ ca: target.ca, cert: client.cert, key: client.key, ...servername });
  // The same server verification as createMtlsAgent, without a certificate to present.
  return new Agent({ connect: { ca: target.ca, ...servername, minVersion: DEFAULTS.server.tlsMinVersion } });
}

/**
 * A failed request: a TLS alert the server sent (OpenSSL's reason, "tlsv13 alert certificate
 * required") is a refusal at the handshake; anything else (refused or reset connection, a server
 * certificate this side does not trust, a timeout) is no answer. The token never appears.
 */
function failureOf(error: unknown, token: string): Observation {
  const { code, reason, message, name } = (error ?? {}) as { code?: unknown; reason?: unknown; message?: unknown; name?: unknown };
  const redact = (text: string): string => text.split(token).join('[token]');
  if (typeof code === 'string' && code.startsWith('ERR_SSL_') && typeof reason === 'string' && /alert/.test(reason))
    return { kind: 'tls-refused', reason: redact(reason) };
  if (name === 'TimeoutError') return { kind: 'no-answer', reason: `no answer within ${TIMEOUT_MS / 1000} s` };
  const text = (typeof message === 'string' ? message : String(error)).split('\n')[0] ?? '';
  return { kind: 'no-answer', reason: redact(typeof code === 'string' && code !== '' ? `${text} (${code})` : text) };
}

/** `invalid_token` from `Bearer error="invalid_token", ...`: enough to tell why a request was refused. */
function challengeError(header: string | string[] | undefined): string | undefined {
  const challenge = [header ?? []].flat().find((value) => /^Bearer\b/i.test(value));
  return challenge === undefined ? undefined : /\berror="([^"]*)"/.exec(challenge)?.[1];
}
