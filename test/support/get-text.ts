// One GET with a Host header, read whole: what the cluster tests send at a node's ingress to see
// which pod answered.
import { request } from 'undici';

export async function getText(url: string, host: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text() };
}
