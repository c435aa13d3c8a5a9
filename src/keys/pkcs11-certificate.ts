import { X509Certificate } from 'node:crypto';
import type { Template } from 'pkcs11js';
import { misuse } from '../core/config-error.js';
import { withTokenSession, type Pkcs11KeyOptions } from './pkcs11-token.js';
import { parsePkcs11Uri } from './pkcs11-uri.js';

/**
 * A certificate kept in the token beside its key (`pkcs11:token=...;object=...;type=cert`), as
 * PEM: its CKA_VALUE, the DER certificate.
 * @throws ConfigError when the token has no such certificate, or more than one.
 */
export async function readCertificateFromToken(options: Pkcs11KeyOptions): Promise<string> {
  const reference = parsePkcs11Uri(options.uri, { type: 'cert' });
  const der = await withTokenSession(
    options,
    (p11, session, pkcs11js) => {
      const template: Template = [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE }];
      if (reference.object !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: reference.object });
      if (reference.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: reference.id });
      p11.C_FindObjectsInit(session, template);
      const found = p11.C_FindObjects(session, 2);
      p11.C_FindObjectsFinal(session);
      const what = `certificate ${reference.object ?? reference.id?.toString('hex') ?? ''}`;
      if (found.length === 0) throw misuse(`the PKCS#11 token has no ${what}`);
      if (found.length > 1) throw misuse(`the PKCS#11 token has more than one ${what}: add id= to the URI`);
      const [value] = p11.C_GetAttributeValue(session, found[0] as Buffer, [{ type: pkcs11js.CKA_VALUE }]);
      return value?.value;
    },
    'cert',
  );
  try {
    return new X509Certificate(der ?? Buffer.alloc(0)).toString();
  } catch {
    throw misuse(`the PKCS#11 token's certificate ${reference.object ?? ''} cannot be parsed`);
  }
}
