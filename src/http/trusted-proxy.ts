import { BlockList, isIP } from 'node:net';
import * as v from 'valibot';
import { optionsObject, parseOptions } from '../core/schema.js';
import { DEFAULTS } from '../defaults.js';

/**
 * How a TLS-terminating proxy forwards the client certificate:
 * - `rfc9440`: RFC 9440 `Client-Cert`, a structured-field byte sequence of the DER;
 * - `xfcc`: Envoy's `x-forwarded-client-cert` (`Hash=` and/or `Cert=` elements);
 * - `pem-urlencoded`: a URL-encoded PEM, such as nginx's `$ssl_client_escaped_cert`;
 * - `traefik`: Traefik's `PassTLSClientCert` (`pem: true`) `X-Forwarded-Tls-Client-Cert`: the
 *   base64 DER of each certificate of the chain, leaf first, joined by `,` (URL-escaped by Traefik v2).
 */
export type ForwardedCertificateFormat = 'rfc9440' | 'xfcc' | 'pem-urlencoded' | 'traefik';

export const DEFAULT_CERTIFICATE_HEADERS: Readonly<Record<ForwardedCertificateFormat, string>> = {
  rfc9440: 'client-cert',
  xfcc: 'x-forwarded-client-cert',
  'pem-urlencoded': 'x-ssl-client-cert',
  traefik: 'x-forwarded-tls-client-cert',
};

export interface TrustedProxyOptions {
  /**
   * Addresses (`10.0.0.7`, `::1`) or CIDR blocks (`10.0.0.0/8`) of the proxies that terminate
   * TLS. Only a request whose TCP peer is one of these may carry the certificate in a header.
   * `unix` trusts the peers of a Unix socket (the socket file's mode decides who they are).
   */
  addresses: readonly string[];
  format: ForwardedCertificateFormat;
  /** Header carrying the certificate (default by format: client-cert, x-forwarded-client-cert, x-ssl-client-cert). */
  header?: string;
  /**
   * XFCC only: how many trusted proxies appended an element (default 1). Each proxy appends one
   * element about its own downstream peer, so the client's is this many elements from the end;
   * earlier elements came from outside and are never used.
   */
  xfccHops?: number;
}

export interface ResolvedTrustedProxy {
  isTrusted(address: string | undefined): boolean;
  format: ForwardedCertificateFormat;
  header: string;
  xfccHops: number;
}

/** The `addresses` entry that trusts every peer of a Unix socket (whose file mode is then the boundary). */
export const UNIX_PEERS = 'unix';

const FORMATS = Object.keys(DEFAULT_CERTIFICATE_HEADERS) as [ForwardedCertificateFormat, ...ForwardedCertificateFormat[]];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const POSITIVE = 'must be a positive integer';

/** `10.0.0.7`, `::1` or a CIDR block `10.0.0.0/8`, as [address, prefix bits, family], or undefined. */
function readBlock(entry: unknown): [string, number | undefined, 'ipv4' | 'ipv6'] | undefined {
  if (typeof entry !== 'string') return undefined;
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return undefined;
  if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 6 ? 128 : 32))) return undefined;
  return [address, prefix === undefined ? undefined : Number(prefix), family === 6 ? 'ipv6' : 'ipv4'];
}

const TRUSTED_PROXY_OPTIONS = optionsObject(
  {
    format: v.picklist(FORMATS, `must be one of ${FORMATS.join(', ')}`),
    addresses: v.pipe(
      v.array(v.unknown(), 'must list at least one address or CIDR'),
      v.minLength(1, 'must list at least one address or CIDR'),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const blocks = new BlockList();
        let unixPeers = false;
        for (const entry of dataset.value) {
          if (entry === UNIX_PEERS) {
            unixPeers = true;
            continue;
          }
          const block = readBlock(entry);
          if (block === undefined) {
            addIssue({ message: `: ${JSON.stringify(entry)} is not an IP address, CIDR block or "unix"` });
            return NEVER;
          }
          const [address, bits, type] = block;
          if (bits === undefined) blocks.addAddress(address, type);
          else blocks.addSubnet(address, bits, type);
        }
        return { blocks, unixPeers };
      }),
    ),
    header: v.optional(
      v.custom<string>(
        (header) => typeof header === 'string' && HEADER_NAME.test(header),
        (issue) => `: ${JSON.stringify(issue.input)} is not a header name`,
      ),
    ),
    xfccHops: v.optional(v.pipe(v.number(POSITIVE), v.integer(POSITIVE), v.minValue(1, POSITIVE)), DEFAULTS.verification.xfccHops),
  },
  '"trustedProxy" must be an object',
);

/**
 * Validate trusted-proxy options once, at construction.
 * @throws ConfigError naming the bad option.
 */
export function resolveTrustedProxyOptions(options: TrustedProxyOptions): ResolvedTrustedProxy {
  const { format, addresses, header, xfccHops } = parseOptions(TRUSTED_PROXY_OPTIONS, options, 'trustedProxy');
  const { blocks, unixPeers } = addresses;
  return {
    isTrusted(address) {
      // A peer on a Unix socket has no address: the socket file's permissions chose it.
      if (address === undefined) return unixPeers;
      // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
      const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
      if (v4 !== undefined) return blocks.check(v4, 'ipv4');
      const family = isIP(address);
      return family !== 0 && blocks.check(address, family === 6 ? 'ipv6' : 'ipv4');
    },
    format,
    header: (header ?? DEFAULT_CERTIFICATE_HEADERS[format]).toLowerCase(),
    xfccHops,
  };
}
