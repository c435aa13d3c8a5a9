import { misuse } from './config-error.js';
import { CertboundError } from './errors.js';
import { requireScopes, type VerifiedToken } from './verify.js';

/**
 * One gateway rule (`certbound authz`): requests with this method (or any, `*`) whose path starts
 * with `pathPrefix` need a bound token with all these scopes and, when audiences are listed, one
 * of them in its `aud`. No rule: no access (unless the gateway has a default rule).
 */
export interface AuthzRule {
  method: string;
  pathPrefix: string;
  scopes: readonly string[];
  audiences: readonly string[];
}

const METHOD = /^(?:\*|[A-Z]+)$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Read a rule as written on the command line: `METHOD PREFIX [SCOPE ...] [aud=AUDIENCE ...]`,
 * for example `GET /orders/ read aud=https://orders.example`. The prefix is an absolute path;
 * `*` matches every method.
 * @throws ConfigError saying what is wrong with it.
 */
export function parseAuthzRule(text: string): AuthzRule {
  const [method = '', pathPrefix = '', ...requirements] = text.trim().split(/\s+/);
  if (!METHOD.test(method)) throw misuse(`rule "${text}": the method must be an HTTP method in capitals, or *`);
  if (!pathPrefix.startsWith('/') || unsafePath(pathPrefix))
    throw misuse(`rule "${text}": the path prefix must be an absolute, plain path`);
  return { method, pathPrefix, ...parseRequirements(requirements, `rule "${text}"`) };
}

/**
 * The rule for a request no other rule matches, written as its requirements alone:
 * `[SCOPE ...] [aud=AUDIENCE ...]` (empty: any valid bound token). It matches every method and
 * every plain path, never an unsafe one.
 * @throws ConfigError saying what is wrong with it.
 */
export function parseDefaultAuthzRule(text: string): AuthzRule {
  const words = text.trim() === '' ? [] : text.trim().split(/\s+/);
  return { method: '*', pathPrefix: '/', ...parseRequirements(words, `default rule "${text}"`) };
}

function parseRequirements(words: readonly string[], what: string): Pick<AuthzRule, 'scopes' | 'audiences'> {
  const scopes: string[] = [];
  const audiences: string[] = [];
  for (const word of words) {
    if (word.startsWith('aud=')) {
      const audience = word.slice('aud='.length);
      if (audience === '') throw misuse(`${what}: aud= needs an audience`);
      audiences.push(audience);
    } else if (SCOPE.test(word)) scopes.push(word);
    else throw misuse(`${what}: "${word}" is not a scope token (RFC 6749 §3.3)`);
  }
  return { scopes, audiences };
}

/**
 * The rule for a request: among the rules for its method (or `*`), the one with the longest
 * matching prefix. A path the upstream could read differently from how it is matched here (dot
 * segments, encoded slashes or dots, backslashes) matches nothing.
 */
export function matchAuthzRule(rules: readonly AuthzRule[], method: string, target: string, fallback?: AuthzRule): AuthzRule | undefined {
  const path = target.split('?', 1)[0] as string;
  if (!path.startsWith('/') || unsafePath(path)) return undefined;
  let best: AuthzRule | undefined;
  for (const rule of rules) {
    if (rule.method !== '*' && rule.method !== method) continue;
    if (!path.startsWith(rule.pathPrefix)) continue;
    if (best === undefined || rule.pathPrefix.length > best.pathPrefix.length) best = rule;
  }
  return best ?? fallback;
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
 * Decide a verified token's request: the matching rule's scopes must all be in the token, and
 * one of its audiences (when it lists any) in the token's `aud`.
 * @throws CertboundError CB_ACCESS_DENIED (403) when no rule matches or the audience is not the
 *   rule's, CB_SCOPE_INSUFFICIENT when a scope is missing.
 */
export function authorizeByRules(
  rules: readonly AuthzRule[],
  method: string,
  target: string,
  token: VerifiedToken,
  fallback?: AuthzRule,
): AuthzRule {
  const path = target.split('?', 1)[0] ?? '';
  const rule = matchAuthzRule(rules, method, target, fallback);
  if (rule === undefined) {
    throw new CertboundError('CB_ACCESS_DENIED', { description: `no rule allows ${method} ${path}`, reason: 'not_allowed' });
  }
  requireScopes(token, rule.scopes);
  if (rule.audiences.length > 0) {
    const aud = token.claims.aud;
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!rule.audiences.some((audience) => audiences.includes(audience))) {
      throw new CertboundError('CB_ACCESS_DENIED', {
        description: `the token is not for the audience ${method} ${path} needs`,
        reason: 'not_allowed',
      });
    }
  }
  return rule;
}
