import { readConfirmation } from './confirmation.js';
import { CertboundError } from './errors.js';
import { thumbprintsEqual } from './thumbprint.js';

/** Who presents a subject or actor token, and what its registration allows. */
export interface BindingContext {
  /** x5t#S256 of the presenting client's certificate. */
  presented: string;
  /** The client may exchange tokens bound to other certificates (exchange_bound_tokens). */
  exchangeBoundTokens: boolean;
  /** The token's subject and role (`subject_token`, `actor_token`), for the error descriptions. */
  subject: string;
  role: string;
}

/**
 * A bound subject or actor token keeps its binding through the exchange: it is exchanged only by
 * the holder of the certificate it is bound to, or by a client allowed to exchange others' bound
 * tokens. A binding certbound cannot check (DPoP's jkt, a raw key) is refused: exchanging it would
 * turn a token only its key holder can use into one the presenter can.
 * @returns whether the token is bound to another certificate (allowed for this client).
 * @throws CertboundError CB_SUBJECT_TOKEN_CNF_MISMATCH or CB_SUBJECT_TOKEN_CNF_UNSUPPORTED
 */
export function checkSubjectTokenBinding(cnf: unknown, { presented, exchangeBoundTokens, subject, role }: BindingContext): boolean {
  const confirmation = readConfirmation(cnf);
  const unsupported = (why: string): CertboundError =>
    new CertboundError('CB_SUBJECT_TOKEN_CNF_UNSUPPORTED', {
      description: `${role} ${why}`,
      detail: `subject=${subject}`,
      reason: 'not_allowed',
    });
  switch (confirmation.kind) {
    case 'none':
      return false;
    case 'malformed':
      throw unsupported(
        confirmation.member === 'cnf'
          ? 'has a cnf claim that is not a JSON object'
          : 'has a cnf x5t#S256 that is not a certificate thumbprint',
      );
    case 'other':
      throw unsupported(
        `is bound by a confirmation method this STS cannot check (cnf ${namesOf(confirmation.methods) || 'without members'})`,
      );
    case 'certificate': {
      if (confirmation.otherMethods.length > 0)
        throw unsupported(`is bound by a confirmation method this STS cannot check (cnf ${namesOf(confirmation.otherMethods)})`);
      if (thumbprintsEqual(confirmation.thumbprint, presented)) return false;
      if (exchangeBoundTokens) return true;
      throw new CertboundError('CB_SUBJECT_TOKEN_CNF_MISMATCH', {
        description: `${role} is bound to a different client certificate`,
        detail: `subject=${subject} bound to x5t#S256=${confirmation.thumbprint}, presented by x5t#S256=${presented}`,
        reason: 'mismatch',
      });
    }
  }
}

/** A few member names, shortened: they come from the token and end up in a description. */
function namesOf(members: readonly string[]): string {
  return (
    members
      .slice(0, 3)
      .map((name) => name.slice(0, 32))
      .join(', ') + (members.length > 3 ? ', ...' : '')
  );
}
