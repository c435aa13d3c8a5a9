import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type * as Pkcs11Module from 'pkcs11js';
import { misuse } from '../core/config-error.js';
import { FileProblem } from '../files/read.js';
import { acquireModule, loadBinding, moduleGeneration, reinitializeModule, releaseModule, type Pkcs11js } from './pkcs11-module.js';
import { publicKeyOf, type TokenPublicKey } from './pkcs11-public-key.js';
import { parsePkcs11Uri, type Pkcs11KeyReference } from './pkcs11-uri.js';

export type { Pkcs11js } from './pkcs11-module.js';
type Environment = Readonly<Record<string, string | undefined>>;

/** Where a key in a token is and how to log in: shared by the JWT signer and TLS keys. */
export interface Pkcs11KeyOptions {
  /** `pkcs11:token=...;object=...` (RFC 7512) naming the private key. */
  uri: string;
  /** The PKCS#11 module; else the URI's module-path, else PKCS11_MODULE_PATH. */
  module?: string;
  /** The user PIN; else the URI's pin-source file, else CERTBOUND_PKCS11_PIN. */
  pin?: string;
  /** Where `pin` came from, named when it is wrong (e.g. "--pkcs11-pin-file pin.txt"). */
  pinOrigin?: string;
  /** The environment to read PKCS11_MODULE_PATH and CERTBOUND_PKCS11_PIN from (default process.env). */
  env?: Environment;
}

/** A logged-in session on the token that holds a key, with the key's handle and public half. */
export interface TokenKey {
  pkcs11js: Pkcs11js;
  p11: Pkcs11Module.PKCS11;
  modulePath: string;
  reference: Pkcs11KeyReference;
  publicKey: TokenPublicKey;
  /** The current session and private key handle (both change when the token is reopened). */
  session(): Buffer;
  privateKey(): Buffer;
  /** Make sure the session is alive and logged in; reopen it when the token came back. */
  ensureLoggedIn(): void;
  /**
   * After an operation failed as if the token had gone away: start the module afresh (unless
   * another key already did, or OpenSSL's engine shares it) and open a new session.
   * @throws Error when the token is still not there.
   */
  recover(): void;
  close(): void;
}

/**
 * Load the module, log in to the token and find the key the URI names (private half and public
 * attributes). The private key stays in the token.
 * @throws ConfigError or FileProblem naming what is wrong: no module, a wrong PIN, no such token or key.
 */
export async function openTokenKey(options: Pkcs11KeyOptions): Promise<TokenKey> {
  const { reference, modulePath, pin, pkcs11js } = await resolve(options, parsePkcs11Uri(options.uri));
  const p11 = acquireModule(modulePath, pkcs11js);
  let current: { session: Buffer; privateKey: Buffer } | undefined;
  let generation = moduleGeneration(modulePath);
  const closeSession = (): void => {
    if (current === undefined) return;
    try {
      p11.C_CloseSession(current.session);
    } catch {
      // The token went away with the session; nothing is left to close.
    }
    current = undefined;
  };
  const open = (): { session: Buffer; privateKey: Buffer } => {
    generation = moduleGeneration(modulePath);
    const session = p11.C_OpenSession(findSlot(p11, reference), pkcs11js.CKF_SERIAL_SESSION);
    current = { session, privateKey: Buffer.alloc(0) };
    login(p11, session, pin, reference, pkcs11js);
    current.privateKey = findKey(p11, session, 'private', reference, pkcs11js);
    return current;
  };
  try {
    const opened = open();
    const publicKey = publicKeyOf(p11, opened.session, findKey(p11, opened.session, 'public', reference, pkcs11js), pkcs11js);
    return {
      pkcs11js,
      p11,
      modulePath,
      reference,
      publicKey,
      session: () => (current ?? open()).session,
      privateKey: () => (current ?? open()).privateKey,
      ensureLoggedIn() {
        if (current !== undefined && loggedIn(p11, current.session)) return;
        closeSession();
        open();
      },
      recover() {
        closeSession();
        if (generation === moduleGeneration(modulePath)) reinitializeModule(modulePath, pkcs11js);
        open();
      },
      close() {
        closeSession();
        releaseModule(modulePath);
      },
    };
  } catch (error) {
    closeSession();
    releaseModule(modulePath);
    throw error;
  }
}

/** CKS_RO_USER_FUNCTIONS and CKS_RW_USER_FUNCTIONS (PKCS#11 3.0 §5.7.1; pkcs11js does not export session states). */
const USER_SESSION_STATES = new Set([1, 3]);

async function resolve(options: Pkcs11KeyOptions, reference: Pkcs11KeyReference) {
  const env = options.env ?? process.env;
  const modulePath = options.module ?? reference.modulePath ?? env.PKCS11_MODULE_PATH;
  if (modulePath === undefined || modulePath === '') {
    throw misuse('no PKCS#11 module: give "module" (or module-path in the URI, or PKCS11_MODULE_PATH)');
  }
  const pin =
    options.pin === undefined ? await pinFrom(reference, env) : { value: options.pin, origin: options.pinOrigin ?? 'the "pin" option' };
  return { reference, modulePath, pin, pkcs11js: await loadBinding() };
}

/**
 * Run `fn` in a read-write session logged in to the token the URI names (no key needed yet:
 * `pkcs11:token=LABEL` is enough), for making keys in it.
 */
export async function withTokenSession<T>(
  options: Pkcs11KeyOptions,
  fn: (p11: Pkcs11Module.PKCS11, session: Buffer, pkcs11js: Pkcs11js) => T,
  type: 'private' | 'cert' = 'private',
): Promise<T> {
  const { reference, modulePath, pin, pkcs11js } = await resolve(options, parsePkcs11Uri(options.uri, { keyOptional: true, type }));
  const p11 = acquireModule(modulePath, pkcs11js);
  try {
    const session = p11.C_OpenSession(findSlot(p11, reference), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      login(p11, session, pin, reference, pkcs11js);
      return fn(p11, session, pkcs11js);
    } finally {
      p11.C_CloseSession(session);
    }
  } finally {
    releaseModule(modulePath);
  }
}

function loggedIn(p11: Pkcs11Module.PKCS11, session: Buffer): boolean {
  try {
    return USER_SESSION_STATES.has(p11.C_GetSessionInfo(session).state);
  } catch {
    return false;
  }
}

function login(p11: Pkcs11Module.PKCS11, session: Buffer, pin: Pin, reference: Pkcs11KeyReference, pkcs11js: Pkcs11js): void {
  try {
    p11.C_Login(session, pkcs11js.CKU_USER, pin.value);
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return;
    if (code === pkcs11js.CKR_PIN_INCORRECT)
      throw misuse(`PKCS#11 login to token "${reference.token ?? ''}" failed: the PIN is wrong (it came from ${pin.origin})`);
    if (code === pkcs11js.CKR_PIN_LOCKED) throw misuse(`PKCS#11 token "${reference.token ?? ''}" is locked (too many wrong PINs)`);
    throw misuse(`PKCS#11 login failed: ${(error as Error).message}`);
  }
}

/** A PIN and where it came from (for the error when it is wrong; never the PIN itself). */
interface Pin {
  value: string;
  origin: string;
}

/** The PIN from the URI's pin-source file (without its final newline), else CERTBOUND_PKCS11_PIN. */
async function pinFrom(reference: Pkcs11KeyReference, env: Environment): Promise<Pin> {
  if (reference.pinSource !== undefined) {
    const path = reference.pinSource.startsWith('file:') ? fileURLToPath(reference.pinSource) : reference.pinSource;
    return { value: await readPinFile(path), origin: `the URI's pin-source ${path}` };
  }
  const pin = env.CERTBOUND_PKCS11_PIN;
  if (pin === undefined || pin === '')
    throw misuse('no PKCS#11 PIN: give --pkcs11-pin-file FILE (library: "pin"), pin-source in the URI, or CERTBOUND_PKCS11_PIN');
  return { value: pin, origin: 'CERTBOUND_PKCS11_PIN' };
}

/** A PIN file's content without the newline an editor or `echo` ends it with. */
export async function readPinFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FileProblem(path, `cannot read the PKCS#11 PIN file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const pin = text.replace(/\r?\n$/, '');
  if (pin === '') throw new FileProblem(path, 'the PKCS#11 PIN file is empty');
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
  pkcs11js: Pkcs11js,
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
