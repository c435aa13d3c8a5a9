// certbound with oauth4webapi (v3): discovery, client_credentials, token exchange and
// introspection, every request over mutual TLS. Run against `certbound sts --config certs/sts.yaml`.
import { readFileSync } from 'node:fs';
import * as oauth from 'oauth4webapi';
import { Agent, fetch } from 'undici';

const certs = process.env.CERTS ?? 'certs';
const issuer = new URL(process.env.CERTBOUND_ISSUER ?? 'https://sts.domain.com:8081');
const api = 'https://server.domain.com:8443';
const read = (name: string): string => readFileSync(`${certs}/${name}`, 'utf8');

/** Request options that present one client's certificate on every connection (RFC 8705 §2). */
function mtls(name: string): { [oauth.customFetch]: (url: string, options: RequestInit) => Promise<Response> } {
  const agent = new Agent({ connect: { ca: read('ca.crt'), cert: read(`${name}.crt`), key: read(`${name}.key`) } });
  return {
    [oauth.customFetch]: (url, options) => fetch(url, { ...(options as object), dispatcher: agent }) as unknown as Promise<Response>,
  };
}

// RFC 8414 discovery (algorithm 'oauth2': certbound is not an OpenID provider).
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...mtls('alice') }));

// tls_client_auth: the certificate authenticates, client_id names the registration.
const alice: oauth.Client = { client_id: 'alice', use_mtls_endpoint_aliases: true };
const resource: oauth.Client = { client_id: 'resource', use_mtls_endpoint_aliases: true };
const clientAuth = oauth.TlsClientAuth();

// client_credentials: a token for alice herself, bound to her certificate.
const own = await oauth.processClientCredentialsResponse(
  as,
  alice,
  await oauth.clientCredentialsGrantRequest(as, alice, clientAuth, { audience: api, scope: 'read' }, mtls('alice')),
);

// RFC 8693 token exchange.
const exchanged = await oauth.processGenericTokenEndpointResponse(
  as,
  alice,
  await oauth.genericTokenEndpointRequest(
    as,
    alice,
    clientAuth,
    'urn:ietf:params:oauth:grant-type:token-exchange',
    {
      subject_token: 'iamtheeggman',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: api,
    },
    mtls('alice'),
  ),
);

// RFC 7662 introspection, by the resource server with its own certificate.
const introspection = await oauth.processIntrospectionResponse(
  as,
  resource,
  await oauth.introspectionRequest(as, resource, clientAuth, exchanged.access_token, mtls('server')),
);

console.log(
  JSON.stringify({
    client_credentials: { token_type: own.token_type, scope: own.scope },
    token_exchange: { issued_token_type: exchanged.issued_token_type, expires_in: exchanged.expires_in },
    introspection: { active: introspection.active, sub: introspection.sub, cnf: introspection.cnf },
  }),
);
