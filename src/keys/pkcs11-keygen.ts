import { randomBytes, type KeyObject } from 'node:crypto';
import type { Template } from 'pkcs11js';
import { misuse } from '../core/config-error.js';
import { ED25519_PARAMS, PKCS11_3_0, publicKeyOf, ulong } from './pkcs11-public-key.js';
import { withTokenSession, type Pkcs11KeyOptions } from './pkcs11-token.js';
import { parsePkcs11Uri } from './pkcs11-uri.js';

/** P-256's OID, DER, as CKA_EC_PARAMS holds it (RFC 5480). */
const P256 = Buffer.from('06082a8648ce3d030107', 'hex');

export interface GeneratedTokenKey {
  /** `pkcs11:token=...;object=LABEL;type=private`, for --tls-key, signing.key and the like. */
  uri: string;
  publicKey: KeyObject;
}

/**
 * Make a key pair inside the token: the private half sensitive and never extractable, so it can
 * sign and nothing else. EC P-256 (ES256, TLS), RSA 2048 (RS256) or Ed25519 (EdDSA, where the
 * module has PKCS#11 3.0's CKM_EC_EDWARDS_KEY_PAIR_GEN). A key with the same label
 * already there is refused rather than shadowed.
 * @throws ConfigError naming the label, or what the token refused.
 */
export async function generateKeyInToken(
  options: Omit<Pkcs11KeyOptions, 'uri'> & { token: string; label: string; kind: 'ec' | 'rsa' | 'ed25519' },
): Promise<GeneratedTokenKey> {
  const tokenUri = `pkcs11:token=${encodeURIComponent(options.token)}`;
  const { token: _token, label, kind, ...where } = options;
  return withTokenSession({ ...where, uri: tokenUri }, (p11, session, pkcs11js) => {
    p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
    const existing = p11.C_FindObjects(session, 1);
    p11.C_FindObjectsFinal(session);
    if (existing.length > 0) throw misuse(`the PKCS#11 token "${options.token}" already holds a key labelled ${label}`);
    const common = [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_ID, value: randomBytes(8) },
    ];
    const publicTemplate =
      kind !== 'rsa'
        ? [
            ...common,
            { type: pkcs11js.CKA_VERIFY, value: true },
            { type: pkcs11js.CKA_EC_PARAMS, value: kind === 'ec' ? P256 : ED25519_PARAMS },
          ]
        : [
            ...common,
            { type: pkcs11js.CKA_VERIFY, value: true },
            { type: pkcs11js.CKA_MODULUS_BITS, value: 2048 },
            { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          ];
    const privateTemplate = [
      ...common,
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    ];
    const mechanism = {
      mechanism: {
        ec: pkcs11js.CKM_EC_KEY_PAIR_GEN,
        rsa: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN,
        ed25519: PKCS11_3_0.CKM_EC_EDWARDS_KEY_PAIR_GEN,
      }[kind],
    };
    const pair = p11.C_GenerateKeyPair(session, mechanism, publicTemplate, privateTemplate);
    const publicKey = publicKeyOf(p11, session, pair.publicKey, pkcs11js).key;
    return { uri: `${tokenUri};object=${encodeURIComponent(label)};type=private`, publicKey };
  });
}

/** What the token says of a private key: whether it could ever leave, and whether asking for it fails. */
export interface KeyProtection {
  extractable: boolean;
  sensitive: boolean;
  /** The token refused to give the key's secret value (CKR_ATTRIBUTE_SENSITIVE). */
  exportRefused: boolean;
}

/** Ask the token about the key the URI names, and try to read its secret value (which must fail). */
export async function keyProtection(options: Pkcs11KeyOptions): Promise<KeyProtection> {
  const reference = parsePkcs11Uri(options.uri);
  return withTokenSession(options, (p11, session, pkcs11js) => {
    const template: Template = [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }];
    if (reference.object !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: reference.object });
    if (reference.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: reference.id });
    p11.C_FindObjectsInit(session, template);
    const [key] = p11.C_FindObjects(session, 1);
    p11.C_FindObjectsFinal(session);
    if (key === undefined) throw misuse(`the PKCS#11 token has no private key ${reference.object ?? ''}`);
    const [extractable, sensitive, keyType] = p11.C_GetAttributeValue(session, key, [
      { type: pkcs11js.CKA_EXTRACTABLE },
      { type: pkcs11js.CKA_SENSITIVE },
      { type: pkcs11js.CKA_KEY_TYPE },
    ]);
    // The secret itself: CKA_VALUE of an EC key, CKA_PRIVATE_EXPONENT of an RSA key.
    const secret = ulong(keyType?.value) === pkcs11js.CKK_RSA ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
    // Refused is an error (SoftHSM: CKR_ATTRIBUTE_SENSITIVE) or no value at all (tpm2-pkcs11):
    // never an exit code or a call that merely returned (opensc's pkcs11-tool exits 0 with nothing).
    let exportRefused: boolean;
    try {
      const [value] = p11.C_GetAttributeValue(session, key, [{ type: secret }]);
      exportRefused = value === undefined || value.value.length === 0;
    } catch {
      exportRefused = true;
    }
    return { extractable: extractable?.value[0] === 1, sensitive: sensitive?.value[0] === 1, exportRefused };
  });
}

/** Destroy the key pair the URI names (private and public objects): a rotated-out key, like its file. */
export async function destroyKeyInToken(options: Pkcs11KeyOptions): Promise<void> {
  const reference = parsePkcs11Uri(options.uri);
  await withTokenSession(options, (p11, session, pkcs11js) => {
    const template: Template = [];
    if (reference.object !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: reference.object });
    if (reference.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: reference.id });
    p11.C_FindObjectsInit(session, template);
    const objects = p11.C_FindObjects(session, 4);
    p11.C_FindObjectsFinal(session);
    for (const object of objects) p11.C_DestroyObject(session, object);
  });
}
