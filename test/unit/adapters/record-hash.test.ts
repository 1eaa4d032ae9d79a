import { describe, expect, it } from 'vitest';
import { readRecord, readRecordPairs, recordFields } from '../../../src/adapters/redis/record-hash.js';
import type { ContainerRecord } from '../../../src/domain/containers/record.js';

const record: ContainerRecord = {
  id: 'a'.repeat(64),
  name: '/spin_1',
  image: 'spin-docker/demo',
  status: 'stopped',
  wakeOnConnect: true,
  active: 2,
  ports: { '22/tcp': '20001', '80/tcp': '20002' },
  ip: '172.18.0.5',
  node: 'node-2',
  startCount: 3,
  checkinAt: 1_700_000_000_000,
  createdAt: 1_699_000_000_000,
  nextCheckAt: null,
  strikes: 1,
  tokenHash: 'f'.repeat(64),
  pid: 4242,
  connections: 0,
  observedAt: 1_700_000_100_000,
  sshKeys: ['SHA256:abc'],
  stopAt: 1_700_000_200_000,
  deleteAt: null,
  extendedUntil: 1_700_000_300_000,
  warnedFor: null,
  stopReason: 'idle: no connection for 30 min',
  stoppedAt: 1_700_000_400_000,
  netBytes: 123_456,
  trafficAt: 1_700_000_500_000,
  connectedPorts: ['22', '80'],
};

const asHash = (fields: readonly string[]) => {
  const hash: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) hash[fields[i] as string] = fields[i + 1] as string;
  return hash;
};

/** A record as the first release wrote it: none of the fields added since. */
const firstRelease = {
  container_id: 'b'.repeat(64),
  name: '/old',
  image: 'spin-docker/demo',
  status: 'running',
  active: '0',
  ports: '{"80/tcp":"32768"}',
  ip: '172.17.0.2',
  run: '1',
  checkin_at: '',
  created_at: '1600000000000',
  next_check_at: '1600000600000',
  strikes: '0',
};

describe('a record in its Redis hash', () => {
  it('reads back as it was written, every field', () => {
    expect(readRecord(asHash(recordFields(record)))).toEqual(record);
    expect(readRecordPairs(recordFields(record))).toEqual(record);
  });

  it('reads a record of the first release with the later fields as not known', () => {
    expect(readRecord(firstRelease)).toMatchObject({
      id: 'b'.repeat(64),
      status: 'running',
      startCount: 1,
      checkinAt: null,
      nextCheckAt: 1_600_000_600_000,
      tokenHash: '',
      pid: 0,
      connections: null,
      sshKeys: [],
      wakeOnConnect: false,
      stopAt: null,
      stopReason: null,
      connectedPorts: [],
      node: '',
    });
  });

  const broken: [string, Record<string, string>][] = [
    ['a missing field', (({ strikes: _, ...rest }) => rest)(firstRelease)],
    ['an unknown status', { ...firstRelease, status: 'paused' }],
    ['a number that is not one', { ...firstRelease, active: 'many' }],
    ['an optional time that is not a number', { ...firstRelease, checkin_at: 'yesterday' }],
    ['ports that are not JSON', { ...firstRelease, ports: '{80/tcp' }],
  ];
  for (const [what, hash] of broken) {
    it(`is the server's fault (corrupt_record), not the client's, with ${what}`, () => {
      expect(() => readRecord(hash)).toThrow(expect.objectContaining({ kind: 'internal', code: 'corrupt_record' }));
    });
  }
});
