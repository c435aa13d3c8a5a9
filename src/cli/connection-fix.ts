import type { ConnectionFailure } from '../client/connection-failure.js';

/** The flags a command connects with: what the fix for a failed connection names. */
export interface ConnectionFlags {
  /** The CA bundle the server is checked against (`--tls-ca`). */
  ca: string;
  /** The client certificate presented (`--tls-cert`). */
  cert: string;
  /** The name the server's certificate is checked against (`--servername`, `--sts-servername`). */
  servername: string;
}

/** What to do about a failed connection, naming the command's own flags. */
export function connectionFix(failure: ConnectionFailure, flags: ConnectionFlags): string {
  switch (failure.kind) {
    case 'untrusted-certificate':
      return `give the CA that issued it with ${flags.ca}`;
    case 'expired-certificate':
      return "renew the server's certificate, or check this machine's clock";
    case 'name-mismatch':
      return `use a URL with one of those names, or give the name to check with ${flags.servername} NAME`;
    case 'closed-in-handshake':
    case 'closed-before-answer':
      return `check that ${flags.cert} is issued by a CA the server trusts, and that the URL is the server's`;
    case 'not-tls':
      return "check the URL's port: it is not the server's TLS port";
    case 'connection-refused':
      return "check that the server runs and that the URL's port is the one it listens on";
    case 'unknown-host':
      return "check the URL's host name";
    case 'timeout':
      return 'check the address, and that no firewall drops the connection';
  }
}
