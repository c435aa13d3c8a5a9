import { request } from 'undici';
import { createMtlsAgent } from '../../client/mtls-agent.js';
import type { FlagSpec } from '../../config/option.js';
import { optionalString, parse, requireFlags, requireString } from '../args.js';
import { OperationFailed, UsageError } from '../errors.js';
import { tokenInput } from '../token-input.js';
import { CLIENT_FLAGS, clientTlsOf, stsConnectionFlags } from './client.js';
import { connectionFailureOf } from '../../client/connection-failure.js';
import { connectionFix } from '../connection-fix.js';

export const usage = `certbound introspect (TOKEN | -) --sts URL --tls-ca F --tls-cert F --tls-key F [--servername NAME] [--client-id ID]
  Ask the STS's RFC 7662 introspection endpoint about TOKEN, over mutual TLS as a registered
  resource server (a client with "introspection: true" in sts.yaml; in the dev PKI that is
  server.crt), and print the introspection response JSON. --sts is the STS (a URL without a path
  means /introspect). TOKEN "-" reads stdin: the token, the token response JSON or an
  "Authorization: Bearer" line, so 'certbound token ... | certbound introspect - ...' works.
  Exit 0 when the token is active, 1 when it is not or the STS refused the caller, 2 bad input.`;

const REUSED = new Set(['tls-ca', 'tls-cert', 'tls-key', 'pkcs11-module', 'pkcs11-pin-file', 'client-id', 'servername']);

export const flags: readonly FlagSpec[] = [
  { flag: 'sts', type: { kind: 'https-url' }, doc: "the STS's introspection endpoint (a URL without a path means /introspect)" },
  ...CLIENT_FLAGS.filter((spec) => spec.flag !== undefined && REUSED.has(spec.flag)),
];

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('introspect', argv, flags, 1);
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const argument = parsed.positionals[0];
  if (argument === undefined) throw new UsageError('introspect: TOKEN is required (the token, or - to read it from stdin)');
  requireFlags('introspect', parsed, ['sts', 'tls-ca', 'tls-cert', 'tls-key']);
  const token = tokenInput('introspect', argument);
  const endpoint = introspectionEndpoint(requireString('introspect', parsed, 'sts'));
  const tls = await clientTlsOf('introspect', parsed);
  const servername = optionalString(parsed, 'servername');
  const clientId = optionalString(parsed, 'client-id');
  const agent = createMtlsAgent({ ...tls, ...(servername === undefined ? {} : { servername }) });
  try {
    const form = new URLSearchParams({
      token,
      token_type_hint: 'access_token',
      ...(clientId === undefined ? {} : { client_id: clientId }),
    });
    let response;
    try {
      response = await request(endpoint, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
      });
    } catch (error) {
      const connection = connectionFailureOf(error);
      if (connection !== undefined)
        throw new OperationFailed(
          `STS ${endpoint.origin} ${connection.summary}: ${connectionFix(connection, stsConnectionFlags('servername'))}`,
        );
      throw new OperationFailed(`cannot reach ${endpoint.origin}: ${(error as Error).message}`);
    }
    const body = await response.body.text();
    const answer = jsonObject(body);
    if (response.statusCode !== 200 || answer === undefined || typeof answer.active !== 'boolean')
      throw new OperationFailed(`the STS refused the introspection request: ${refusal(response.statusCode, answer)}`);
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return answer.active ? 0 : 1;
  } finally {
    await agent.close();
  }
}

/** The endpoint --sts names: the STS's /introspect when the URL has no path of its own. */
function introspectionEndpoint(sts: string): URL {
  const url = new URL(sts);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/introspect';
  return url;
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `401 invalid_client: ...`: the status and the OAuth error the STS gave, when it gave one. */
function refusal(status: number, answer: Record<string, unknown> | undefined): string {
  const error = typeof answer?.error === 'string' ? ` ${answer.error}` : '';
  const description = typeof answer?.error_description === 'string' ? `: ${answer.error_description}` : '';
  return `${status}${error}${description}`;
}
