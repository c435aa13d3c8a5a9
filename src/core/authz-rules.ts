import { misuse } from './config-error.js';
import { CertboundError } from './errors.js';
import { requireScopes, type VerifiedToken } from './verify.js';

/**
 * One gateway rule (`certbound authz`, issue 16): requests with this method (or any, `*`) whose
 * path starts with `pathPrefix` need a bound token with these scopes. No rule: no access.
 */
export interface AuthzRule {
  method: string;
  pathPrefix: string;
  scopes: readonly string[];
}

const METHOD = /^(?:\*|[A-Z]+)$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Read a rule as written on the command line: `METHOD PREFIX [SCOPE ...]`, for example
 * `GET /orders/ read`. The prefix is an absolute path; `*` matches every method.
 * @throws ConfigError saying what is wrong with it.
 */
export function parseAuthzRule(text: string): AuthzRule {
  const [method = '', pathPrefix = '', ...scopes] = text.trim().split(/\s+/);
  if (!METHOD.test(method)) throw misuse(`rule "${text}": the method must be an HTTP method in capitals, or *`);
  if (!pathPrefix.startsWith('/') || unsafePath(pathPrefix))
    throw misuse(`rule "${text}": the path prefix must be an absolute, plain path`);
  for (const scope of scopes) if (!SCOPE.test(scope)) throw misuse(`rule "${text}": "${scope}" is not a scope token (RFC 6749 §3.3)`);
  return { method, pathPrefix, scopes };
}

/**
 * The rule for a request: among the rules for its method (or `*`), the one with the longest
 * matching prefix. A path the upstream could read differently from how it is matched here (dot
 * segments, encoded slashes or dots, backslashes) matches nothing.
 */
export function matchAuthzRule(rules: readonly AuthzRule[], method: string, target: string): AuthzRule | undefined {
  const path = target.split('?', 1)[0] as string;
  if (!path.startsWith('/') || unsafePath(path)) return undefined;
  let best: AuthzRule | undefined;
  for (const rule of rules) {
    if (rule.method !== '*' && rule.method !== method) continue;
    if (!path.startsWith(rule.pathPrefix)) continue;
    if (best === undefined || rule.pathPrefix.length > best.pathPrefix.length) best = rule;
  }
  return best;
}

/** Dot segments, percent-encoded `.` `/` `\` or `%` itself, backslashes, control characters. */
function unsafePath(path: string): boolean {
  if (/(?:^|\/)\.{1,2}(?:\/|$)|%(?:2e|2f|5c|25)|\\/i.test(path)) return true;
  for (let index = 0; index < path.length; index++) {
    const code = path.charCodeAt(index);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Decide a verified token's request: the matching rule's scopes must all be in the token.
 * @throws CertboundError CB_ACCESS_DENIED (403) when no rule matches, CB_SCOPE_INSUFFICIENT when a scope is missing.
 */
export function authorizeByRules(rules: readonly AuthzRule[], method: string, target: string, token: VerifiedToken): AuthzRule {
  const rule = matchAuthzRule(rules, method, target);
  if (rule === undefined) {
    throw new CertboundError('CB_ACCESS_DENIED', {
      description: `no rule allows ${method} ${target.split('?', 1)[0] ?? ''}`,
      reason: 'not_allowed',
    });
  }
  requireScopes(token, rule.scopes);
  return rule;
}
