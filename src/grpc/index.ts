/**
 * certbound/grpc: the server interceptor and the call credentials. Only @grpc/grpc-js is needed
 * here; the echo server behind `certbound grpc-server` is the CLI's.
 */
export { createServerInterceptor, verifiedTokenOf } from './server-interceptor.js';
export type { CallEvent, ServerInterceptorOptions } from './server-interceptor.js';
export { createCallCredentials, createStsCredentials } from './call-credentials.js';
export { mtlsChannelCredentials } from './channel-credentials.js';
export type { StsCredentials, StsCredentialsOptions } from './call-credentials.js';
export { ERROR_CODE_TRAILER } from './status.js';
