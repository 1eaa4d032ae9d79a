import { describe, expect, it } from 'vitest';
import { CONTAINER_STATUSES, appPort, planStatusChange, sshPort } from '../../../src/domain/containers/record.js';

describe('ports', () => {
  it('maps 22/tcp to ssh_port and the lowest other TCP port to app_port', () => {
    const ports = { '8080/tcp': '32001', '22/tcp': '32000', '443/tcp': '32002', '53/udp': '32003' };
    expect(sshPort(ports)).toBe('32000');
    expect(appPort(ports)).toBe('32002');
  });

  it('answers blank when there is no such port', () => {
    expect(sshPort({})).toBe('');
    expect(appPort({ '22/tcp': '1', '53/udp': '2' })).toBe('');
  });
});

describe('planStatusChange', () => {
  const table: Record<string, Record<'running' | 'stopped', string>> = {
    running: { running: 'unchanged', stopped: 'stop' },
    stopped: { running: 'start', stopped: 'unchanged' },
    stopping: { running: 'refuse', stopped: 'unchanged' },
    deleting: { running: 'refuse', stopped: 'refuse' },
  };

  for (const status of CONTAINER_STATUSES) {
    for (const wanted of ['running', 'stopped'] as const) {
      it(`${status} + ${wanted} → ${table[status]?.[wanted]}`, () => {
        expect(planStatusChange(status, wanted).kind).toBe(table[status]?.[wanted]);
      });
    }
  }
});
