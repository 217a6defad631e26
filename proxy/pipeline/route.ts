// Maps a request to a revision (DESIGN.md §2 "Routing a request to a revision"): the Knative
// headers Kourier sets win; otherwise the Host header against each revision's hosts.

import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../errors.ts';
import type { RevisionRuntime, RevisionTable } from '../endpoints/revision-table.ts';
import { hostName, isDns1123Label } from './validate.ts';

export function routeRequest(req: IncomingMessage, table: RevisionTable): RevisionRuntime {
  const ns = req.headers['knative-serving-namespace'];
  const name = req.headers['knative-serving-revision'];
  if (ns !== undefined || name !== undefined) {
    if (typeof ns !== 'string' || typeof name !== 'string') {
      throw new ProxyError('bad_request', 'send both Knative-Serving-Namespace and Knative-Serving-Revision, or neither');
    }
    if (!isDns1123Label(ns) || !isDns1123Label(name)) {
      throw new ProxyError('bad_request', 'Knative revision names must be DNS-1123 labels');
    }
    const rt = table.byName(ns, name);
    if (!rt) throw new ProxyError('no_route', `no revision ${ns}/${name}`);
    return rt;
  }
  const host = hostName(req.headers.host);
  const rt = host === undefined ? undefined : table.byHost(host);
  if (!rt) throw new ProxyError('no_route', `no revision serves host ${host ?? '(none)'}`);
  return rt;
}
