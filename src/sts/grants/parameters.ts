import { CertboundError } from '../../core/errors.js';
import { ISSUABLE_TOKEN_TYPES } from '../../core/rfc.js';
import type { TokenRequestParameters } from '../../core/token-request.js';

/** How a grant takes one of its request parameters. */
export interface ParameterRule {
  /** `required`: exactly once and not empty; `optional`: at most once; `repeatable`: any number of times. */
  occurs: 'required' | 'optional' | 'repeatable';
  /** Sent together with this other parameter or not at all (actor_token and actor_token_type). */
  with?: string;
  /** Checks each value sent; throws the refusal the request deserves. */
  check?: (value: string) => void;
}

/** A grant's parameters, in the order they are checked (besides grant_type and client_id). */
export type ParameterRules = Readonly<Record<string, ParameterRule>>;

/** Every request names these, whatever its grant; the token endpoint reads them itself. */
export const COMMON_PARAMETERS: ReadonlySet<string> = new Set(['grant_type', 'client_id']);

/**
 * Check a request's parameters against its grant's rules. A parameter that belongs to another
 * grant is refused (it shows the client confused the two); one no grant knows is ignored, as
 * RFC 6749 §3.1 requires of unrecognized parameters.
 * @param others the parameters every other grant declares.
 * @throws CertboundError CB_REQUEST_INVALID, or the refusal a rule's check throws.
 */
export function checkParameters(
  grantType: string,
  rules: ParameterRules,
  others: ReadonlySet<string>,
  parameters: TokenRequestParameters,
): void {
  for (const name of parameters.names()) {
    if (!(name in rules) && !COMMON_PARAMETERS.has(name) && others.has(name)) {
      throw new CertboundError('CB_REQUEST_INVALID', {
        description: `${name} does not belong in a ${grantType} request`,
        reason: 'malformed',
      });
    }
  }
  for (const [name, rule] of Object.entries(rules)) {
    const present = rule.occurs === 'required' || parameters.has(name) || (rule.with !== undefined && parameters.has(rule.with));
    if (!present) continue;
    const values =
      rule.occurs === 'repeatable'
        ? parameters.list(name)
        : rule.occurs === 'required' || rule.with !== undefined
          ? [parameters.required(name)]
          : [parameters.optional(name)];
    for (const value of values) if (value !== undefined) rule.check?.(value);
  }
}

/** requested_token_type must be a type this STS issues at all (RFC 8693 §2.1), before any token is read. */
export function requireIssuableTokenType(value: string): void {
  if (!(ISSUABLE_TOKEN_TYPES as readonly string[]).includes(value)) {
    throw new CertboundError('CB_TOKEN_TYPE_UNSUPPORTED', {
      description: `requested_token_type must be one of ${ISSUABLE_TOKEN_TYPES.join(', ')}`,
      reason: 'not_allowed',
    });
  }
}

/** RFC 8707 §2: a resource is an absolute URI without a fragment. */
export function requireResourceUri(value: string): void {
  if (!URL.canParse(value) || value.includes('#')) {
    throw new CertboundError('CB_REQUEST_INVALID', {
      description: `resource must be an absolute URI without a fragment: ${value}`,
      reason: 'malformed',
    });
  }
}

/** audience values and resource URIs together name where the token may be used (RFC 8693 §2.1). */
export function targetsOf(parameters: TokenRequestParameters, fallback: readonly string[] = []): string[] {
  const targets = [...parameters.list('audience'), ...parameters.list('resource')];
  if (targets.length === 0 && fallback.length === 1) return [...fallback];
  if (targets.length === 0)
    throw new CertboundError('CB_REQUEST_INVALID', { description: 'audience or resource is required', reason: 'malformed' });
  return targets;
}

/** The parameters both grants that issue access tokens take the same way. */
export const TARGET_PARAMETERS: ParameterRules = {
  requested_token_type: { occurs: 'optional', check: requireIssuableTokenType },
  audience: { occurs: 'repeatable' },
  resource: { occurs: 'repeatable', check: requireResourceUri },
  scope: { occurs: 'optional' },
};
