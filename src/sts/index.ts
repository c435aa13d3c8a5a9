export { createStsServer, createStsHandler, STS_DEFAULTS } from './server.js';
export type { StsOptions, StsEvent } from './server.js';
export { loadStsConfig } from './config.js';
export type { StsConfigOverrides } from './config.js';
export type { Grant, GrantContext, TokenResponse } from './grants/grant.js';
export type { ManagedServer } from '../server/https-server.js';
export type { ServerTlsOptions } from '../server/tls.js';
