// certbound/grpc: the server interceptor, the token it leaves on the call, call credentials,
// Envoy's Check service.
import { Client, Server, type CallCredentials, type ChannelCredentials, type ServerUnaryCall } from '@grpc/grpc-js';
import type { BoundTokenVerifier, VerifiedToken } from 'certbound';
import type { ClientIdentity, TokenSource } from 'certbound/client';
import {
  createCallCredentials,
  createServerInterceptor,
  createEnvoyAuthorizationService,
  createStsCredentials,
  verifiedTokenOf,
  ERROR_CODE_TRAILER,
  type EnvoyAuthorizationOptions,
  type EnvoyAuthorizationService,
  type RotatingClient,
  type StsCredentials,
} from 'certbound/grpc';
import { expectType, type Equal } from './assert.js';

declare const verifier: BoundTokenVerifier;
declare const tokens: TokenSource;

const interceptor = createServerInterceptor({
  verifier,
  exempt: ['/grpc.health.v1.Health/Check'],
  requiredScopes: { '/orders.Orders/Create': ['write'] },
  onEvent: (event) => void (event.type === 'call.refused' ? `${event.error.code} ${event.method} ${event.peer}` : event.token.subject),
});
const server = new Server({ interceptors: [interceptor] });
void server;

declare const call: ServerUnaryCall<unknown, unknown>;
const token = verifiedTokenOf(call);
expectType<Equal<typeof token, VerifiedToken | undefined>>();

// @ts-expect-error per-method scopes are a map from method path to scopes
createServerInterceptor({ verifier, requiredScopes: ['write'] });
// @ts-expect-error `exemptMethods` is not an option (it is exempt)
createServerInterceptor({ verifier, exemptMethods: [] });

const callCredentials: CallCredentials = createCallCredentials(tokens);
void callCredentials;
const credentials = createStsCredentials({ stsUrl: 'https://sts.example/token', tls: { cert: '', key: '' }, subjectToken: 'x' });
expectType<Equal<typeof credentials, StsCredentials>>();
expectType<Equal<typeof credentials.channelCredentials, ChannelCredentials>>();
// @ts-expect-error gRPC needs the certificate itself (the channel's TLS), not an undici agent
createStsCredentials({ stsUrl: 'https://sts.example/token', subjectToken: 'x', agent: {} });
// Following a rotation: credentials per identity snapshot, clients rebuilt on a change.
declare const identity: ClientIdentity;
const following = createStsCredentials({ stsUrl: 'https://sts.example', identity, subjectToken: 'x', audience: 'a' });
const rotating: RotatingClient<Client> = following.createClient((channel) => new Client('localhost:50051', channel));
expectType<Equal<ReturnType<typeof rotating.current>, Client>>();
expectType<Equal<ReturnType<typeof following.channelCredentialsFor>, ChannelCredentials>>();
const pinned: CallCredentials = createCallCredentials(tokens, identity.current());
void pinned;
expectType<Equal<typeof ERROR_CODE_TRAILER, 'certbound-error-code'>>();

// Envoy's Check service: the gateway's options; what grpc.Server#addService takes.
const envoy = createEnvoyAuthorizationService({
  verifier,
  rules: ['GET /orders/ read'],
  defaultRule: 'read',
  realm: 'orders',
  onEvent: (event) => void (event.type === 'authz.refused' ? event.error.code : event.token.subject),
});
expectType<Equal<typeof envoy, EnvoyAuthorizationService>>();
server.addService(envoy.definition, envoy.implementation);
const envoyOptions: EnvoyAuthorizationOptions = { verifier, rules: ['* / '] };
void envoyOptions;
// @ts-expect-error the rules are required: no rule would mean no access
createEnvoyAuthorizationService({ verifier });
