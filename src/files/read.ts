import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export { FileProblem } from '../core/config-error.js';
import { FileProblem } from '../core/config-error.js';

export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : `cannot read (${code ?? 'error'})`;
    throw new FileProblem(path, `${what}: ${why}`);
  }
}

/** Every certificate in a PEM file, parsed by node:crypto. */
export async function readCertificates(path: string, what: string): Promise<{ pem: string; certificates: X509Certificate[] }> {
  const pem = await readText(path, what);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new FileProblem(path, `${what}: no PEM certificate found`);
  const certificates = blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new FileProblem(path, `${what}: certificate cannot be parsed`);
    }
  });
  return { pem, certificates };
}

export async function readPrivateKey(path: string, what: string): Promise<{ pem: string; key: KeyObject }> {
  const pem = await readText(path, what);
  try {
    return { pem, key: createPrivateKey(pem) };
  } catch {
    throw new FileProblem(path, `${what}: not a readable unencrypted private key (PEM)`);
  }
}
