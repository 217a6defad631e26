// V8 flags the proxy process should run with (the DaemonSet's command and the emulated cluster
// pass them; Node reads them only at start, so bin.ts cannot set them itself).
//
// --max-semi-space-size=1: a proxy allocates short-lived buffers for every chunk it relays. With
// V8's default young generation (16 MiB semi-spaces) 100 MB flowing each way left 24–47 MiB of
// garbage resident between scavenges; with 1 MiB it stayed at 13–17 MiB growth, inside DESIGN.md's
// "< 32 MiB while 100 MB flows each way" (test/integration/proxy/streaming.test.ts). The price is
// more frequent, cheaper scavenges: nothing survives them, so each costs little.
export const PROXY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
