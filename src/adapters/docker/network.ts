import { dockerStatus } from './errors.js';
import { firstHost, type EngineConnection } from './connection.js';

/** What the containers' network is: its id (what containers are attached by), gateway and subnets. */
export interface NetworkInfo {
  readonly id: string;
  readonly gateway: string | undefined;
  readonly subnets: readonly string[];
}

export interface NetworkOptions {
  /** SD_NETWORK: made by the server when missing; `bridge` is Docker's default bridge. */
  readonly name: string;
  readonly instance: string;
  /**
   * `bridge` (a single engine: inter-container traffic off), or `overlay` (a swarm: attachable, spanning its
   * nodes; Docker's overlay driver has no such switch, so its containers can reach each other).
   */
  readonly driver?: 'bridge' | 'overlay';
  /** Told once when the named network lets containers reach each other (one made by hand, or `bridge`). */
  readonly onOpen?: (name: string) => void;
}

interface EngineNetwork {
  Id: string;
  Name: string;
  Created?: string;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] | null };
}

export const NETWORK_LABEL = 'io.spin-docker.network';
/** Docker's bridge driver option: whether containers on the bridge may reach each other. */
const ICC = 'com.docker.network.bridge.enable_icc';

const info = (network: EngineNetwork): NetworkInfo => {
  const configs = network.IPAM?.Config ?? [];
  const ipv4 = configs.find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
  return {
    id: network.Id,
    gateway: ipv4?.Gateway ?? (ipv4?.Subnet === undefined ? undefined : firstHost(ipv4.Subnet)),
    subnets: configs.flatMap((c) => (c.Subnet === undefined ? [] : [c.Subnet])),
  };
};

/**
 * The network every managed container is attached to: a bridge of the installation's own, made when missing,
 * with inter-container traffic off, so that a container cannot reach another's ports except through the ports
 * published on the host (and the API, at the gateway, for its check-ins). Several processes may make it at
 * once: each then keeps the oldest of the same name (its id, not its name, is what containers are attached by)
 * and removes the others, so all agree.
 */
export class DockerNetwork {
  private known: Promise<NetworkInfo> | undefined;

  constructor(
    private readonly engine: EngineConnection,
    private readonly options: NetworkOptions,
  ) {}

  /** The network, made if missing; asked of the engine once per process (again after a failure). */
  ensure(): Promise<NetworkInfo> {
    this.known ??= this.find().catch((error: unknown) => {
      this.known = undefined;
      throw error;
    });
    return this.known;
  }

  private async find(): Promise<NetworkInfo> {
    const { name } = this.options;
    if (name === 'bridge') {
      const bridge = await this.inspect('bridge');
      this.options.onOpen?.(name);
      return info(bridge);
    }
    let same = await this.named();
    if (same.length === 0) {
      await this.engine
        .call('create the network', (abortSignal) =>
          this.engine.docker.createNetwork({
            Name: name,
            CheckDuplicate: true,
            ...(this.options.driver === 'overlay' ? { Driver: 'overlay', Attachable: true } : { Driver: 'bridge', Options: { [ICC]: 'false' } }),
            Labels: { [NETWORK_LABEL]: 'true' },
            abortSignal,
          } as never),
        )
        .catch((error: unknown) => {
          // Another process made it first.
          if (dockerStatus(error) !== 409) throw error;
        });
      same = await this.named();
    }
    const [kept, ...others] = same;
    if (kept === undefined) throw new Error(`network ${name} could not be made`);
    for (const other of others.filter((n) => n.Labels?.[NETWORK_LABEL] === 'true')) {
      await this.engine.call('remove the network', (abortSignal) => this.engine.docker.getNetwork(other.Id).remove({ abortSignal })).catch(() => undefined);
    }
    const full = await this.inspect(kept.Id);
    if (full.Options?.[ICC] !== 'false' || this.options.driver === 'overlay') this.options.onOpen?.(name);
    return info(full);
  }

  /** The networks of exactly this name, oldest first. */
  private async named(): Promise<EngineNetwork[]> {
    const { name } = this.options;
    const all = (await this.engine.call(
      'list networks',
      (abortSignal) => this.engine.docker.listNetworks({ filters: { name: [name] }, abortSignal } as never) as unknown as Promise<EngineNetwork[]>,
    )) as EngineNetwork[];
    return all.filter((n) => n.Name === name).sort((a, b) => Date.parse(a.Created ?? '') - Date.parse(b.Created ?? '') || a.Id.localeCompare(b.Id));
  }

  private inspect(idOrName: string): Promise<EngineNetwork> {
    return this.engine.call('inspect the network', (abortSignal) => this.engine.get<EngineNetwork>(`/networks/${idOrName}`, 'network', abortSignal));
  }
}
