import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';

/**
 * `count` different loopback ports that were free a moment ago: for servers that must be told
 * their port up front (a documented example's, Caddy's), or for a port nothing listens on. All
 * are held open until every one is picked, so no two are the same.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer().listen(0, '127.0.0.1');
      servers.push(server);
      await once(server, 'listening');
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}
