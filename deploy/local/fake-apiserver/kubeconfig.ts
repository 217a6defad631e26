// The kubeconfig a client (client-node, kubectl, our proxy and controller) needs to reach the fake
// API server: its https URL, its certificate as the trusted CA, and the bearer token.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigInput {
  server: string;
  caPem: string;
  token: string;
  namespace?: string;
}

export function kubeconfigYaml({ server, caPem, token, namespace = 'default' }: KubeconfigInput): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'fake', user: { token } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace } }],
    'current-context': 'fake',
    preferences: {},
  });
}

/** Writes the kubeconfig with mode 0600 (it holds the token). */
export async function writeKubeconfig(path: string, input: KubeconfigInput): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, kubeconfigYaml(input), { mode: 0o600 });
}
