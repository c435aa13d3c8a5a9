/**
 * certbound/grpc: the server interceptor, the call credentials, and Envoy's external
 * authorization service. Only @grpc/grpc-js is needed to load it; createEnvoyAuthorizationService
 * also needs @grpc/proto-loader (loaded when first called). The echo server behind
 * `certbound grpc-server` is the CLI's.
 */
export { createServerInterceptor, verifiedTokenOf } from './server-interceptor.js';
export type { CallEvent, ServerInterceptorOptions } from './server-interceptor.js';
export { createCallCredentials, createStsCredentials } from './call-credentials.js';
export { mtlsChannelCredentials } from './channel-credentials.js';
export type { StsCredentials, StsCredentialsOptions } from './call-credentials.js';
export type { RotatingClient } from './rotating-client.js';
export { ERROR_CODE_TRAILER } from './status.js';
export { createEnvoyAuthorizationService } from './ext-authz.js';
export type { EnvoyAuthorizationOptions, EnvoyAuthorizationService } from './ext-authz.js';
