/** The spawner protocol reader: messages and raw output payloads, however the pipe splits them into reads. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpawnerReader } from '../../src/runtime/process/spawner-reader.js';

const hx = (v: string | number): string => Buffer.from(String(v)).toString('hex');

void describe('SpawnerReader', () => {
  void it('hands on lines and O payloads (with newlines and any bytes) for every split of the stream', () => {
    const payload1 = Buffer.from('a\nb\r\n\u00e9 O 1 2\n');
    const payload2 = Buffer.from([0, 10, 255, 32, 10]);
    const stream = Buffer.concat([
      Buffer.from(`S ${hx(1)} ${hx(42)}\n`),
      Buffer.from(`O ${hx(1)} ${hx(1)} ${hx(payload1.length)}\n`),
      payload1,
      Buffer.from(`O ${hx(1)} ${hx(2)} ${hx(payload2.length)}\n`),
      payload2,
      Buffer.from(`C ${hx(1)} ${hx(0)} -\n`),
    ]);
    const expected = [
      ['msg', `S ${hx(1)} ${hx(42)}`],
      ['out', '1', payload1.toString('latin1')],
      ['out', '2', payload2.toString('latin1')],
      ['msg', `C ${hx(1)} ${hx(0)} -`],
    ];
    for (let a = 0; a <= stream.length; a++) {
      for (const b of [a, Math.min(stream.length, a + 1), Math.min(stream.length, a + 7)]) {
        const got: unknown[] = [];
        const r = new SpawnerReader(
          (f) => got.push(['msg', f.join(' ')]),
          (f, d) => got.push(['out', Buffer.from(f[2]!, 'hex').toString(), d.toString('latin1')]),
        );
        r.push(stream.subarray(0, a));
        r.push(stream.subarray(a, b));
        r.push(stream.subarray(b));
        assert.deepEqual(got, expected, `split at ${a}/${b}`);
      }
    }
  });
});
