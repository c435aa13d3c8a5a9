import { CertboundError } from '../../core/errors.js';
import { createClientIdentity, type ClientIdentity } from '../../client/client-identity.js';
import { watchClientIdentity } from '../../client/client-identity-files.js';
import type { ClientTlsOptions } from '../../client/mtls-agent.js';
import { isEngineKey } from '../../core/tls-key.js';
import { createTokenSource, type TokenSource, type TokenSourceOptions } from '../../client/token-source.js';
import { loadTlsFiles, type TlsFiles } from '../../files/tls-files.js';
import { readText } from '../../files/read.js';
import { tokenObjectReaders } from '../../keys/tls-key-opener.js';
import type { FlagSpec } from '../../config/option.js';
import { flagName, givenAlternatives, optionalString, parse, requireFlags, requireString, stringList, type Parsed } from '../args.js';
import { OperationFailed, UsageError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import { flagUsageError } from '../flag-errors.js';
import { connectionFailureOf } from '../../client/connection-failure.js';
import { connectionFix, type ConnectionFlags } from '../connection-fix.js';

const text = { kind: 'string' } as const;
const path = { kind: 'path' } as const;

/** The flags of every command that exchanges a subject token (token, call, grpc-call, probe). */
export const CLIENT_FLAGS: readonly FlagSpec[] = [
  { flag: 'sts', type: { kind: 'https-url' }, doc: "the STS's token endpoint (a URL without a path means /token)" },
  { flag: 'tls-ca', type: path, doc: 'CA bundle the servers are checked against' },
  { flag: 'tls-cert', type: path, doc: 'the client certificate the token is bound to' },
  { flag: 'tls-key', type: { kind: 'path-or-pkcs11' }, doc: 'its private key: a file, or a pkcs11: URI' },
  { flag: 'pkcs11-module', type: path, doc: 'the PKCS#11 module holding a pkcs11: key (default: PKCS11_MODULE_PATH)' },
  { flag: 'pkcs11-pin-file', type: path, doc: "a file holding the token's user PIN (default: CERTBOUND_PKCS11_PIN)" },
  { flag: 'subject-token', type: text, doc: 'the subject token to exchange (a secret: prefer --subject-token-file)' },
  { flag: 'subject-token-file', type: path, doc: 'a file holding the subject token' },
  { flag: 'subject-token-type', type: text, doc: 'its RFC 8693 token type URN (default: access token)' },
  { flag: 'audience', type: { kind: 'strings' }, doc: 'audiences the token is for (this or --resource)' },
  { flag: 'resource', type: { kind: 'strings' }, doc: 'resource URIs the token is for (RFC 8707)' },
  { flag: 'scope', type: text, doc: 'scopes asked for, space-separated' },
  { flag: 'requested-token-type', type: text, doc: 'the RFC 8693 token type URN asked for' },
  { flag: 'client-id', type: text, doc: 'the registered client_id to send (RFC 8705 §2)' },
  { flag: 'servername', type: text, doc: "the name the server's certificate is checked against (default: the URL's host)" },
];

/** --sts-servername of the commands that call something besides the STS (call, grpc-call, probe). */
export const STS_SERVERNAME_FLAG: FlagSpec = {
  flag: 'sts-servername',
  type: text,
  doc: "the name the STS's certificate is checked against (default: the --sts host)",
};

/** What `certbound token` prints: the response JSON, the bare token, or a ready header line. */
export const TOKEN_OUTPUTS = ['json', 'token', 'header'] as const;

export const tokenFlags: readonly FlagSpec[] = [
  ...CLIENT_FLAGS,
  {
    flag: 'output',
    type: { kind: 'enum', values: TOKEN_OUTPUTS },
    doc: 'json (the token response, default), token (the access token alone) or header (Authorization: Bearer ...)',
  },
];
export const tokenUsage = `certbound token --sts URL --tls-ca F --tls-cert F --tls-key F (--subject-token T | --subject-token-file F)
                 (--audience A | --resource R)... [--scope S] [--servername NAME]
                 [--subject-token-type URN] [--requested-token-type URN] [--client-id ID]
                 [--output json|token|header]
  Exchange the subject token at the STS over mutual TLS and print the token response JSON, or
  with --output token the access token alone, with --output header an "Authorization: Bearer"
  line (each ending in a newline), for scripts: TOKEN=$(certbound token --output token ...).
  --sts is the token endpoint (a URL without a path means /token); --servername is the name the
  STS certificate is checked against when it differs from the URL host. --subject-token-file keeps
  the secret out of the process list and shell history. --client-id sends the registered
  client_id (RFC 8705 section 2), which an STS with --require-client-id insists on.
  --tls-key pkcs11:token=...;object=... uses a key that stays in a PKCS#11 token (HSM, YubiKey,
  TPM) for both the STS and the resource; --pkcs11-module F (default PKCS11_MODULE_PATH) and
  --pkcs11-pin-file F (default CERTBOUND_PKCS11_PIN) say where it is and how to log in.`;

interface ClientSetup {
  tls: TlsFiles;
  tokens: TokenSource;
}

/**
 * The exchange the client flags describe (STS, certificate, subject token, targets, types), for a
 * token source or gRPC STS credentials alike. Checked before anything is sent.
 */
export async function exchangeOptionsOf(
  command: string,
  parsed: Parsed,
  stsServername: string | undefined,
): Promise<{ tls: TlsFiles; options: TokenSourceOptions & { tls: ClientTlsOptions } }> {
  requireFlags(command, parsed, ['sts', 'tls-ca', 'tls-cert', 'tls-key']);
  const stsUrl = requireString(command, parsed, 'sts');
  const subjectToken = await subjectTokenOf(command, parsed);
  const tls = await clientTlsOf(command, parsed);
  const audience = stringList(parsed, 'audience');
  const resource = stringList(parsed, 'resource');
  if (audience.length === 0 && resource.length === 0) throw new UsageError(`${command}: --audience or --resource is required`);
  const scope = optionalString(parsed, 'scope');
  const subjectTokenType = optionalString(parsed, 'subject-token-type');
  const requestedTokenType = optionalString(parsed, 'requested-token-type');
  const clientId = optionalString(parsed, 'client-id');
  return {
    tls,
    options: {
      stsUrl,
      tls: { ...tls, ...(stsServername === undefined ? {} : { servername: stsServername }) },
      subjectToken,
      audience,
      resource,
      ...(scope === undefined ? {} : { scope }),
      ...(subjectTokenType === undefined ? {} : { subjectTokenType }),
      ...(requestedTokenType === undefined ? {} : { requestedTokenType }),
      ...(clientId === undefined ? {} : { clientId }),
    },
  };
}

/**
 * The CA bundle (--tls-ca) and a client certificate with its key (--tls-cert and --tls-key, or
 * the flags named), checked to belong together. The key may be a `pkcs11:` URI, opened with
 * --pkcs11-module and --pkcs11-pin-file.
 */
export async function clientTlsOf(command: string, parsed: Parsed, cert = 'tls-cert', key = 'tls-key'): Promise<TlsFiles> {
  return loadTlsFiles({
    ca: requireString(command, parsed, 'tls-ca'),
    cert: requireString(command, parsed, cert),
    key: requireString(command, parsed, key),
    ...tokenObjectReaders({ module: optionalString(parsed, 'pkcs11-module'), pinFile: optionalString(parsed, 'pkcs11-pin-file') }),
  });
}

async function setUp(command: string, parsed: Parsed, stsServername: string | undefined): Promise<ClientSetup> {
  const { tls, options } = await exchangeOptionsOf(command, parsed, stsServername);
  try {
    return { tls, tokens: createTokenSource(options) };
  } catch (error) {
    if (error instanceof TypeError) throw flagUsageError(command, parsed, error);
    throw error;
  }
}

/**
 * The client identity the flags name, following its files while the command runs (a key in a
 * PKCS#11 token is not a file: that identity stays as loaded). A change that is refused, such as
 * a certificate whose key is not written yet, is reported on stderr and the last good pair kept.
 */
export async function followClientIdentity(command: string, parsed: Parsed, tls: TlsFiles): Promise<ClientIdentity> {
  if (isEngineKey(tls.key) || optionalString(parsed, 'tls-cert')?.toLowerCase().startsWith('pkcs11:') === true)
    return createClientIdentity(tls);
  return watchClientIdentity({
    ca: requireString(command, parsed, 'tls-ca'),
    cert: requireString(command, parsed, 'tls-cert'),
    key: requireString(command, parsed, 'tls-key'),
    onEvent: (event) => {
      if (event.type === 'identity.refused')
        process.stderr.write(`certbound: ${command}: kept client certificate ${event.keptThumbprint}: ${event.reason}\n`);
    },
  });
}

/**
 * The subject token, inline or from a file. The file form keeps the secret out of `ps` and shell
 * history; a trailing newline (as `echo` writes) is not part of the token.
 */
export async function subjectTokenOf(command: string, parsed: Parsed): Promise<string> {
  const given = givenAlternatives(parsed, ['subject-token', 'subject-token-file']);
  if (given.length !== 1) throw new UsageError(`${command}: give exactly one of --subject-token or --subject-token-file`);
  if (given[0] === 'subject-token') return requireString(command, parsed, 'subject-token');
  return readSecretFile(command, requireString(command, parsed, 'subject-token-file'), 'subject token file');
}

/** A secret kept in a file: its text without one trailing newline (as `echo` writes); empty is refused. */
export async function readSecretFile(command: string, file: string, what: string): Promise<string> {
  const secret = (await readText(file, what)).replace(/\r?\n$/, '');
  if (secret.length === 0) throw new UsageError(`${command}: ${file}: ${what} is empty`);
  return secret;
}

/**
 * STS refusals and network failures are operation failures (exit 1), not usage errors. A failed
 * connection says what to do about it, naming the command's flags (`flags`).
 */
export function asOperationFailure(error: unknown, flags: ConnectionFlags): unknown {
  if (error instanceof CertboundError && (error.code === 'CB_STS_REFUSED' || error.code === 'CB_STS_UNAVAILABLE')) {
    const connection = connectionFailureOf(error.cause);
    if (connection !== undefined) return new OperationFailed(`${error.description}: ${connectionFix(connection, flags)}`);
    return new OperationFailed(error.detail === undefined ? error.description : `${error.description} (${error.detail})`);
  }
  return error;
}

/** The flags `token`, `call` and `probe` connect to the STS with. */
export function stsConnectionFlags(servername: 'servername' | 'sts-servername'): ConnectionFlags {
  return { ca: '--tls-ca', cert: '--tls-cert', servername: `--${servername}` };
}

export async function runToken(argv: string[]): Promise<number> {
  const parsed = parse('token', argv, tokenFlags);
  if (parsed.values.help === true) {
    process.stdout.write(`${tokenUsage}\n`);
    return 0;
  }
  const output = outputOf(parsed);
  const { tokens } = await setUp('token', parsed, optionalString(parsed, 'servername'));
  try {
    const token = await tokens.getTokenResponse();
    const response = {
      access_token: token.accessToken,
      issued_token_type: token.issuedTokenType,
      token_type: token.tokenType,
      expires_in: token.expiresIn,
      ...(token.scope === undefined ? {} : { scope: token.scope }),
    };
    process.stdout.write(
      output === 'token'
        ? `${token.accessToken}\n`
        : output === 'header'
          ? `Authorization: Bearer ${token.accessToken}\n`
          : `${JSON.stringify(response, null, 2)}\n`,
    );
    return 0;
  } catch (error) {
    throw asOperationFailure(error, stsConnectionFlags('servername'));
  } finally {
    await tokens.close();
  }
}

function outputOf(parsed: Parsed): (typeof TOKEN_OUTPUTS)[number] {
  const output = optionalString(parsed, 'output') ?? 'json';
  if (!(TOKEN_OUTPUTS as readonly string[]).includes(output))
    throw new UsageError(
      `token: ${flagName(parsed, 'output')} must be one of ${TOKEN_OUTPUTS.join(', ')}${didYouMean(output, TOKEN_OUTPUTS)}`,
    );
  return output as (typeof TOKEN_OUTPUTS)[number];
}
