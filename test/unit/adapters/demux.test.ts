import { describe, expect, it } from 'vitest';
import { createDemuxer } from '../../../src/adapters/docker/demux.js';

const frame = (type: number, text: string) => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

function collect(chunks: Buffer[]) {
  const out: string[] = [];
  const push = createDemuxer((payload, stream) => out.push(`${stream}:${payload.toString()}`));
  for (const chunk of chunks) push(chunk);
  return out;
}

describe('createDemuxer', () => {
  it('splits stdout and stderr frames, however the chunks are cut', () => {
    const all = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n'), frame(1, 'bye\n')]);
    const expected = ['stdout:hello\n', 'stderr:oops\n', 'stdout:bye\n'];
    expect(collect([all])).toEqual(expected);
    // One byte at a time: a header or a payload split anywhere.
    expect(collect([...all].map((b) => Buffer.from([b]))).join('')).toBe(expected.join(''));
    expect(collect([all.subarray(0, 5), all.subarray(5, 17), all.subarray(17)])).toEqual(expected);
  });

  it('hands on a stream that is not multiplexed (a TTY container) as it is', () => {
    expect(collect([Buffer.from('plain output\n'), Buffer.from('more')])).toEqual(['stdout:plain output\n', 'stdout:more']);
  });
});
