// The controller's view of the cluster, from client-node informers that restart themselves
// (proxy/endpoints/informer.ts): Knative Revisions and Seikas everywhere, and Nodes when the API
// lets us read them. Scaling never awaits the API: the loop reads the latest caches, which keep the
// last good state through an outage. Known nodes = Kubernetes Nodes (if readable) + nodes seen in
// stats reports + nodes already in a Seika; this module supplies the first part.

import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
} from '@kubernetes/client-node';
import type { Logger } from '../lib/log.ts';
import { RestartingInformer } from '../proxy/endpoints/informer.ts';
import { scaleTargets, type RevisionWithAnnotations, type ScaleTarget, type SeikaLike } from './scale-targets.ts';

export const SEIKA = { group: 'batch.bonavadeur.io', version: 'v1', plural: 'seikas' } as const;
const REVISIONS = { group: 'serving.knative.dev', version: 'v1', plural: 'revisions' } as const;

type RevisionObject = KubernetesObject & RevisionWithAnnotations;
type SeikaObject = KubernetesObject & SeikaLike;

export interface RevisionWatcherOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
}

export class RevisionWatcher {
  readonly #logger: Logger;
  readonly #core: CoreV1Api;
  readonly #kubeConfig: KubeConfig;
  readonly #revisions: RestartingInformer<RevisionObject>;
  readonly #seikas: RestartingInformer<SeikaObject>;
  #nodes: RestartingInformer<V1Node> | undefined;
  #synced = false;
  #closed = false;

  constructor({ kubeConfig, logger }: RevisionWatcherOptions) {
    this.#logger = logger;
    this.#kubeConfig = kubeConfig;
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const listAll = <T extends KubernetesObject>(r: { group: string; version: string; plural: string }) => () =>
      custom.listClusterCustomObject(r) as Promise<KubernetesListObject<T>>;
    // The loop ticks every second and reads the caches then; changes need no callback.
    const onChange = (): void => {};
    this.#revisions = new RestartingInformer<RevisionObject>({
      kubeConfig,
      path: `/apis/${REVISIONS.group}/${REVISIONS.version}/${REVISIONS.plural}`,
      list: listAll<RevisionObject>(REVISIONS),
      name: 'revisions',
      logger,
      onChange,
    });
    this.#seikas = new RestartingInformer<SeikaObject>({
      kubeConfig,
      path: `/apis/${SEIKA.group}/${SEIKA.version}/${SEIKA.plural}`,
      list: listAll<SeikaObject>(SEIKA),
      name: 'seikas',
      logger,
      onChange,
    });
  }

  /** Resolves once Revisions and Seikas have listed (Nodes are best effort). */
  async start(): Promise<void> {
    await Promise.all([this.#revisions.start(), this.#seikas.start(), this.#startNodes()]);
    this.#synced = !this.#closed;
  }

  synced(): boolean {
    return this.#synced;
  }

  targets(): ScaleTarget[] {
    return scaleTargets(this.#revisions.list(), this.#seikas.list());
  }

  /** Node names from the Kubernetes Nodes list, when readable. */
  nodes(): string[] {
    return (this.#nodes?.list() ?? []).flatMap((n) => (n.metadata?.name ? [n.metadata.name] : []));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#revisions.close(), this.#seikas.close(), this.#nodes?.close()]);
  }

  // Reading Nodes needs a ClusterRole some installs won't grant; one list decides whether to watch.
  async #startNodes(): Promise<void> {
    try {
      await this.#core.listNode({ limit: 1 });
    } catch (err) {
      this.#logger.info('nodes_unreadable', { msg: `known nodes come from stats and Seikas only: ${(err as Error).message}` });
      return;
    }
    if (this.#closed) return;
    this.#nodes = new RestartingInformer<V1Node>({
      kubeConfig: this.#kubeConfig,
      path: '/api/v1/nodes',
      list: () => this.#core.listNode(),
      name: 'nodes',
      logger: this.#logger,
      onChange: () => {},
    });
    await this.#nodes.start();
  }
}
