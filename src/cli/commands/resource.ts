import { createBoundTokenVerifier } from '../../core/verify.js';
import { createResourceServer } from '../../http/resource-server.js';
import { loadJwksSource } from '../../keys/jwks-source.js';
import { loadTlsFiles } from '../../keys/files.js';
import { optionalString, parse, port, requireString, stringList } from '../args.js';
import { UsageError } from '../errors.js';
import { logEvent, serveUntilSignalled } from '../serve.js';

export const usage = `certbound resource --port N --tls-ca F --tls-cert F --tls-key F --jwks FILE_OR_URL
                    --issuer I --audience A [--audience A2 ...] [--required-scope S ...] [--host ADDR]
  Run an HTTPS resource server whose GET / accepts only tokens bound to the caller's client
  certificate. A JWKS URL is fetched over TLS verified with --tls-ca, cached, and re-fetched
  when a token names an unknown key. --required-scope makes GET / answer 403 insufficient_scope
  to tokens without that scope.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parse('resource', argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    'tls-ca': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    jwks: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string', multiple: true },
    'required-scope': { type: 'string', multiple: true },
  });
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const listenPort = port('resource', parsed);
  const tls = await loadTlsFiles({
    ca: requireString('resource', parsed, 'tls-ca'),
    cert: requireString('resource', parsed, 'tls-cert'),
    key: requireString('resource', parsed, 'tls-key'),
  });
  const issuer = requireString('resource', parsed, 'issuer');
  if (!URL.canParse(issuer)) throw new UsageError('resource: --issuer must be the issuer URL the tokens carry in iss');
  const audience = stringList(parsed, 'audience');
  if (audience.length === 0) throw new UsageError('resource: --audience is required');
  const keys = await loadJwksSource(requireString('resource', parsed, 'jwks'), { ca: tls.ca });
  let verifier;
  try {
    verifier = createBoundTokenVerifier({ keys, issuer, audience });
  } catch (error) {
    throw new UsageError(`resource: ${(error as Error).message}`);
  }
  const requiredScopes = stringList(parsed, 'required-scope');
  const server = createResourceServer({ tls, verifier, requiredScopes, onEvent: logEvent('resource') });
  return serveUntilSignalled('resource', server, listenPort, optionalString(parsed, 'host') ?? '127.0.0.1');
}
