import type { AddressInfo, Server as NetServer } from 'node:net';

/** Listen on host:port and resolve to the https:// URL actually bound (IPv6 bracketed). */
export function listenOn(server: NetServer, port: number, host: string): Promise<URL> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(new URL(`https://${hostPart}:${address.port}`));
    });
  });
}
