import { createBoundTokenVerifier, type BoundTokenVerifier } from '../core/verify.js';
import { loadTlsFiles, type TlsFiles } from '../keys/files.js';
import { loadJwksSource } from '../keys/jwks-source.js';
import { requireString, stringList, type Parsed } from './args.js';
import { UsageError } from './errors.js';

/** The flags every token-checking server shares (resource, grpc-server). */
export const PROTECTED_SERVER_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  jwks: { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string', multiple: true },
} as const;

/**
 * TLS files, issuer, audiences and the verifier over the --jwks keys (a file, or an https URL
 * fetched with --tls-ca), all checked before anything listens.
 */
export async function loadProtectedServer(command: string, parsed: Parsed): Promise<{ tls: TlsFiles; issuer: string; audience: string[]; verifier: BoundTokenVerifier }> {
  const tls = await loadTlsFiles({
    ca: requireString(command, parsed, 'tls-ca'),
    cert: requireString(command, parsed, 'tls-cert'),
    key: requireString(command, parsed, 'tls-key'),
  });
  const issuer = requireString(command, parsed, 'issuer');
  if (!URL.canParse(issuer)) throw new UsageError(`${command}: --issuer must be the issuer URL the tokens carry in iss`);
  const audience = stringList(parsed, 'audience');
  if (audience.length === 0) throw new UsageError(`${command}: --audience is required`);
  const keys = await loadJwksSource(requireString(command, parsed, 'jwks'), { ca: tls.ca });
  try {
    return { tls, issuer, audience, verifier: createBoundTokenVerifier({ keys, issuer, audience }) };
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
}
