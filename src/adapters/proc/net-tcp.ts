/**
 * Reading a network namespace's TCP sockets as the kernel lists them in /proc/<pid>/net/tcp and tcp6:
 *
 *   sl  local_address rem_address   st tx_queue rx_queue ...
 *    0: 0100007F:0050 0100007F:D2B4 01 00000000:00000000 ...
 *
 * Addresses are hex in the kernel's byte order per 32-bit word (little-endian on x86 and arm64), ports are
 * hex, `st` is the TCP state (01 = ESTABLISHED, 0A = LISTEN).
 */

export interface TcpSocket {
  readonly localPort: number;
  /** The peer as text: dotted IPv4 (also for IPv4-mapped IPv6), or IPv6 in eight hex groups. */
  readonly remoteAddress: string;
  readonly established: boolean;
}

const ESTABLISHED = '01';
const LINE = /^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})(?:\s|$)/;

/** Every socket line of a tcp or tcp6 table; the header and any malformed line are skipped. */
export function parseTcpTable(text: string): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (match === null) continue;
    const [, , localPort, remote, , state] = match as unknown as [string, string, string, string, string, string];
    const remoteAddress = hexAddress(remote);
    if (remoteAddress === undefined) continue;
    sockets.push({ localPort: Number.parseInt(localPort, 16), remoteAddress, established: state.toUpperCase() === ESTABLISHED });
  }
  return sockets;
}

/** '0100007F' → '127.0.0.1'; 32 hex digits → IPv6 (an IPv4-mapped one as dotted IPv4). */
function hexAddress(hex: string): string | undefined {
  if (hex.length === 8) return wordToIPv4(hex);
  if (hex.length !== 32) return undefined;
  const words = [0, 8, 16, 24].map((i) => hex.slice(i, i + 8));
  const bytes = words.flatMap((word) => littleEndianBytes(word));
  const isMapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

function littleEndianBytes(word: string): number[] {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(word.slice(i, i + 2), 16));
  return bytes.reverse();
}

function wordToIPv4(word: string): string {
  return littleEndianBytes(word).join('.');
}

/** Loopback as seen from inside the container: 127.0.0.0/8 and ::1. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '0:0:0:0:0:0:0:1';
}

/**
 * The connections that count as someone using the container: ESTABLISHED, on one of its exposed ports, from a
 * peer that is not the container's own loopback (its own health checks and helpers do not count).
 */
export function countClientConnections(sockets: readonly TcpSocket[], ports: ReadonlySet<number>): number {
  return Object.values(connectionsByPort(sockets, ports)).reduce((sum, n) => sum + n, 0);
}

/** The same, by local port (ports without a connection are left out). */
export function connectionsByPort(sockets: readonly TcpSocket[], ports: ReadonlySet<number>): Record<number, number> {
  const byPort: Record<number, number> = {};
  for (const socket of sockets) {
    if (socket.established && ports.has(socket.localPort) && !isLoopback(socket.remoteAddress)) byPort[socket.localPort] = (byPort[socket.localPort] ?? 0) + 1;
  }
  return byPort;
}

/**
 * Bytes received and sent by a network namespace's interfaces but loopback, from /proc/<pid>/net/dev:
 *   Inter-|   Receive                                                |  Transmit
 *    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets ...
 *     eth0:   11828      97    0    0    0     0          0         0     5420      52 ...
 */
export function interfaceBytes(text: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^\s*([^:\s]+):\s*(\d+)(?:\s+\d+){7}\s+(\d+)/.exec(line);
    if (match === null || match[1] === 'lo') continue;
    total += Number(match[2]) + Number(match[3]);
  }
  return total;
}
