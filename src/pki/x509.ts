// @peculiar/x509 needs reflect-metadata (tsyringe) and a WebCrypto provider before first use;
// every module that uses it imports it from here so the setup happens exactly once.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
