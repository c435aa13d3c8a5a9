import type * as Pkcs11Module from 'pkcs11js';
import { misuse } from '../core/config-error.js';
import { FileProblem } from '../files/read.js';

export type Pkcs11js = typeof Pkcs11Module;

/**
 * One loaded, initialised module per path, shared by every key that uses it: PKCS#11 state is
 * per process, so a second C_Initialize fails and one C_Finalize would end every session,
 * OpenSSL's pkcs11 engine's included (it loads the same module into the same process).
 */
const modules = new Map<string, { p11: Pkcs11Module.PKCS11; users: number; finalize: boolean; generation: number }>();
const keptForEngine = new Set<string>();

/** The pkcs11 engine uses this module too: never finalise it under the engine's sessions. */
export function keepModuleLoaded(path: string): void {
  keptForEngine.add(path);
}

export function acquireModule(path: string, pkcs11js: Pkcs11js): Pkcs11Module.PKCS11 {
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
    entry = { p11, users: 0, finalize, generation: 0 };
    modules.set(path, entry);
  }
  entry.users++;
  return entry.p11;
}

export const moduleGeneration = (path: string): number => modules.get(path)?.generation ?? 0;

/**
 * C_Finalize and C_Initialize again: a module whose device went away (a TPM behind a restarted
 * resource manager) keeps failing until its library state is rebuilt. Every session of the
 * module ends; each key notices by the generation and opens a new one.
 */
export function reinitializeModule(path: string, pkcs11js: Pkcs11js): void {
  const entry = modules.get(path);
  if (entry === undefined || !entry.finalize || keptForEngine.has(path)) return;
  entry.generation++;
  try {
    entry.p11.C_Finalize();
  } catch {
    // Already broken; initialising again is what matters.
  }
  try {
    entry.p11.C_Initialize();
  } catch (error) {
    if ((error as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error;
  }
}

export function releaseModule(path: string): void {
  const entry = modules.get(path);
  if (entry === undefined || --entry.users > 0 || keptForEngine.has(path)) return;
  modules.delete(path);
  try {
    if (entry.finalize) entry.p11.C_Finalize();
  } catch {
    // Left uninitialised by a start afresh that failed: nothing to finalise.
  }
  entry.p11.close();
}

export async function loadBinding(): Promise<Pkcs11js> {
  try {
    return ((await import('pkcs11js')) as { default: Pkcs11js }).default;
  } catch {
    throw misuse('keys in PKCS#11 tokens need the optional package pkcs11js: npm install pkcs11js');
  }
}
