// A throw-away SoftHSM2 token for one test file: its own config and token directory, keys
// generated inside the token by certbound (sensitive, not extractable), removed with the test.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import type * as Pkcs11Module from 'pkcs11js';
import { generateKeyInToken } from '../../src/keys/pkcs11-keygen.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const pkcs11js = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Module;

export interface SoftHsmToken {
  label: string;
  pin: string;
  dir: string;
  /** Run `fn` logged in to the token (a session of its own, closed after). */
  withSession<T>(fn: (p11: Pkcs11Module.PKCS11, session: Buffer) => T): T;
  remove(): Promise<void>;
}

/**
 * Initialise a token in a fresh SoftHSM2 directory. SOFTHSM2_CONF is set for this process: SoftHSM
 * reads it at C_Initialize, so every module user in the test process sees this token.
 */
export async function createSoftHsmToken(label = 'certbound-test', pin = '1234'): Promise<SoftHsmToken> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-softhsm-'));
  const config = join(dir, 'softhsm2.conf');
  await writeFile(config, `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = config;
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '87654321'], {
    env: { ...process.env, SOFTHSM2_CONF: config },
    stdio: 'pipe',
  });
  return {
    label,
    pin,
    dir,
    withSession(fn) {
      const p11 = new pkcs11js.PKCS11();
      p11.load(SOFTHSM_MODULE);
      let finalize = true;
      try {
        p11.C_Initialize();
      } catch (error) {
        // A signer of the test has the module open: use its initialisation, leave it in place.
        if ((error as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error;
        finalize = false;
      }
      try {
        const slot = p11.C_GetSlotList(true).find((candidate) => p11.C_GetTokenInfo(candidate).label.trim() === label);
        if (slot === undefined) throw new Error(`no token ${label}`);
        const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
        try {
          p11.C_Login(session, pkcs11js.CKU_USER, pin);
        } catch (error) {
          if ((error as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw error;
        }
        try {
          return fn(p11, session);
        } finally {
          p11.C_CloseSession(session);
        }
      } finally {
        if (finalize) p11.C_Finalize();
        p11.close();
      }
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Generate a key pair inside the token with certbound's own generator (sensitive, never extractable). */
export async function generateKeyPair(token: SoftHsmToken, kind: 'ec' | 'rsa' | 'ed25519', object: string): Promise<KeyObject> {
  const { publicKey } = await generateKeyInToken({ token: token.label, label: object, kind, module: SOFTHSM_MODULE, pin: token.pin });
  return publicKey;
}

/** Store a certificate in the token beside its key (CKO_CERTIFICATE, X.509), as a device's own certificate would be. */
export function storeCertificate(token: SoftHsmToken, label: string, pem: string): void {
  const der = new X509Certificate(pem).raw;
  const subject = Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, Certificate).tbsCertificate.subject));
  token.withSession((p11, session) => {
    p11.C_CreateObject(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
      { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_SUBJECT, value: subject },
      { type: pkcs11js.CKA_VALUE, value: der },
    ]);
  });
}
