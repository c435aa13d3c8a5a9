import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type * as Pkcs11Module from 'pkcs11js';
import { misuse } from '../core/config-error.js';
import type { AsymmetricAlgorithm } from '../core/rfc.js';
import type { Signer } from '../core/signing/signer.js';
import { FileProblem } from '../files/read.js';
import { parsePkcs11Uri, type Pkcs11KeyReference } from './pkcs11-uri.js';

export interface Pkcs11SignerOptions {
  /** `pkcs11:token=...;object=...` (RFC 7512) naming the private key. */
  uri: string;
  /** The PKCS#11 module; else the URI's module-path, else PKCS11_MODULE_PATH. */
  module?: string;
  /** The user PIN; else the URI's pin-source file, else CERTBOUND_PKCS11_PIN. */
  pin?: string;
  /** Key id in the JWKS; defaults to the RFC 7638 thumbprint of the public key. */
  kid?: string;
  /**
   * Check every signature against the public key before it is used (a TPM has been seen to
   * return invalid signatures without an error). Costs one verification per token.
   */
  verifyEachSignature?: boolean;
  /** The environment to read PKCS11_MODULE_PATH and CERTBOUND_PKCS11_PIN from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A signer whose private key stays in a PKCS#11 token; `close()` logs out and unloads the module. */
export type Pkcs11Signer = Signer & { close(): void };

/** DER of the named curves' OIDs, as CKA_EC_PARAMS holds them (RFC 5480 §2.1.1.1). */
const CURVES: Record<string, { crv: string; alg: AsymmetricAlgorithm; size: number; hash: string }> = {
  '06082a8648ce3d030107': { crv: 'P-256', alg: 'ES256', size: 32, hash: 'sha256' },
  '06052b81040022': { crv: 'P-384', alg: 'ES384', size: 48, hash: 'sha384' },
};

/**
 * Open a signing key held in a PKCS#11 token (an HSM, a YubiKey, a TPM through tpm2-pkcs11,
 * SoftHSM): log in, find the private key and its public half, and sign through the module. EC
 * keys sign ES256/ES384 (CKM_ECDSA over the digest: the module returns raw r || s, the JWS
 * form); RSA keys RS256 (CKM_SHA256_RSA_PKCS). The private key never enters this process.
 * @throws ConfigError or FileProblem naming what is wrong: no module, a wrong PIN, no such token or key.
 */
export async function openPkcs11Signer(options: Pkcs11SignerOptions): Promise<Pkcs11Signer> {
  const env = options.env ?? process.env;
  const reference = parsePkcs11Uri(options.uri);
  const modulePath = options.module ?? reference.modulePath ?? env.PKCS11_MODULE_PATH;
  if (modulePath === undefined || modulePath === '') {
    throw misuse('no PKCS#11 module: give "module" (or module-path in the URI, or PKCS11_MODULE_PATH)');
  }
  const pin = options.pin ?? (await pinFrom(reference, env));
  const pkcs11js = await loadBinding();
  const p11 = acquireModule(modulePath, pkcs11js);
  let session: Buffer | undefined;
  const release = (): void => {
    if (session !== undefined) p11.C_CloseSession(session);
    session = undefined;
    releaseModule(modulePath);
  };
  try {
    const slot = findSlot(p11, reference);
    const opened = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    session = opened;
    try {
      p11.C_Login(opened, pkcs11js.CKU_USER, pin);
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === pkcs11js.CKR_PIN_INCORRECT) throw misuse(`PKCS#11 login to token "${reference.token ?? ''}" failed: the PIN is wrong`);
      if (code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw misuse(`PKCS#11 login failed: ${(error as Error).message}`);
    }
    const privateKey = findKey(p11, opened, 'private', reference, pkcs11js);
    const publicKey = publicKeyOf(p11, opened, findKey(p11, opened, 'public', reference, pkcs11js), pkcs11js);
    const publicJwk = (await exportJWK(publicKey.key)) as JWK;
    const kid = options.kid ?? (await calculateJwkThumbprint(publicJwk));
    const mechanism = publicKey.curve === undefined ? pkcs11js.CKM_SHA256_RSA_PKCS : pkcs11js.CKM_ECDSA;
    const signatureBytes = publicKey.curve === undefined ? publicKey.modulusBytes : 2 * publicKey.curve.size;
    const signRaw = (signingInput: Uint8Array): Uint8Array => {
      const data =
        publicKey.curve === undefined ? Buffer.from(signingInput) : createHash(publicKey.curve.hash).update(signingInput).digest();
      if (session === undefined) throw new Error(`PKCS#11 signer ${kid} is closed`);
      p11.C_SignInit(session, { mechanism }, privateKey);
      return p11.C_Sign(session, data, Buffer.alloc(signatureBytes));
    };
    return {
      alg: publicKey.alg,
      kid,
      publicJwk: { ...publicJwk, kid, alg: publicKey.alg, use: 'sig' },
      sign(signingInput) {
        const signature = signRaw(signingInput);
        if (options.verifyEachSignature === true && !checks(publicKey, signingInput, signature)) {
          throw new Error(`the PKCS#11 module returned a signature that does not verify (key ${kid})`);
        }
        return signature;
      },
      close: release,
    };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * One loaded, initialised module per path, shared by every signer that uses it: PKCS#11 state is
 * per process, so a second C_Initialize fails and one C_Finalize would end every session.
 */
const modules = new Map<string, { p11: Pkcs11Module.PKCS11; users: number; finalize: boolean }>();

function acquireModule(path: string, pkcs11js: typeof Pkcs11Module): Pkcs11Module.PKCS11 {
  let entry = modules.get(path);
  if (entry === undefined) {
    const p11 = new pkcs11js.PKCS11();
    try {
      p11.load(path);
    } catch (error) {
      throw new FileProblem(path, `cannot load the PKCS#11 module: ${(error as Error).message}`);
    }
    let finalize = true;
    try {
      p11.C_Initialize();
    } catch (error) {
      // Someone else in this process initialised it: leave finalising to them.
      if ((error as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        p11.close();
        throw new FileProblem(path, `the PKCS#11 module does not initialise: ${(error as Error).message}`);
      }
      finalize = false;
    }
    entry = { p11, users: 0, finalize };
    modules.set(path, entry);
  }
  entry.users++;
  return entry.p11;
}

function releaseModule(path: string): void {
  const entry = modules.get(path);
  if (entry === undefined || --entry.users > 0) return;
  modules.delete(path);
  if (entry.finalize) entry.p11.C_Finalize();
  entry.p11.close();
}

async function loadBinding(): Promise<typeof Pkcs11Module> {
  try {
    return ((await import('pkcs11js')) as { default: typeof Pkcs11Module }).default;
  } catch {
    throw misuse('keys in PKCS#11 tokens need the optional package pkcs11js: npm install pkcs11js');
  }
}

/** The PIN from the URI's pin-source file (without its final newline), else CERTBOUND_PKCS11_PIN. */
async function pinFrom(reference: Pkcs11KeyReference, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  if (reference.pinSource !== undefined) {
    const path = reference.pinSource.startsWith('file:') ? fileURLToPath(reference.pinSource) : reference.pinSource;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new FileProblem(path, `cannot read the PKCS#11 PIN file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return text.replace(/\r?\n$/, '');
  }
  const pin = env.CERTBOUND_PKCS11_PIN;
  if (pin === undefined || pin === '') throw misuse('no PKCS#11 PIN: give "pin" (or pin-source in the URI, or CERTBOUND_PKCS11_PIN)');
  return pin;
}

function findSlot(p11: Pkcs11Module.PKCS11, reference: Pkcs11KeyReference): Buffer {
  const slots = p11.C_GetSlotList(true);
  const labels: string[] = [];
  for (const slot of slots) {
    const label = p11.C_GetTokenInfo(slot).label.trim();
    // SoftHSM and others offer an empty, uninitialised token in a spare slot.
    if (label === '') continue;
    labels.push(label);
    if (reference.token === undefined || label === reference.token) return slot;
  }
  throw misuse(`no PKCS#11 token "${reference.token ?? ''}" (tokens present: ${labels.join(', ') || 'none'})`);
}

function findKey(
  p11: Pkcs11Module.PKCS11,
  session: Buffer,
  half: 'private' | 'public',
  reference: Pkcs11KeyReference,
  pkcs11js: typeof Pkcs11Module,
): Buffer {
  const keyClass = half === 'private' ? pkcs11js.CKO_PRIVATE_KEY : pkcs11js.CKO_PUBLIC_KEY;
  const template: Pkcs11Module.Template = [{ type: pkcs11js.CKA_CLASS, value: keyClass }];
  if (reference.object !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: reference.object });
  if (reference.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: reference.id });
  p11.C_FindObjectsInit(session, template);
  const found = p11.C_FindObjects(session, 2);
  p11.C_FindObjectsFinal(session);
  const what = `${half} key ${reference.object ?? reference.id?.toString('hex') ?? ''}`;
  if (found.length === 0) throw misuse(`the PKCS#11 token has no ${what}`);
  if (found.length > 1) throw misuse(`the PKCS#11 token has more than one ${what}: add id= to the URI`);
  return found[0] as Buffer;
}

interface TokenPublicKey {
  key: KeyObject;
  alg: AsymmetricAlgorithm;
  curve: (typeof CURVES)[string] | undefined;
  modulusBytes: number;
}

/** The public key from the token's attributes: CKA_EC_PARAMS and CKA_EC_POINT, or CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
function publicKeyOf(p11: Pkcs11Module.PKCS11, session: Buffer, handle: Buffer, pkcs11js: typeof Pkcs11Module): TokenPublicKey {
  const [keyType] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_KEY_TYPE }]);
  // CK_ULONG: as wide as the platform's unsigned long, little-endian on the machines Node runs on.
  const type =
    keyType === undefined ? undefined : Number(keyType.value.length === 8 ? keyType.value.readBigUInt64LE() : keyType.value.readUInt32LE());
  if (type === pkcs11js.CKK_EC) {
    const [params, point] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
    const curve = CURVES[params?.value.toString('hex') ?? ''];
    if (curve === undefined || point === undefined)
      throw misuse('the PKCS#11 key is on a curve certbound does not sign with (P-256, P-384)');
    // CKA_EC_POINT is the DER OCTET STRING of the uncompressed point (PKCS#11 2.40 §2.3.3); some modules give the bare point.
    const raw =
      point.value.length === 1 + 2 * curve.size && point.value[0] === 4
        ? point.value
        : Buffer.from(AsnConvert.parse(point.value, OctetString).buffer);
    if (raw.length !== 1 + 2 * curve.size || raw[0] !== 4)
      throw misuse('the PKCS#11 key has an EC point certbound cannot read (uncompressed points only)');
    const coordinate = (from: number): string => raw.subarray(from, from + curve.size).toString('base64url');
    const key = createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: coordinate(1), y: coordinate(1 + curve.size) }, format: 'jwk' });
    return { key, alg: curve.alg, curve, modulusBytes: 0 };
  }
  const [modulus, exponent] = p11.C_GetAttributeValue(session, handle, [
    { type: pkcs11js.CKA_MODULUS },
    { type: pkcs11js.CKA_PUBLIC_EXPONENT },
  ]);
  if (modulus === undefined || exponent === undefined) throw misuse('the PKCS#11 key is neither EC nor RSA');
  if (modulus.value.length < 256) throw misuse('RSA signing keys must be at least 2048 bits');
  const key = createPublicKey({
    key: { kty: 'RSA', n: modulus.value.toString('base64url'), e: exponent.value.toString('base64url') },
    format: 'jwk',
  });
  return { key, alg: 'RS256', curve: undefined, modulusBytes: modulus.value.length };
}

function checks(publicKey: TokenPublicKey, signingInput: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.curve === undefined) return verify('sha256', signingInput, publicKey.key, signature);
  return verify(publicKey.curve.hash, signingInput, { key: publicKey.key, dsaEncoding: 'ieee-p1363' }, signature);
}
