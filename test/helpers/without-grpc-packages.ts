// Loaded with `node --import`: a machine on which the optional gRPC packages were never installed.
// Resolving any of them fails as Node's own resolver fails for a missing package; the real
// install without them is checked by scripts/check-package.mjs.
import { register } from 'node:module';

const hooks = `export async function resolve(specifier, context, next) {
  if (/^(@grpc\\/|grpc-health-check$)/.test(specifier)) {
    const error = new Error("Cannot find package '" + specifier + "'");
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
