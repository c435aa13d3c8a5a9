import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { hashSubjectToken } from '../core/policy/authorize.js';
import { GRANT_TYPE_CLIENT_CREDENTIALS, GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN } from '../core/rfc.js';
import { createCertificateAuthority, generateSigningKeyPem, issueCertificate, type IssuedCertificate } from './generate.js';

/** The seed write-up's subject tokens: the dev policy maps each to one client. */
export const DEV_SUBJECT_TOKENS = { alice: 'iamtheeggman', bob: 'iamthewalrus' } as const;
/** The dev STS's issuer: its own URL (default port 8081), so RFC 8414 discovery finds its metadata. */
export const DEV_ISSUER = 'https://sts.domain.com:8081';
export const DEV_AUDIENCE = 'https://server.domain.com:8443';
/** The gRPC echo server's audience (the seed runs it on grpc.domain.com:50051). */
export const DEV_GRPC_AUDIENCE = 'https://grpc.domain.com:50051';
export const DEV_SCOPES = ['read', 'write'] as const;

/** One file to write: its content and POSIX mode (0600 for private keys). */
export interface PlannedFile {
  content: string;
  mode: number;
}

export interface DevPki {
  /** File name → content, exactly the files `certbound pki init` writes. */
  files: Record<string, PlannedFile>;
  /** SHA-256 fingerprint of the root CA (hex, colon-separated), to print and compare. */
  caFingerprint: string;
  kid: string;
}

export const DEV_PKI_FILES = [
  'ca.crt',
  'ca.key',
  'sts.crt',
  'sts.key',
  'server.crt',
  'server.key',
  'grpc.crt',
  'grpc.key',
  'alice.crt',
  'alice.key',
  'bob.crt',
  'bob.key',
  'jwt.key',
  'jwks.json',
  'sts.yaml',
] as const;

const LOOPBACK = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] };

/** alice's, bob's and the JWT signing key made in a PKCS#11 token: their public halves and URIs. */
export interface DevKeysInToken {
  alice: KeyObject;
  bob: KeyObject;
  jwt: KeyObject;
  /** `pkcs11:` URI of the JWT signing key, for sts.yaml's signing.key. */
  jwtUri: string;
  /** sts.yaml's pkcs11 section: the module and the PIN file (absolute paths), when given. */
  module?: string | undefined;
  pinFile?: string | undefined;
}

/**
 * Plan a complete development PKI in memory: a CA, server certificates for the STS, resource and
 * gRPC servers, client certificates for alice and bob, an ES256 JWT signing key with its JWKS,
 * and an STS configuration carrying the seed's dev policy. With `inToken`, alice's, bob's and the
 * signing key are the token's: their certificates and JWKS are made for them, and no key file is
 * planned for them. Nothing is written here.
 */
export async function planDevPki(options: { now?: number; inToken?: DevKeysInToken } = {}): Promise<DevPki> {
  const inToken = options.inToken;
  const validity = options.now === undefined ? {} : { now: options.now };
  const ca = await createCertificateAuthority({ commonName: 'certbound dev CA', ...validity });
  // The resource server's certificate also authenticates it as a client: it may introspect tokens.
  const server = (name: string, usage: 'server' | 'both' = 'server'): Promise<IssuedCertificate> =>
    issueCertificate(ca, {
      commonName: `${name}.domain.com`,
      usage,
      ...validity,
      dnsNames: [`${name}.domain.com`, ...LOOPBACK.dnsNames],
      ipAddresses: LOOPBACK.ipAddresses,
    });
  const client = (name: 'alice' | 'bob'): Promise<IssuedCertificate> =>
    issueCertificate(ca, {
      commonName: name,
      usage: 'client',
      ...validity,
      uris: [`spiffe://domain.com/client/${name}`],
      ...(inToken === undefined ? {} : { publicKey: inToken[name] }),
    });
  const [sts, resource, grpc, alice, bob] = await Promise.all([
    server('sts'),
    server('server', 'both'),
    server('grpc'),
    client('alice'),
    client('bob'),
  ]);

  const jwtKeyPem = inToken === undefined ? await generateSigningKeyPem() : undefined;
  const publicJwk = await exportJWK(inToken?.jwt ?? createPublicKey(createPrivateKey(jwtKeyPem as string)));
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const jwks = { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] };

  const pub = (content: string): PlannedFile => ({ content, mode: 0o644 });
  const secret = (content: string): PlannedFile => ({ content, mode: 0o600 });
  return {
    kid,
    caFingerprint: fingerprint(ca.der),
    files: {
      'ca.crt': pub(ca.certPem),
      'ca.key': secret(ca.keyPem),
      'sts.crt': pub(sts.certPem),
      'sts.key': secret(sts.keyPem),
      'server.crt': pub(resource.certPem),
      'server.key': secret(resource.keyPem),
      'grpc.crt': pub(grpc.certPem),
      'grpc.key': secret(grpc.keyPem),
      'alice.crt': pub(alice.certPem),
      'bob.crt': pub(bob.certPem),
      ...(jwtKeyPem === undefined
        ? {}
        : { 'alice.key': secret(alice.keyPem), 'bob.key': secret(bob.keyPem), 'jwt.key': secret(jwtKeyPem) }),
      'jwks.json': pub(`${JSON.stringify(jwks, null, 2)}\n`),
      'sts.yaml': pub(devStsConfig({ kid, alice, bob, resource, inToken })),
    },
  };
}

/** The usual SHA-256 fingerprint form (`AB:CD:...`), as `openssl x509 -fingerprint -sha256` prints it. */
function fingerprint(der: Buffer): string {
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

/** sts.yaml's signing key: jwt.key, or the key in the token. */
function signingKeyLine(inToken: DevKeysInToken | undefined): string {
  if (inToken === undefined) return 'key: jwt.key      # ES256; its public half is jwks.json';
  return `key: "${inToken.jwtUri}"   # ES256, in the PKCS#11 token; its public half is jwks.json`;
}

/** sts.yaml's pkcs11 section (where the token is and its PIN), when the keys are in one. */
function pkcs11Section(inToken: DevKeysInToken | undefined): string {
  const lines = [
    ...(inToken?.module === undefined ? [] : [`  module: ${inToken.module}`]),
    ...(inToken?.pinFile === undefined ? [] : [`  pin_file: ${inToken.pinFile}`]),
  ];
  return lines.length === 0 ? '' : `pkcs11:\n${lines.join('\n')}\n`;
}

function devStsConfig({
  kid,
  alice,
  bob,
  resource,
  inToken,
}: {
  kid: string;
  alice: IssuedCertificate;
  bob: IssuedCertificate;
  resource: IssuedCertificate;
  inToken: DevKeysInToken | undefined;
}): string {
  const subjectToken = (
    name: 'alice' | 'bob',
    cert: IssuedCertificate,
  ): string => `    # SHA-256 of the seed's subject token "${DEV_SUBJECT_TOKENS[name]}"; only ${name}'s certificate may present it.
    - sha256: ${hashSubjectToken(DEV_SUBJECT_TOKENS[name])}
      subject: ${name}
      client_certificate:
        x5t#S256: ${cert.thumbprint}
      token_types: [${TOKEN_TYPE_ACCESS_TOKEN}]
      audiences: [${DEV_AUDIENCE}, ${DEV_GRPC_AUDIENCE}]
      scopes: [${DEV_SCOPES.join(', ')}]
`;
  return `# certbound STS configuration, written by \`certbound pki init\` for development.
# File paths are relative to this file. Validate with: certbound sts --config sts.yaml --check-config
# The issuer is also where clients reach the STS: RFC 8414 discovery fetches
# ${DEV_ISSUER}/.well-known/oauth-authorization-server. Behind a proxy on another origin,
# set public_url (and read docs/configuration.md on discovery).
issuer: ${DEV_ISSUER}
tls:
  ca: ca.crt        # client certificates must chain to this CA
  cert: sts.crt
  key: sts.key
signing:
  ${signingKeyLine(inToken)}
  kid: ${kid}
${pkcs11Section(inToken)}access_token_lifetime: 3600
policy:
  # Clients authenticate with their certificate (RFC 8705 tls_client_auth).
  clients:
    # alice may also get tokens for herself (client_credentials, RFC 8705 §2).
    - client_id: alice
      certificate:
        subject_dn: "${alice.subject}"
      grant_types: [${GRANT_TYPE_TOKEN_EXCHANGE}, ${GRANT_TYPE_CLIENT_CREDENTIALS}]
      audiences: [${DEV_AUDIENCE}, ${DEV_GRPC_AUDIENCE}]
      scopes: [${DEV_SCOPES.join(', ')}]
    - client_id: bob
      certificate:
        subject_dn: "${bob.subject}"
    # The resource server (server.crt) may introspect tokens for its audience (RFC 7662).
    - client_id: resource
      certificate:
        subject_dn: "${resource.subject}"
      grant_types: []
      introspection: true
      audiences: [${DEV_AUDIENCE}]
  # Static subject tokens, stored only as SHA-256 hashes.
  subject_tokens:
${subjectToken('alice', alice)}${subjectToken('bob', bob)}`;
}
