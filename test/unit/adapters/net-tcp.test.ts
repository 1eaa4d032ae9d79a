import { describe, expect, it } from 'vitest';
import { countClientConnections, parseTcpTable } from '../../../src/adapters/proc/net-tcp.js';

// Lines as the kernel writes them (x86_64: each 32-bit word of an address in little-endian byte order).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 020011AC:0050 010011AC:D2B4 01 00000000:00000000 02:000AA3F8 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   3: 020011AC:0016 010011AC:E000 06 00000000:00000000 03:00000A3F 00000000     0        0 0 3 0
   4: 020011AC:1F90 010011AC:E001 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
   5: garbage that is not a socket line
   6: 020011AC:0050 0A0011AC:C350 01
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0 100 0 0 10 0
   1: 0000000000000000FFFF0000020011AC:0016 0000000000000000FFFF0000010011AC:C001 01 00000000:00000000 02:00000000 00000000     0        0 6 1 0 20 4 30 10 -1
   2: 00000000000000000000000001000000:0016 00000000000000000000000001000000:C002 01 00000000:00000000 00:00000000 00000000     0        0 7 1 0 20 4 30 10 -1
   3: B80D0120000000000000000001000000:0016 B80D0120000000000000000002000000:C003 01 00000000:00000000 00:00000000 00000000     0        0 8 1 0 20 4 30 10 -1
   4: 0000000000000000FFFF0000020011AC:0016 0000000000000000FFFF00000100007F:C004 01 00000000:00000000 00:00000000 00000000     0        0 9 1 0 20 4 30 10 -1
`;

describe('parseTcpTable', () => {
  it("reads ports in hex, peers in the kernel's byte order, and the state", () => {
    const sockets = parseTcpTable(TCP);
    expect(sockets[0]).toEqual({ localPort: 80, remoteAddress: '0.0.0.0', established: false });
    expect(sockets[1]).toEqual({ localPort: 80, remoteAddress: '172.17.0.1', established: true });
    expect(sockets[2]).toEqual({ localPort: 80, remoteAddress: '127.0.0.1', established: true });
    expect(sockets[3]).toMatchObject({ localPort: 22, established: false }); // TIME_WAIT
    expect(sockets[4]).toMatchObject({ localPort: 8080, established: true });
  });

  it('skips the header and malformed lines', () => {
    expect(parseTcpTable(TCP)).toHaveLength(6);
    expect(parseTcpTable('')).toEqual([]);
    expect(parseTcpTable('not a table at all\n\n')).toEqual([]);
  });

  it('reads IPv6 peers, IPv4-mapped ones as dotted IPv4', () => {
    const sockets = parseTcpTable(TCP6);
    expect(sockets.map((s) => s.remoteAddress)).toEqual(['0:0:0:0:0:0:0:0', '172.17.0.1', '0:0:0:0:0:0:0:1', '2001:db8:0:0:0:0:0:2', '127.0.0.1']);
    expect(sockets.every((s) => s.localPort === 22)).toBe(true);
  });
});

describe('countClientConnections', () => {
  it("counts established connections on exposed ports from peers that are not the container's loopback", () => {
    const sockets = [...parseTcpTable(TCP), ...parseTcpTable(TCP6)];
    // tcp: 172.17.0.1 → 80 and 172.17.0.10 → 80 count; loopback, TIME_WAIT, LISTEN and port 8080 do not.
    expect(countClientConnections(sockets, new Set([80]))).toBe(2);
    // tcp6: the mapped 172.17.0.1 and 2001:db8::2 → 22 count; ::1 and mapped 127.0.0.1 do not.
    expect(countClientConnections(sockets, new Set([22]))).toBe(2);
    expect(countClientConnections(sockets, new Set([80, 22, 8080]))).toBe(5);
    expect(countClientConnections(sockets, new Set())).toBe(0);
  });
});
