import { CNF_X5T_S256 } from './rfc.js';
import { isWellFormedThumbprint } from './thumbprint.js';

/**
 * What a token's `cnf` claim (RFC 7800 §3.1) confirms, as far as certbound can check it. The one
 * place a cnf claim is read: by the resource verifier and by the STS for bound subject tokens.
 */
export type Confirmation =
  /** No cnf claim: a bearer token. */
  | { kind: 'none' }
  /** cnf is not a JSON object, or its x5t#S256 is not a thumbprint as RFC 8705 §3.1 writes one. */
  | { kind: 'malformed'; member: 'cnf' | typeof CNF_X5T_S256 }
  /** Bound to a certificate (RFC 8705 §3.1); `otherMethods` are further members beside it. */
  | { kind: 'certificate'; thumbprint: string; otherMethods: string[] }
  /** Bound by methods certbound cannot check (jkt of RFC 9449 DPoP, jwk, jku, kid), or none at all. */
  | { kind: 'other'; methods: string[] };

export function readConfirmation(cnf: unknown): Confirmation {
  if (cnf === undefined) return { kind: 'none' };
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return { kind: 'malformed', member: 'cnf' };
  const methods = Object.keys(cnf);
  const thumbprint = (cnf as Record<string, unknown>)[CNF_X5T_S256];
  if (thumbprint === undefined) return { kind: 'other', methods };
  if (!isWellFormedThumbprint(thumbprint)) return { kind: 'malformed', member: CNF_X5T_S256 };
  return { kind: 'certificate', thumbprint, otherMethods: methods.filter((method) => method !== CNF_X5T_S256) };
}
