import { misuse } from '../core/config-error.js';
import { isPkcs11Uri } from '../core/tls-key.js';

export { isPkcs11Uri };

/** What certbound reads of a PKCS#11 URI (RFC 7512): which key, in which token, and where the PIN is. */
export interface Pkcs11KeyReference {
  /** `token=`: the token label. */
  token: string | undefined;
  /** `object=`: the key's label (CKA_LABEL). */
  object: string | undefined;
  /** `id=`: the key's CKA_ID, as bytes. */
  id: Buffer | undefined;
  /** `?pin-source=`: a file holding the PIN (a `file:` URI or a path). */
  pinSource: string | undefined;
  /** `?module-path=`: the PKCS#11 module (a shared library). */
  modulePath: string | undefined;
}

const PATH_ATTRIBUTES = new Set([
  'token',
  'object',
  'id',
  'type',
  'manufacturer',
  'model',
  'serial',
  'library-description',
  'library-manufacturer',
  'library-version',
  'slot-description',
  'slot-id',
  'slot-manufacturer',
]);
const QUERY_ATTRIBUTES = new Set(['pin-source', 'module-path', 'module-name']);

/**
 * Read a `pkcs11:` URI (RFC 7512 §2.3): path attributes separated by `;`, query attributes by `&`,
 * each value percent-decoded. A PIN in the URI itself (`pin-value`) is refused: URIs end up in
 * logs and process listings, and OpenSSL's pkcs11 engine prints them when a login fails.
 * @throws ConfigError naming the attribute.
 */
export function parsePkcs11Uri(
  uri: string,
  { keyOptional = false, type: wanted = 'private' }: { keyOptional?: boolean; type?: 'private' | 'cert' } = {},
): Pkcs11KeyReference {
  if (!isPkcs11Uri(uri)) throw misuse(`not a PKCS#11 URI (expected pkcs11:token=...;object=...): ${uri.slice(0, 40)}`);
  const [path = '', query = ''] = uri.slice('pkcs11:'.length).split('?', 2);
  const attributes = new Map<string, string>();
  const read = (part: string, allowed: Set<string>): void => {
    if (part === '') return;
    const at = part.indexOf('=');
    const name = (at === -1 ? part : part.slice(0, at)).toLowerCase();
    if (name === 'pin-value')
      throw misuse('the PKCS#11 URI carries its PIN (pin-value): give it in a file (pin-source) or CERTBOUND_PKCS11_PIN');
    if (!allowed.has(name)) throw misuse(`PKCS#11 URI attribute "${name}" is not one certbound reads (RFC 7512)`);
    let value: string;
    try {
      value = decodeURIComponent(at === -1 ? '' : part.slice(at + 1));
    } catch {
      throw misuse(`PKCS#11 URI attribute "${name}" is not percent-encoded correctly`);
    }
    if (attributes.has(name)) throw misuse(`PKCS#11 URI attribute "${name}" is given twice`);
    attributes.set(name, value);
  };
  for (const part of path.split(';')) read(part, PATH_ATTRIBUTES);
  for (const part of query.split('&')) read(part, QUERY_ATTRIBUTES);
  const type = attributes.get('type');
  if (type !== undefined && type !== wanted)
    throw misuse(
      `PKCS#11 URI type=${type}: certbound needs ${wanted === 'private' ? 'the private key (type=private)' : 'a certificate (type=cert)'} here`,
    );
  const id = attributes.get('id');
  const reference: Pkcs11KeyReference = {
    token: attributes.get('token'),
    object: attributes.get('object'),
    id: id === undefined ? undefined : Buffer.from(id, 'latin1'),
    pinSource: attributes.get('pin-source'),
    modulePath: attributes.get('module-path'),
  };
  if (!keyOptional && reference.object === undefined && reference.id === undefined)
    throw misuse('the PKCS#11 URI names no key: give object= (its label) or id=');
  return reference;
}
