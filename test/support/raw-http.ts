// Sends exact bytes on a TCP socket and reads until the server closes (or a deadline), for tests of
// framing rules that no well-behaved client library would produce.

import { connect } from 'node:net';

export interface RawResult {
  text: string;
  status: number;
  closed: boolean;
}

export function rawRequest(host: string, port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : 0, closed });
    };
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => {
      closed = true;
    });
    socket.on('close', done);
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) done();
      else reject(err);
    });
    socket.write(bytes);
  });
}
