import { PolicyError } from '../../config/policy.js';
import { type Policy } from '../../core/policy/types.js';
import type { Grant } from './grant.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { tokenExchangeGrant } from './token-exchange.js';

/** The grant types this STS serves: the one list, used for routing, metadata and policy checks. */
export const GRANTS: ReadonlyMap<string, Grant> = new Map([tokenExchangeGrant, clientCredentialsGrant].map((grant) => [grant.grantType, grant]));

/**
 * Every client must be registered only for grant types the STS serves (an empty list is allowed:
 * such a client is known but may use no grant).
 * @throws PolicyError naming the path of the first unknown grant type.
 */
export function checkRegisteredGrantTypes(policy: Policy, prefix = 'policy'): void {
  policy.clients.forEach((client, i) => {
    client.grantTypes.forEach((grantType, j) => {
      if (!GRANTS.has(grantType)) {
        throw new PolicyError(`${prefix}.clients[${i}].grant_types[${j}]`, `unknown grant type (supported: ${[...GRANTS.keys()].join(', ')})`);
      }
    });
  });
}
