import { Transform } from 'node:stream';

/**
 * Docker's multiplexed log stream (a container without a TTY): frames of an 8-byte header (stream type: 1
 * stdout, 2 stderr; 3 bytes of padding; a 32-bit big-endian length) followed by that many bytes. Returns a
 * function to feed it chunks as they come (frames may be split anywhere); each frame's payload goes to
 * `onFrame` with its stream. A stream that does not start like a frame (a TTY container's raw output) is
 * handed on as stdout unchanged.
 */
export function createDemuxer(onFrame: (payload: Buffer, stream: 'stdout' | 'stderr') => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let raw = false;
  return (chunk) => {
    if (raw) {
      onFrame(chunk, 'stdout');
      return;
    }
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const type = pending[0];
      if ((type !== 1 && type !== 2 && type !== 0) || pending[1] !== 0 || pending[2] !== 0 || pending[3] !== 0) {
        raw = true;
        onFrame(pending, 'stdout');
        pending = Buffer.alloc(0);
        return;
      }
      const length = pending.readUInt32BE(4);
      if (pending.length < 8 + length) return;
      onFrame(pending.subarray(8, 8 + length), type === 2 ? 'stderr' : 'stdout');
      pending = pending.subarray(8 + length);
    }
  };
}

/**
 * The same as a stream transform: the engine's log stream in, the lines' bytes out, at the reader's pace (in
 * a pipeline, a reader that does not keep up pauses the engine's stream, and so the engine itself).
 */
export function demuxTransform(): Transform {
  let push: (chunk: Buffer) => void = () => undefined;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      push(chunk);
      done();
    },
  });
  push = createDemuxer((payload) => transform.push(payload));
  return transform;
}
