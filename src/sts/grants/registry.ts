import { PolicyError } from '../../config/policy.js';
import { type Policy } from '../../core/policy/types.js';
import type { TokenRequestParameters } from '../../core/token-request.js';
import type { Grant } from './grant.js';
import { checkParameters } from './parameters.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { tokenExchangeGrant } from './token-exchange.js';

/** The grant types this STS serves: the one list, used for routing, metadata and policy checks. */
export const GRANTS: ReadonlyMap<string, Grant> = new Map(
  [tokenExchangeGrant, clientCredentialsGrant].map((grant) => [grant.grantType, grant]),
);

/** For each grant, the parameters only other grants declare: sent to it, they are refused. */
const FOREIGN_PARAMETERS = new Map(
  [...GRANTS.values()].map((grant) => [
    grant,
    new Set([...GRANTS.values()].filter((other) => other !== grant).flatMap((other) => Object.keys(other.parameters))),
  ]),
);

/**
 * The request's parameters once they satisfy the grant's declared rules.
 * @throws CertboundError for a missing, repeated, malformed or foreign parameter.
 */
export function grantParameters(grant: Grant, parameters: TokenRequestParameters): TokenRequestParameters {
  checkParameters(grant.grantType, grant.parameters, FOREIGN_PARAMETERS.get(grant) ?? new Set(), parameters);
  return parameters;
}

/**
 * Every client must be registered only for grant types the STS serves (an empty list is allowed:
 * such a client is known but may use no grant).
 * @throws PolicyError naming the path of the first unknown grant type.
 */
export function checkRegisteredGrantTypes(policy: Policy, prefix = 'policy'): void {
  policy.clients.forEach((client, i) => {
    client.grantTypes.forEach((grantType, j) => {
      if (!GRANTS.has(grantType)) {
        throw new PolicyError(
          `${prefix}.clients[${i}].grant_types[${j}]`,
          `unknown grant type (supported: ${[...GRANTS.keys()].join(', ')})`,
        );
      }
    });
  });
}
