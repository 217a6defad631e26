// A self-signed serving certificate made at start-up. client-node 2.x refuses a plain-http server
// unless TLS checks are off, and kubectl sends no bearer token over http, so the fake serves TLS;
// the certificate is its own CA and goes into the kubeconfig as `certificate-authority-data`, so
// clients verify it normally instead of skipping verification.

import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface ServingCert {
  cert: string;
  key: string;
}

/** P-256 keeps generation to a few milliseconds; valid one year from now for `hosts`. */
export async function makeServingCert(hosts: readonly string[]): Promise<ServingCert> {
  const names = [...new Set(['localhost', '127.0.0.1', ...hosts])];
  const altNames = names.map((h) => (isIP(h) ? { type: 7 as const, ip: h } : { type: 2 as const, value: h }));
  const notBeforeDate = new Date(Date.now() - 60_000);
  const pems = await generate([{ name: 'commonName', value: 'ikukantai-fake-apiserver' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
