// Only @grpc/grpc-js is needed here. The echo server behind `certbound grpc-server` also needs
// @grpc/proto-loader, @grpc/reflection and grpc-health-check, so it is not exported from this path.
export { createServerInterceptor, verifiedTokenOf, HEALTH_SERVICE } from './server-interceptor.js';
export type { ServerInterceptorOptions } from './server-interceptor.js';
export { createCallCredentials, createStsCredentials } from './call-credentials.js';
export type { StsCredentials, StsCredentialsOptions } from './call-credentials.js';
export { statusFor, callCredentialsError, ERROR_CODE_TRAILER } from './status.js';
export { peerThumbprintOf } from './peer-certificate.js';
