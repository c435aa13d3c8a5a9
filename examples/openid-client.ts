// certbound with openid-client (v6): discovery, client_credentials, token exchange and
// introspection, every request over mutual TLS. Run against `certbound sts --config certs/sts.yaml`.
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { Agent, fetch } from 'undici';

const certs = process.env.CERTS ?? 'certs';
const issuer = new URL(process.env.CERTBOUND_ISSUER ?? 'https://sts.domain.com:8081');
const api = 'https://server.domain.com:8443';
const read = (name: string): string => readFileSync(`${certs}/${name}`, 'utf8');

/** A fetch that presents one client's certificate on every connection (RFC 8705 §2). */
function mtlsFetch(name: string): client.CustomFetch {
  const agent = new Agent({ connect: { ca: read('ca.crt'), cert: read(`${name}.crt`), key: read(`${name}.key`) } });
  return (url, options) => fetch(url, { ...options, dispatcher: agent }) as unknown as Promise<Response>;
}

// certbound publishes RFC 8414 metadata, not an OpenID Connect document: use algorithm 'oauth2'.
// TlsClientAuth sends client_id, which the STS checks against the certificate.
const discover = (clientId: string, certificate: string): Promise<client.Configuration> =>
  client.discovery(issuer, clientId, { use_mtls_endpoint_aliases: true }, client.TlsClientAuth(), {
    algorithm: 'oauth2',
    [client.customFetch]: mtlsFetch(certificate),
  });

const alice = await discover('alice', 'alice');

// client_credentials: a token for alice herself, bound to her certificate.
const own = await client.clientCredentialsGrant(alice, { audience: api, scope: 'read' });

// RFC 8693 token exchange: alice's subject token for a token bound to her certificate.
const exchanged = await client.genericGrantRequest(alice, 'urn:ietf:params:oauth:grant-type:token-exchange', {
  subject_token: 'iamtheeggman',
  subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  audience: api,
});

// RFC 7662 introspection, by the resource server with its own certificate.
const resource = await discover('resource', 'server');
const introspection = await client.tokenIntrospection(resource, exchanged.access_token);

console.log(
  JSON.stringify({
    client_credentials: { token_type: own.token_type, scope: own.scope },
    token_exchange: { issued_token_type: exchanged.issued_token_type, expires_in: exchanged.expires_in },
    introspection: { active: introspection.active, sub: introspection.sub, cnf: introspection.cnf },
  }),
);
